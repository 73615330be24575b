"""The browser for listing pages: scrapy-playwright, set up once and checked.

Playwright's own Chromium is used when it is installed; otherwise the
system's (Debian's ``chromium``), since ``playwright install`` cannot always
download. Images, fonts and media are never fetched: harvest needs the DOM.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
from dataclasses import dataclass
from typing import Any

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from harvest.setting_values import whole_number

# Flags that let Chromium run as root in a container and keep it from
# phoning home (its background requests would fail on a closed network).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_ABORTED_TYPES = frozenset({"image", "font", "media", "stylesheet"})
_SYSTEM_CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def should_abort(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: skip what a link harvester never looks at."""
    return bool(request.resource_type in _ABORTED_TYPES)


def playwright_chromium_installed() -> bool:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or os.path.expanduser(
        "~/.cache/ms-playwright"
    )
    return bool(glob.glob(os.path.join(root, "chromium-*")))


def system_chromium() -> str | None:
    for name in _SYSTEM_CHROMIUM:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class BrowserConfig:
    enabled: bool
    executable: str | None
    max_contexts: int
    max_pages: int
    navigation_timeout_ms: int
    scroll_pause_ms: int

    @classmethod
    def from_settings(cls, settings: Any) -> BrowserConfig:
        enabled = bool(settings.getbool("HARVEST_BROWSER", True))
        executable = settings.get("HARVEST_CHROMIUM") or None
        if enabled and executable is None and not playwright_chromium_installed():
            executable = system_chromium()
            if executable is None:
                raise BrowserError(
                    "no Chromium: install Debian's chromium (apt-get install -y chromium), "
                    "run `playwright install chromium`, or set HARVEST_BROWSER=0"
                )
        return cls(
            enabled=enabled,
            executable=executable,
            max_contexts=whole_number(settings, "HARVEST_BROWSER_CONTEXTS", 2, 1, BrowserError),
            max_pages=whole_number(settings, "HARVEST_BROWSER_PAGES", 4, 1, BrowserError),
            navigation_timeout_ms=whole_number(
                settings, "HARVEST_BROWSER_TIMEOUT_MS", 30_000, 0, BrowserError
            ),
            scroll_pause_ms=whole_number(settings, "HARVEST_SCROLL_PAUSE_MS", 400, 0, BrowserError),
        )

    def scrapy_settings(self) -> dict[str, Any]:
        """The scrapy-playwright settings this configuration stands for."""
        if not self.enabled:
            return {}
        launch: dict[str, Any] = {"headless": True, "args": list(CHROMIUM_ARGS)}
        if self.executable:
            launch["executable_path"] = self.executable
        handler = "harvest.spiders.browser.LazyPlaywrightHandler"
        return {
            "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
            "PLAYWRIGHT_MAX_CONTEXTS": self.max_contexts,
            "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": self.max_pages,
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": self.navigation_timeout_ms,
            "PLAYWRIGHT_ABORT_REQUEST": should_abort,
            "PLAYWRIGHT_RESTART_DISCONNECTED_BROWSER": True,
        }


class LazyPlaywrightHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]
    """scrapy-playwright's handler, started on the first browser request.

    The stock handler starts a Playwright driver (a Node.js process of about
    120 MB) when the engine starts, one per URL scheme it is registered for,
    even if the crawl never renders a page. Most harvest crawls fetch only
    articles over plain HTTP, so the driver waits until a request asks for it.
    """

    async def _maybe_launch_in_thread(self) -> None:
        return None

    def _engine_started(self) -> Any:
        return None

    async def _download_request(self, request: Any, spider: Any = None) -> Any:
        if getattr(self, "browser_provider", None) is None:
            lock = self.__dict__.setdefault("_harvest_start_lock", asyncio.Lock())
            async with lock:
                if getattr(self, "browser_provider", None) is None:
                    await self._launch()
        return await super()._download_request(request, spider)
