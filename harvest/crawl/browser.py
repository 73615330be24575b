"""The browser for listing pages: scrapy-playwright, set up once and checked.

Playwright's own Chromium is used when it is installed; otherwise the
system's (Debian's ``chromium``), since ``playwright install`` cannot always
download. Images, fonts and media are never fetched: harvest needs the DOM.

scrapy-playwright's stock download handler does the work, through its public
settings only; harvest plugs in a browser provider
(``PLAYWRIGHT_BROWSER_PROVIDER``) that starts the Playwright driver on the
first page that needs it instead of when the engine starts.

The browser is a sandbox. Pages run their own script, and a page anyone can
publish must not make the crawler's machine do anything: every request the
browser makes (the page's, its frames', a popup's, a beacon's) goes through
:func:`should_abort`, which allows only what the crawl's offsite rule allows
(:meth:`harvest.medium.urls.MediumUrls.refusal`, the same one the downloader
applies) and aborts and counts the rest; WebSockets are closed before they
connect. The one context of a crawl (``harvest``) takes no downloads, runs no
service workers, grants no permissions and keeps no profile on disk. A page
whose guard could not be set up has every request aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import shutil
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scrapy_playwright.provider import PlaywrightBrowserProvider

from harvest import config
from harvest.crawl.egress import EgressProxy, chromium_switches

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
    "--dns-prefetch-disable",
)
_ABORTED_TYPES = frozenset({"image", "font", "media", "stylesheet"})
_SYSTEM_CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# URLs that load nothing from the network.
_LOCAL_SCHEMES = ("data:", "blob:", "about:")

CONTEXT = "harvest"
CONTEXT_KWARGS: dict[str, Any] = {
    "accept_downloads": False,
    "service_workers": "block",
    "permissions": [],
    "ignore_https_errors": False,
    "bypass_csp": False,
}


class BrowserGuard:
    """The crawl's offsite rule, as the browser asks it (one crawl per process)."""

    def __init__(self) -> None:
        self.refusal: Callable[[str], str | None] | None = None
        self.crawler: Any = None
        self.pages: weakref.WeakSet[Any] = weakref.WeakSet()  # pages whose guard is set up
        self.contexts: weakref.WeakSet[Any] = weakref.WeakSet()

    def configure(self, refusal: Callable[[str], str | None], crawler: Any) -> None:
        self.refusal = refusal
        self.crawler = crawler

    def count(self, reason: str) -> None:
        stats = getattr(self.crawler, "stats", None)
        if stats is not None:
            stats.inc_value(f"harvest/browser/aborted/{reason}")

    def decide(self, url: str) -> str | None:
        """The offsite rule's word on a URL the browser's proxy was asked for."""
        if self.refusal is None:
            return "no crawl to decide"
        return self.refusal(url)

    def refused(self, cause: str) -> None:
        """Count a request the egress proxy refused (harvest.crawl.egress)."""
        stats = getattr(self.crawler, "stats", None)
        if stats is not None:
            stats.inc_value(f"{REFUSED_PREFIX}{cause}")


GUARD = BrowserGuard()
# Requests Chromium sent that its egress proxy refused, by cause.
REFUSED_PREFIX = "harvest/browser/refused/"
# Request meta of a listing loaded again after its script navigated the tab away.
PIN_META = "harvest_pin_listing"


