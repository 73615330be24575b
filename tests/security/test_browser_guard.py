"""The browser is a sandbox: every request it makes is decided by the crawl's offsite rule."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from harvest.crawl.browser import CONTEXT_KWARGS, GUARD, browser_meta, should_abort
from harvest.medium.urls import MediumUrls


class Page:
    pass


class Frame:
    def __init__(self, page: Page | None) -> None:
        self.page = page


class BrowserRequest:
    def __init__(self, url: str, kind: str = "document", page: Page | None = None) -> None:
        self.url = url
        self.resource_type = kind
        self.frame = Frame(page)


@pytest.fixture
def guarded() -> Any:
    crawler = get_crawler()
    stats = MemoryStatsCollector(crawler)
    crawler.stats = stats
    urls = MediumUrls.from_base("http://127.0.0.1:8000")
    GUARD.configure(lambda url: urls.refusal(url, frozenset()), crawler)
    page = Page()
    GUARD.pages.add(page)
    yield page, stats
    GUARD.pages.discard(page)


@pytest.mark.parametrize(
    ("url", "kind", "aborted"),
    [
        ("http://127.0.0.1:8000/tag/seo", "document", False),
        ("http://127.0.0.1:8000/_sim/tag/seo/batch/1", "fetch", False),
        ("http://127.0.0.1:8000/_host/cdn-client.medium.com/main.js", "script", False),
        ("data:text/html,<p>x", "document", False),
        ("http://127.0.0.1:8000/logo.png", "image", True),
        ("http://127.0.0.1:8000/font.woff2", "font", True),
        # the same address on another port: a local scrapyd, the telnet console
        ("http://127.0.0.1:6800/addversion.json", "xhr", True),
        ("http://127.0.0.1:6800/", "document", True),
        ("http://localhost:8000/tag/seo", "fetch", True),
        ("https://static.cloudflareinsights.com/beacon.min.js", "script", True),
        ("https://evil.example/collect", "ping", True),
        ("https://evil.example/frame", "document", True),
        ("file:///etc/passwd", "document", True),
        ("ws://127.0.0.1:6800/socket", "websocket", True),
    ],
)
def test_every_browser_request_is_decided(guarded: Any, url: str, kind: str, aborted: bool) -> None:
    page, _ = guarded
    assert should_abort(BrowserRequest(url, kind, page)) is aborted


def test_aborted_requests_are_counted_by_reason(guarded: Any) -> None:
    page, stats = guarded
    should_abort(BrowserRequest("http://127.0.0.1:6800/schedule.json", "xhr", page))
    should_abort(BrowserRequest("http://127.0.0.1:8000/a.png", "image", page))
    assert stats.get_value("harvest/browser/aborted/offsite") == 1
    assert stats.get_value("harvest/browser/aborted/resource") == 1


def test_a_page_without_its_guard_fetches_nothing(guarded: Any) -> None:
    _, stats = guarded
    popup = Page()  # a page the guard was not set up on (its init failed, a popup)
    assert should_abort(BrowserRequest("http://127.0.0.1:8000/tag/seo", "document", popup))
    assert should_abort(BrowserRequest("http://127.0.0.1:8000/tag/seo", "document", None))
    assert stats.get_value("harvest/browser/aborted/unguarded") == 2


def test_the_context_takes_no_downloads_workers_or_permissions() -> None:
    assert CONTEXT_KWARGS["accept_downloads"] is False
    assert CONTEXT_KWARGS["service_workers"] == "block"
    assert CONTEXT_KWARGS["permissions"] == []
    meta = browser_meta(include_page=True)
    assert meta["playwright_context"] == "harvest"
    assert meta["playwright_page_init_callback"] == "harvest.crawl.browser.init_page"
    assert "user_data_dir" not in meta["playwright_context_kwargs"]  # no profile on disk


def test_a_page_whose_guard_cannot_be_set_is_closed_not_let_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Chromium killed between a page's start and its guard (CI: the context
    # was closed): the page must not navigate unguarded, and no traceback.
    from harvest.crawl import browser

    class Closed(Exception):
        pass

    class Context:
        async def route(self, *_: Any) -> None:
            raise Closed("Target page, context or browser has been closed\nCall log: ...")

    class Page:
        context = Context()
        closed = False

        async def close(self) -> None:
            self.closed = True

    class Request:
        url = "https://medium.com/tag/seo"

        def __init__(self) -> None:
            self.meta: dict[str, Any] = {}

    page = Page()
    with caplog.at_level("WARNING", logger="harvest.crawl.browser"):
        asyncio.run(browser.init_page(page, Request()))
    assert page.closed
    assert page not in browser.GUARD.pages
    assert [r.getMessage() for r in caplog.records] == [
        "could not guard a browser page for https://medium.com/tag/seo, closed it: "
        "Target page, context or browser has been closed"
    ]
