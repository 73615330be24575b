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
from pathlib import Path

import pytest
import scrapy_playwright
from scrapy_playwright.provider import BrowserProvider, PlaywrightBrowserProvider

from harvest.crawl.browser import LazyBrowserProvider
from tests.child import json_from

ROOT = Path(__file__).resolve().parents[2]


def test_the_provider_keeps_the_interface_the_handler_calls() -> None:
    assert issubclass(LazyBrowserProvider, PlaywrightBrowserProvider)
    assert isinstance(LazyBrowserProvider.__new__(LazyBrowserProvider), BrowserProvider)
    for name in ("start", "launch_browser", "launch_persistent_context", "close"):
        assert inspect.iscoroutinefunction(getattr(PlaywrightBrowserProvider, name)), name
    # start() takes no argument beyond self: the lazy provider calls it itself
    assert list(inspect.signature(PlaywrightBrowserProvider.start).parameters) == ["self"]


def test_the_pinned_version_is_the_one_installed() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    requirements = (ROOT / "requirements.txt").read_text()
    assert f"scrapy-playwright=={scrapy_playwright.__version__}" in requirements
    assert f'"scrapy-playwright=={scrapy_playwright.__version__}"' in pyproject


@pytest.mark.slow
@pytest.mark.parametrize("pages", [1, 16, 32])
def test_many_pages_at_once_start_one_driver_and_all_load(pages: int) -> None:
    result = json_from("tests.crawl.playwright_contract", str(pages), timeout=180)
    assert result == {
        "provider": "LazyBrowserProvider",
        "driver_starts_at_engine_start": 0,
        "driver_starts": 1,
        "ok": pages,
        "errors": [],
    }, result
