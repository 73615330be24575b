"""Tell the frontier when a response's callback has finished and what items it made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request
from scrapy.exceptions import NotConfigured

from harvest.frontier.config import FrontierConfig
from harvest.frontier.scheduler import PARENT, TOKEN


class FrontierReleaseMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierReleaseMiddleware:
        if FrontierConfig.from_settings(crawler.settings) is None:
            raise NotConfigured("no HARVEST_REDIS_URL")
        return cls(crawler)

    def _frontier(self) -> Any:
        return getattr(self.crawler.spider, "frontier", None)

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
        token = response.meta.get(TOKEN)
        frontier = self._frontier()
        if token is not None and frontier is not None:
            frontier.callback_done(token)
