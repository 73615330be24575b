"""The browser for listing pages: scrapy-playwright, set up once and checked.

Playwright's own Chromium is used when it is installed; otherwise the
system's (Debian's ``chromium``), since ``playwright install`` cannot always
download. Images, fonts and media are never fetched: harvest needs the DOM.

scrapy-playwright's stock download handler does the work, through its public
settings only; harvest plugs in a browser provider
(``PLAYWRIGHT_BROWSER_PROVIDER``) that starts the Playwright driver on the
first page that needs it instead of when the engine starts.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Any

from scrapy_playwright.provider import PlaywrightBrowserProvider

from harvest import config

log = logging.getLogger(__name__)

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


class BrowserError(config.SettingError):
    pass


@dataclass(frozen=True, slots=True)
class BrowserConfig:
    enabled: bool
    executable: str | None
    max_contexts: int
    max_pages: int
    navigation_timeout_ms: int
    scroll_pause_ms: int
    scroll_wait_ms: int = 2_000

    @classmethod
    def from_settings(cls, settings: Any) -> BrowserConfig:
        def get(name: str) -> Any:
            return config.value(settings, name, error=BrowserError)

        enabled = bool(get("HARVEST_BROWSER"))
        executable = get("HARVEST_CHROMIUM") or None
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
            max_contexts=get("HARVEST_BROWSER_CONTEXTS"),
            max_pages=get("HARVEST_BROWSER_PAGES"),
            navigation_timeout_ms=get("HARVEST_BROWSER_TIMEOUT_MS"),
            scroll_pause_ms=get("HARVEST_SCROLL_PAUSE_MS"),
            scroll_wait_ms=get("HARVEST_SCROLL_WAIT_MS"),
        )

    def scrapy_settings(self) -> dict[str, Any]:
        """The scrapy-playwright settings this configuration stands for."""
        if not self.enabled:
            return {}
        launch: dict[str, Any] = {"headless": True, "args": list(CHROMIUM_ARGS)}
        if self.executable:
            launch["executable_path"] = self.executable
        handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
        return {
            "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
            "PLAYWRIGHT_BROWSER_PROVIDER": "harvest.spiders.browser.LazyBrowserProvider",
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
            "PLAYWRIGHT_MAX_CONTEXTS": self.max_contexts,
            "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": self.max_pages,
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": self.navigation_timeout_ms,
            "PLAYWRIGHT_ABORT_REQUEST": should_abort,
            "PLAYWRIGHT_RESTART_DISCONNECTED_BROWSER": True,
        }


class LazyBrowserProvider(PlaywrightBrowserProvider):  # type: ignore[misc]
    """scrapy-playwright's default provider, with the driver started on first use.

    The stock provider starts a Playwright driver (a Node.js process of about
    120 MB) when the engine starts, for each URL scheme the handler serves, even
    if the crawl never renders a page; most harvest crawls fetch only articles
    over plain HTTP. Here ``start()`` (awaited at engine start) does nothing, and
    the driver starts once, under a lock, when the first browser or persistent
    context is asked for: however many pages want the browser at once, each
    waits for that one start, and none can reach an unstarted driver.
    """

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        return None

    async def _started(self) -> None:
        async with self._start_lock:
            if self.browser_type is None:
                log.info("starting the Playwright driver for the first browser page")
                await super().start()

    async def launch_browser(self) -> Any:
        await self._started()
        return await super().launch_browser()

    async def launch_persistent_context(self, context_kwargs: dict[str, Any]) -> Any:
        await self._started()
        return await super().launch_persistent_context(context_kwargs)
