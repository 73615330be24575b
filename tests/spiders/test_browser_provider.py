"""The one hook harvest puts into scrapy-playwright: its browser provider.

harvest uses scrapy-playwright's stock download handler through public settings
only; PLAYWRIGHT_BROWSER_PROVIDER names harvest's provider, which starts the
Playwright driver on the first page that needs it. These tests hold
scrapy-playwright to what harvest relies on, so that an upgrade that changes
it fails here rather than in a crawl: the handler builds the provider from the
setting, awaits its start() when the engine starts, and asks it for a browser
(under its own lock) only when a page is wanted, however many at once.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import scrapy_playwright
from scrapy_playwright.provider import BrowserProvider, PlaywrightBrowserProvider

from harvest.spiders.browser import LazyBrowserProvider

ROOT = Path(__file__).resolve().parents[2]


def test_the_provider_keeps_the_interface_the_handler_calls() -> None:
    assert issubclass(LazyBrowserProvider, PlaywrightBrowserProvider)
    assert isinstance(LazyBrowserProvider.__new__(LazyBrowserProvider), BrowserProvider)
    for name in ("start", "launch_browser", "launch_persistent_context", "close"):
        assert inspect.iscoroutinefunction(getattr(PlaywrightBrowserProvider, name)), name
    # harvest knows the driver has started by the stock provider's browser_type
    source = inspect.getsource(PlaywrightBrowserProvider.start)
    assert "self.browser_type" in source


def test_the_pinned_version_is_the_one_installed() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    requirements = (ROOT / "requirements.txt").read_text()
    assert f"scrapy-playwright=={scrapy_playwright.__version__}" in requirements
    assert f'"scrapy-playwright=={scrapy_playwright.__version__}"' in pyproject


@pytest.mark.parametrize("pages", [1, 16, 32])
def test_many_pages_at_once_start_one_driver_and_all_load(pages: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.spiders.playwright_contract", str(pages)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {
        "provider": "LazyBrowserProvider",
        "driver_starts_at_engine_start": 0,
        "driver_starts": 1,
        "ok": pages,
        "errors": [],
    }, result
