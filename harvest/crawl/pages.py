"""Every page a crawl fetched, counted once, and how it ended.

A page is one request the spider made, however many times it was sent. It is
found when it leaves the scheduler, by the process that takes it, and carries
a mark of that process in its ``meta``; a copy of it sent back to the scheduler
(a retry, a redirect hop, a postponement behind a paused host) is handed back
and found again by whoever takes it next, so a page is counted once, by the
worker that fetched it last, also on a shared Redis frontier and after a dead
run's JOBDIR queue. A second try in the browser, built afresh, carries the mark
over (:func:`same_page`). A request the dupefilter dropped was never found.

A page ends once:

- **harvested**: its callback ran to its end without handing the page on (a
  second try of the same page is not its end), or it measured the post gone;
- **skipped**, **failed**, **blocked**, **unparsed**: a :class:`PageProblem` of
  that kind came from its callback or errback (a problem outranks an earlier
  "harvested": the callback that read a listing may still find it unparsed).

What was found and reached no end (a callback error, a crawl stopped with the
page in flight) is lost, and :mod:`harvest.contract.tally` counts it so.
"""

from __future__ import annotations

import itertools
import uuid
import weakref
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request
from scrapy.http.request import NO_CALLBACK

from harvest.contract.tally import ENDED_STAT, FOUND_STAT, PAGE_ENDS
from harvest.items import PageProblem, PostGone

PAGE_META = "harvest_page"


class PageLedger:
    """The pages this process found and each one's end (one per crawler)."""

    def __init__(self) -> None:
        # Marks from another process (a dead run's queue, another worker) are
        # not this process's: their pages are found again here.
        self._token = uuid.uuid4().hex[:12]
        self._numbers = itertools.count(1)
        self.found = 0
        self.ends: dict[str, str] = {}

    def _mark(self, request: Any) -> str | None:
        """The request's mark when this process gave it, else None."""
        mark = getattr(request, "meta", {}).get(PAGE_META)
        if isinstance(mark, str) and mark.startswith(self._token + ":"):
            return mark
        return None

    def find(self, request: Request) -> None:
        if request.callback is NO_CALLBACK:
            return  # robots.txt and other middleware fetches are not the spider's pages
        if self._mark(request) is not None:
            return
        request.meta[PAGE_META] = f"{self._token}:{next(self._numbers)}"
        self.found += 1

    def hand_back(self, request: Request) -> None:
        """A page sent back to the scheduler (a retry, a redirect hop, a pause of its
        host) is no longer this process's: on a shared frontier another worker may
        take it. Whoever takes it next finds it, this process included."""
        mark = self._mark(request)
        if mark is not None:
            del request.meta[PAGE_META]
            self.found -= 1
            self.ends.pop(mark, None)

    def end(self, request: Any, end: str) -> None:
        mark = self._mark(request)
        if mark is None:
            return
        if end == "harvested":
            self.ends.setdefault(mark, end)
        elif self.ends.get(mark, "harvested") == "harvested":
            self.ends[mark] = end

    def end_of_item(self, item: Any, response: Any) -> None:
        """An item the spider gave for a page (from its callback or errback)."""
        request = getattr(response, "request", None)
        if request is None:
            return
        if isinstance(item, PageProblem):
            self.end(request, item.kind if item.kind in PAGE_ENDS else "failed")
        elif isinstance(item, PostGone):
            self.end(request, "harvested")

    def counts(self) -> dict[str, int]:
        by_end = dict.fromkeys(PAGE_ENDS, 0)
        for end in self.ends.values():
            by_end[end] += 1
        return {FOUND_STAT: self.found, **{ENDED_STAT + e: n for e, n in by_end.items()}}


# One ledger per crawler, found by whoever writes to it (the outcome extension
# and the two middlewares), whichever Scrapy builds first.
_LEDGERS: weakref.WeakKeyDictionary[Any, PageLedger] = weakref.WeakKeyDictionary()


def ledger_of(crawler: Any) -> PageLedger:
    """The crawler's ledger, made on first use."""
    ledger = _LEDGERS.get(crawler)
    if ledger is None:
        ledger = _LEDGERS[crawler] = PageLedger()
    return ledger


def same_page(new: Request, old: Any) -> Request:
    """``new`` is another try of ``old``'s page (built afresh, not copied): it
    carries the mark, so the page is found once and ends with its last try."""
    mark = getattr(old, "meta", {}).get(PAGE_META)
    if mark is not None:
        new.meta[PAGE_META] = mark
    return new


class _LedgerUser:
    """A middleware that writes to the crawl's ledger."""

    def __init__(self, crawler: Any) -> None:
        self.ledger = ledger_of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        return cls(crawler)


class PageFoundMiddleware(_LedgerUser):
    """Downloader middleware, first of all: marks each page as it leaves the scheduler."""

    def process_request(self, request: Request) -> None:
        self.ledger.find(request)


class PageEndMiddleware(_LedgerUser):
    """Spider middleware, outermost: a callback that ran to its end harvested its page."""

    async def process_spider_output(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        request = getattr(response, "request", None)
        mark = request.meta.get(PAGE_META) if request is not None else None
        handed_on = False
        async for out in result:
            if mark is not None and isinstance(out, Request) and out.meta.get(PAGE_META) == mark:
                handed_on = True  # the same page tried again: that try ends it
            yield out
        if request is not None and not handed_on:
            self.ledger.end(request, "harvested")
