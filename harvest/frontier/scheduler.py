"""scrapy-redis's scheduler, made safe against killed workers and idle by agreement.

Differences from ``scrapy_redis.scheduler.Scheduler``:

* a request is taken from the shared queue and recorded as held by this worker
  in one atomic step, and released only when its page is stored or it failed
  for good (harvest.frontier.tokens decides when); a worker that dies leaves
  its held requests in Redis, and any other worker puts them back in the queue
  once the dead one's heartbeat lapses;
* the spider closes only when the whole job is quiet (nothing queued, nothing
  held by any worker) for HARVEST_REDIS_IDLE_SECONDS, not when this worker's
  share runs dry, and never blocks the reactor on a blocking pop;
* a job enqueued while the workers wait is seeded by one of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.scheduler import Scheduler  # type: ignore[import-untyped]
from twisted.internet import task

from harvest import compat
from harvest.frontier import schema
from harvest.frontier.redis_config import FrontierConfig
from harvest.frontier.redis_frontier import Frontier
from harvest.frontier.tokens import TOKEN

log = logging.getLogger(__name__)


class FrontierScheduler(Scheduler):  # type: ignore[misc]
    crawler: Any = None
    frontier: Frontier

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierScheduler:
        instance: FrontierScheduler = super().from_crawler(crawler)
        instance.crawler = crawler
        return instance

    def open(self, spider: Any) -> None:
        super().open(spider)
        frontier = getattr(spider, "frontier", None)
        if frontier is None:
            config = FrontierConfig.from_settings(spider.settings)
            assert config is not None, "FrontierScheduler needs HARVEST_REDIS_URL"
            frontier = Frontier(config, self.server)
        self.frontier = frontier
        self.idle_seconds = frontier.config.idle_seconds
        self._taken: list[tuple[str, bytes]] = []
        self.prefetch = max(1, min(16, spider.settings.getint("CONCURRENT_REQUESTS", 16) // 2))
        self._quiet_since: float | None = None
        self._seeding: asyncio.Future[None] | None = None
        frontier.heartbeat()
        self._flush = task.LoopingCall(self._flush_releases)
        self._flush.start(0.25, now=False)
        self._beat = task.LoopingCall(self._heartbeat)
        self._beat.start(max(frontier.config.heartbeat_ttl / 3, 0.5), now=False)
        # Scrapy looks at an idle scheduler only every 5 seconds; a worker
        # waiting on the shared queue looks more often, so work that another
        # worker queues (or a job enqueued meanwhile) starts at once.
        self._wake = task.LoopingCall(self._wake_engine)
        self._wake.start(0.5, now=False)
        # A worker that died long enough ago is reclaimed here, before the
        # first idle check: count it the same way.
        self._reclaim()
        # When a taken request is done is harvest.frontier.tokens's to say.
        self.crawler.signals.connect(self._on_idle, signal=signals.spider_idle)

    def _flush_releases(self) -> None:
        try:
            self.frontier.flush_releases()
        except Exception as exc:  # kept and sent with the next flush
            log.warning("frontier release failed: %s", exc)

    def _heartbeat(self) -> None:
        try:
            self.frontier.heartbeat()
        except Exception as exc:  # a Redis blip must not stop the crawl
            log.warning("frontier heartbeat failed: %s", exc)

    def _wake_engine(self) -> None:
        try:
            work = bool(self.frontier.queued()) or (
                self.frontier.job_args() is not None
                and not self.frontier.server.exists(self.frontier.seeded_key)
            )
        except Exception as exc:
            log.debug("frontier poll failed: %s", exc)
            return
        if work:
            compat.wake_engine(self.crawler.engine)

    def close(self, reason: str) -> None:
        for loop in (self._beat, self._wake, self._flush):
            if loop.running:
                loop.stop()
        self.frontier.flush_releases()
        self.frontier.return_unstarted([token for token, _ in self._taken])
        self._taken = []
        if self.stats is not None:
            self.stats.set_value("scheduler/enqueued/redis", self.frontier.added)
            self.stats.set_value(
                "harvest/frontier/duplicates", self.frontier.pushed - self.frontier.added
            )
        super().close(reason)
        returned = self.frontier.give_back()
        if returned:
            log.warning("%d requests this worker held went back to the shared queue", returned)
            if self.stats is not None:
                self.stats.inc_value("harvest/frontier/given_back", returned)

    # -- queue --------------------------------------------------------------------

    def enqueue_request(self, request: Any) -> bool:
        fingerprint = None if request.dont_filter else self.df.request_fingerprint(request)
        # Whether the seen-set already had it is known only when the push is
        # sent; duplicates are counted then (harvest/frontier/duplicates).
        self.frontier.push(fingerprint, schema.encode(request, self.spider))
        return True

    def has_pending_requests(self) -> bool:
        return bool(self._taken) or bool(self.frontier.unsent) or self.frontier.queued() > 0

    def __len__(self) -> int:
        return len(self._taken) + self.frontier.unsent + self.frontier.queued()

    def next_request(self) -> Any:
        while True:
            if not self._taken:
                # A few at a time: one round trip to Redis per batch, while the
                # batch stays small enough that other workers get their share.
                self._taken = self.frontier.exchange(self.prefetch)
                if not self._taken:
                    return None
                adopt = getattr(self.spider, "frontier_adopt_job_args", None)
                if adopt is not None:
                    adopt()
            token, data = self._taken.pop(0)
            try:
                request = schema.decode(data, self.spider)
            except Exception as exc:  # QueueEntryError, or anything an entry provokes
                # Someone wrote to the queue what harvest did not: it commands
                # nothing, and never becomes a request whose token could be held.
                self.frontier.discard(token)
                if self.stats is not None:
                    self.stats.inc_value("harvest/frontier/refused")
                log.warning("refused a shared-queue entry (%s): %r", exc, bytes(data)[:300])
                continue
            break
        request.meta[TOKEN] = token
        if self.stats is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        self._quiet_since = None
        return request

    def _reclaim(self) -> None:
        reclaimed = self.frontier.reclaim_orphans()
        if reclaimed and self.stats is not None:
            self.stats.inc_value("harvest/frontier/reclaimed", reclaimed)

    # -- idleness -----------------------------------------------------------------

    def _on_idle(self, spider: Any) -> None:
        f = self.frontier
        f.flush_releases()
        self._reclaim()
        if self._seeding is None or self._seeding.done():
            seed = getattr(spider, "frontier_seed_requests", None)
            if seed is not None and f.job_args() is not None and f.claim_seeding():
                self._seeding = asyncio.ensure_future(self._seed(seed))
        if (
            (self._seeding is not None and not self._seeding.done())
            or f.queued()
            or (f.held_anywhere())
        ):
            self._quiet_since = None
            raise DontCloseSpider
        now = time.monotonic()
        if self._quiet_since is None:
            self._quiet_since = now
        if now - self._quiet_since < self.idle_seconds:
            raise DontCloseSpider
        log.info("shared queue quiet for %.0fs: this worker stops", now - self._quiet_since)

    async def _seed(self, seed: Any) -> None:
        async for request in seed():
            self.crawler.engine.crawl(request)
