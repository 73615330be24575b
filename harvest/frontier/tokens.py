"""When a request taken from the shared queue is done: the one owner of that rule.

The scheduler takes requests from Redis with a token each (harvest.frontier.
scheduler) and the token stays held in Redis until this component says the
work it stands for is safe: every item the response's callback made has been
stored (or dropped), every request it made is in the shared queue, and the
callback itself has ended. A request that failed for good is done at once; a
retry or redirect copy that goes back into the queue frees its original.

Everything here is driven by Scrapy's signals and harvest's own
(:mod:`harvest.contract.signals`), plus the spider-middleware pass over a
callback's output, so neither the spider nor the pipelines know tokens exist.
An item is done when scraped, unless a store announced itself
(``store_opened``): then it is done when the store sends ``items_stored``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured

from harvest.contract import signals as harvest_signals
from harvest.frontier.redis_config import FrontierConfig

TOKEN = "harvest_frontier_token"  # noqa: S105 (a meta key, not a secret)
# The token of the response whose callback made this request.
PARENT = "harvest_frontier_parent"


class FrontierTokens:
    """Spider middleware and signal receiver: releases what the scheduler took."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.store = False  # a store announced it sends items_stored
        connect = crawler.signals.connect
        connect(self._store_opened, signal=harvest_signals.store_opened)
        connect(self._scraped, signal=signals.item_scraped)
        connect(self._item_done, signal=signals.item_dropped)
        connect(self._item_done, signal=signals.item_error)
        connect(self._stored, signal=harvest_signals.items_stored)
        connect(self._failed, signal=harvest_signals.request_failed)
        connect(self._scheduled, signal=signals.request_scheduled)

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierTokens:
        if FrontierConfig.from_settings(crawler.settings) is None:
            raise NotConfigured("no HARVEST_REDIS_URL")
        return cls(crawler)

    def _frontier(self) -> Any:
        return getattr(self.crawler.spider, "frontier", None)

    # -- a callback's output ------------------------------------------------------

    async def process_spider_output(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        token = response.meta.get(TOKEN)
        frontier = self._frontier()
        try:
            async for out in result:
                if isinstance(out, Request):
                    # A new request (even one built from response.meta) gets a
                    # token of its own when some worker takes it.
                    out.meta.pop(TOKEN, None)
                    if token is not None and frontier is not None:
                        # The response is not done until this request is in the
                        # shared queue: Scrapy hands outputs on after the
                        # callback has ended, and a worker killed in between
                        # would otherwise lose it.
                        frontier.hold_child(token)
                        out.meta[PARENT] = token
                elif token is not None and frontier is not None:
                    frontier.hold_item(token, out)
                yield out
        finally:
            if token is not None and frontier is not None:
                frontier.callback_done(token)

    def process_spider_exception(self, response: Any, exception: Exception) -> None:
        self._callback_done(response.meta.get(TOKEN))

    # -- signals ------------------------------------------------------------------

    def _callback_done(self, token: str | None) -> None:
        frontier = self._frontier()
        if token is not None and frontier is not None:
            frontier.callback_done(token)

    def _store_opened(self, **kwargs: Any) -> None:
        self.store = True

    def _scraped(self, item: Any, **kwargs: Any) -> None:
        if not self.store:
            self._item_done(item)

    def _item_done(self, item: Any, **kwargs: Any) -> None:
        frontier = self._frontier()
        if frontier is not None:
            frontier.item_done(item)

    def _stored(self, items: list[Any], **kwargs: Any) -> None:
        for item in items:
            self._item_done(item)

    def _failed(self, request: Any, **kwargs: Any) -> None:
        # Failed for good: no page will come, nothing is left to store.
        self._callback_done(request.meta.get(TOKEN))

    def _scheduled(self, request: Any, **kwargs: Any) -> None:
        # Sent just before the scheduler queues the request (in the same call,
        # and releases are sent only after pushes): a copy of a held request
        # (a retry, a redirect) frees the original; a request made by a held
        # response counts down its parent.
        frontier = self._frontier()
        token = request.meta.pop(TOKEN, None)
        parent = request.meta.pop(PARENT, None)
        if frontier is None:
            return
        if token is not None:
            frontier.retried(token)
        if parent is not None:
            frontier.child_queued(parent)