def should_abort(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: what the browser must not fetch.

    Images, fonts, media and stylesheets (a link harvester never looks at
    them), anything the offsite rule refuses, and everything a page asks for
    before (or without) its guard in place.
    """
    if request.resource_type in _ABORTED_TYPES:
        GUARD.count("resource")
        return True
    url = str(request.url)
    try:
        page = request.frame.page
    except Exception:  # a service worker's or the browser's own request
        page = None
    if page is None or page not in GUARD.pages:
        GUARD.count("unguarded")
        log.debug("aborted a browser request of an unguarded page: %s", url[:200])
        return True
    if url.startswith(_LOCAL_SCHEMES):
        return False
    why = GUARD.refusal(url) if GUARD.refusal is not None else "no crawl to decide"
    if why is not None:
        GUARD.count("offsite")
        log.debug("aborted a browser request: %s (%s)", url[:200], why)
        return True
    return False


async def _route(route: Any, request: Any) -> None:
    """The context's own route: it sees what page routes do not (popups)."""
    if should_abort(request):
        await route.abort()
    else:
        await route.fallback()


async def _close_socket(ws: Any) -> None:
    GUARD.count("websocket")
    await ws.close(code=1008, reason="harvest: no WebSockets")


async def init_page(page: Any, request: Any) -> None:
    """playwright_page_init_callback: the guard, on every page before it navigates.

    scrapy-playwright logs what this raises, with a traceback, and lets the page
    navigate anyway: a page whose guard could not be set (the browser died or
    closed its context meanwhile) is closed instead, so that its request fails
    as its browser's does, and the crawl says so in one line."""
    try:
        await _guard(page, request)
    except Exception as exc:  # whatever the browser raised: no page goes unguarded
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("could not guard a browser page for %s, closed it: %s", request.url, reason)
        with contextlib.suppress(Exception):
            await page.close()


async def _guard(page: Any, request: Any) -> None:
    context = page.context
    if context not in GUARD.contexts:
        await context.route("**", _route)
        await context.route_web_socket("**", _close_socket)
        GUARD.contexts.add(context)
    await page.route_web_socket("**", _close_socket)
    page.on("popup", _close_popup)
    if request.meta.get(PIN_META):
        await page.route("**", _pinned(page, request.url))
    GUARD.pages.add(page)


async def _close_popup(popup: Any) -> None:
    # A page's window.open: its requests are refused (it is no guarded page) and
    # it would stay open in the context until the crawl ends.
    GUARD.count("popup")
    with contextlib.suppress(Exception):
        await popup.close()


def _pinned(page: Any, listing: str) -> Callable[[Any, Any], Any]:
    """A route that keeps the tab on ``listing``: a navigation of the top frame
    elsewhere is aborted as the user's own "stop" would (net::ERR_ABORTED), which
    leaves the listing's document in place, where a refused one shows an error page."""

    async def route(route: Any, request: Any) -> None:
        if (
            request.is_navigation_request()
            and request.frame == page.main_frame
            and request.url != listing
        ):
            GUARD.refused("navigation")
            await route.abort("aborted")
        else:
            await route.fallback()

    return route


def browser_meta(*, include_page: bool) -> dict[str, Any]:
    """The request meta of a page harvest loads in the browser."""
    meta: dict[str, Any] = {
        "playwright": True,
        "playwright_context": CONTEXT,
        "playwright_context_kwargs": dict(CONTEXT_KWARGS),
        "playwright_page_init_callback": "harvest.crawl.browser.init_page",
    }
    if include_page:
        meta["playwright_include_page"] = True
        meta["playwright_page_goto_kwargs"] = {"wait_until": "domcontentloaded"}
    return meta


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
    scroll_wait_ms: int

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
            "PLAYWRIGHT_BROWSER_PROVIDER": "harvest.crawl.browser.LazyBrowserProvider",
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
        self._driver_started = False
        self.egress = EgressProxy(GUARD.decide, GUARD.refused)

    async def start(self) -> None:
        return None

    async def _started(self) -> None:
        async with self._start_lock:
            if not self._driver_started:
                log.info("starting the Playwright driver for the first browser page")
                await super().start()
                self._driver_started = True

    async def launch_browser(self) -> Any:
        await self._started()
        if self.config.cdp_url or self.config.connect_url:
            # A browser harvest did not start cannot be put behind its proxy.
            raise BrowserError(
                "harvest starts its own Chromium; PLAYWRIGHT_CDP_URL and "
                "PLAYWRIGHT_CONNECT_URL are not supported"
            )
        await self._behind_proxy(self.config.launch_options)
        return await super().launch_browser()

    async def launch_persistent_context(self, context_kwargs: dict[str, Any]) -> Any:
        await self._started()
        await self._behind_proxy(context_kwargs)
        return await super().launch_persistent_context(context_kwargs)

    async def _behind_proxy(self, options: dict[str, Any]) -> None:
        """Every launch of the browser goes out through the egress proxy, and only so."""
        port = await self.egress.start()
        args = [a for a in options.get("args", ()) if not _is_egress_switch(a)]
        options["args"] = [*args, *chromium_switches(port)]
        options.pop("proxy", None)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.egress.close()


def _is_egress_switch(arg: str) -> bool:
    name = arg.split("=", 1)[0]
    return name in {s.split("=", 1)[0] for s in chromium_switches(0)}
