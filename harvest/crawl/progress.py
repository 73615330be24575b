"""A progress line every HARVEST_PROGRESS_INTERVAL seconds while a crawl runs.

Scrapy's LogStats says "Crawled N pages" once a minute; a harvest wants to
know more and sooner: pages fetched and their rate, pages stored, what is
still queued, and what went wrong so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from harvest import config

log = logging.getLogger(__name__)


def progress_line(stats: Mapping[str, Any], elapsed: float, last: tuple[float, int]) -> str:
    """The line for these stats; ``last`` is (seconds, pages) at the previous line."""

    def c(key: str) -> int:
        value = stats.get(key, 0)
        return int(value) if isinstance(value, (int, float)) else 0

    fetched = c("response_received_count")
    then, before = last
    rate = (fetched - before) / (elapsed - then) if elapsed > then else 0.0
    queued = max(0, c("scheduler/enqueued") - c("scheduler/dequeued"))
    waiting = c("harvest/hosts/postponed")
    parts = [
        f"{fetched} pages fetched ({rate:.1f}/s)",
        f"{c('harvest/db/pages') + c('harvest/db/profiles')} pages stored",
        f"{queued} requests waiting in the queue",
    ]
    if waiting:
        # A host that answered 429/503 or a challenge is paused; its requests wait.
        parts.append(f"{waiting} requests held back while their host was paused (rate limit)")
    problems = [
        f"{c('harvest/outcome/' + kind)} {kind}"
        for kind in ("failed", "unparsed", "blocked")
        if c("harvest/outcome/" + kind)
    ]
    parts.append(", ".join(problems) if problems else "no failures")
    return "progress: " + "; ".join(parts)


class Progress:
    def __init__(self, crawler: Any, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Progress:
        interval = config.value(crawler.settings, "HARVEST_PROGRESS_INTERVAL")
        if not interval:
            raise NotConfigured("HARVEST_PROGRESS_INTERVAL is 0")
        return cls(crawler, float(interval))

    def _opened(self, spider: Any = None) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        started = time.monotonic()
        last = (0.0, 0)
        while True:
            await asyncio.sleep(self.interval)
            stats = self.crawler.stats.get_stats()
            elapsed = time.monotonic() - started
            log.info("%s", progress_line(stats, elapsed, last))
            last = (elapsed, int(stats.get("response_received_count", 0) or 0))

    async def _closed(self, spider: Any = None, reason: str = "") -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
