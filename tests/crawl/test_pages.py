"""Table tests for the page ledger: each page found once, ended once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.http.request import NO_CALLBACK
from twisted.python.failure import Failure

from harvest.contract.tally import Outcome, decide, pages_without_end, summary_lines
from harvest.crawl.pages import PAGE_META, PageEndMiddleware, PageLedger, ledger_of, same_page
from harvest.items import PageProblem, PostGone


def _cb(response: Any) -> None:
    return None


def req(url: str = "https://medium.com/tag/seo") -> Request:
    return Request(url, callback=_cb)


def response_to(request: Request) -> HtmlResponse:
    return HtmlResponse(request.url, body=b"<html></html>", request=request)


def failure_of(request: Request) -> Failure:
    failure = Failure(ValueError("connection refused"))  # type: ignore[no-untyped-call]
    failure.request = request  # type: ignore[attr-defined]
    return failure


def problem(kind: str) -> PageProblem:
    return PageProblem(url="https://medium.com/p/1", kind=kind, reason="r")


def test_a_page_is_found_once_through_its_retries_redirects_and_postponements() -> None:
    ledger = PageLedger()
    first = req()
    ledger.find(first)
    for again in (
        first.copy(),  # a retry
        first.replace(url="https://medium.com/tag/seo/latest"),  # a redirect hop
        first.replace(dont_filter=True),  # sent again after a host's pause
    ):
        ledger.hand_back(again)  # through the scheduler ...
        ledger.find(again)  # ... and out again
    assert ledger.found == 1
    ledger.end(again, "harvested")
    assert pages_without_end(ledger.counts()) == 0


def test_a_page_handed_back_to_a_shared_queue_is_the_next_takers() -> None:
    mine, other = PageLedger(), PageLedger()
    request = req()
    mine.find(request)
    postponed = request.replace(dont_filter=True)
    mine.hand_back(postponed)  # to the shared Redis queue, and another worker takes it
    other.find(postponed)
    other.end(postponed, "harvested")
    assert mine.counts()["harvest/pages/found"] == 0
    assert pages_without_end(other.counts()) == 0
    assert other.counts()["harvest/pages/ended/harvested"] == 1


def test_middleware_fetches_are_not_pages() -> None:
    ledger = PageLedger()
    ledger.find(Request("https://medium.com/robots.txt", callback=NO_CALLBACK))
    assert ledger.found == 0


def test_a_mark_from_another_process_is_found_again() -> None:
    # A request from a dead run's JOBDIR queue or another worker's shared queue.
    dead, live = PageLedger(), PageLedger()
    request = req()
    dead.find(request)
    live.find(request)
    live.find(request.copy())
    assert live.found == 1
    live.end(request, "harvested")
    assert live.counts()["harvest/pages/ended/harvested"] == 1


def test_a_page_built_afresh_for_a_second_try_is_the_same_page() -> None:
    ledger = PageLedger()
    plain = req()
    ledger.find(plain)
    in_browser = same_page(req(), plain)
    ledger.find(in_browser)
    assert ledger.found == 1
    assert in_browser.meta[PAGE_META] == plain.meta[PAGE_META]


@pytest.mark.parametrize(
    ("events", "end"),
    [
        (["harvested"], "harvested"),
        (["failed"], "failed"),
        (["harvested", "unparsed"], "unparsed"),  # the callback ran, then found it unparsed
        (["unparsed", "harvested"], "unparsed"),  # in either order
        (["blocked", "failed"], "blocked"),  # the first problem stays
        (["skipped"], "skipped"),
    ],
)
def test_one_end_per_page(events: list[str], end: str) -> None:
    ledger = PageLedger()
    request = req()
    ledger.find(request)
    for event in events:
        ledger.end(request, event)
    counts = ledger.counts()
    assert counts["harvest/pages/found"] == 1
    assert {k for k, n in counts.items() if n and "ended" in k} == {f"harvest/pages/ended/{end}"}
    assert pages_without_end(counts) == 0


def test_items_end_their_page_through_the_response_or_the_failure() -> None:
    ledger = PageLedger()
    a, b, c, d = (req(f"https://medium.com/p/{n}") for n in "abcd")
    for r in (a, b, c, d):
        ledger.find(r)
    ledger.end_of_item(problem("unparsed"), response_to(a))
    ledger.end_of_item(problem("failed"), failure_of(b))
    ledger.end_of_item(
        PostGone(post_id="c", url=c.url, status="deleted", http_status=410), failure_of(c)
    )
    ledger.end_of_item(problem("blocked"), None)  # nothing to tie it to: no end
    counts = ledger.counts()
    assert counts["harvest/pages/ended/unparsed"] == 1
    assert counts["harvest/pages/ended/failed"] == 1
    assert counts["harvest/pages/ended/harvested"] == 1
    assert pages_without_end(counts) == 1  # d


class _Crawler:
    """A crawler as the middlewares see it: one ledger each, found by ledger_of."""


async def _drain(mw: PageEndMiddleware, response: Any, outputs: list[Any]) -> list[Any]:
    async def result() -> AsyncIterator[Any]:
        for out in outputs:
            yield out

    return [out async for out in mw.process_spider_output(response, result())]


def test_a_callback_that_ran_to_its_end_harvested_its_page() -> None:
    crawler = _Crawler()
    ledger = ledger_of(crawler)
    request = req()
    ledger.find(request)
    mw = PageEndMiddleware(crawler)
    out = asyncio.run(_drain(mw, response_to(request), [req("https://medium.com/p/x")]))
    assert len(out) == 1
    assert ledger.counts()["harvest/pages/ended/harvested"] == 1


def test_a_callback_that_hands_its_page_on_has_not_ended_it() -> None:
    crawler = _Crawler()
    ledger = ledger_of(crawler)
    request = req()
    ledger.find(request)
    mw = PageEndMiddleware(crawler)
    asyncio.run(_drain(mw, response_to(request), [same_page(req(), request)]))
    assert pages_without_end(ledger.counts()) == 1


def test_a_callback_that_raised_lost_its_page_and_the_crawl_says_so() -> None:
    crawler = _Crawler()
    ledger = ledger_of(crawler)
    request = req()
    ledger.find(request)
    mw = PageEndMiddleware(crawler)

    async def boom() -> AsyncIterator[Any]:
        yield req("https://medium.com/p/y")
        raise RuntimeError("callback error")

    async def drain() -> None:
        async for _ in mw.process_spider_output(response_to(request), boom()):
            pass

    with pytest.raises(RuntimeError):
        asyncio.run(drain())
    counts = ledger.counts()
    assert pages_without_end(counts) == 1
    lines = summary_lines(counts, Outcome("finished_with_failures", "x"))
    assert "  pages: 1 distinct page sent = 1 lost (no end reached)" in lines
    assert decide(counts, "finished").status == "finished_with_failures"


def test_each_crawler_has_one_ledger_whoever_asks_first() -> None:
    one, two = _Crawler(), _Crawler()
    assert ledger_of(one) is ledger_of(one)
    assert ledger_of(one) is not ledger_of(two)
    assert PageEndMiddleware(one).ledger is ledger_of(one)
