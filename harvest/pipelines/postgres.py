"""Store page items in PostgreSQL in batches.

Items are buffered and written by :func:`harvest.db.store.write_batch` (COPY
into staging tables, then set-based upserts) when a batch is full, on a timer
and when the spider closes. Writes run in a worker thread so the crawl keeps
going; batches are written one at a time and in order. A batch whose write
fails on a connection error is retried with backoff on a new connection and
stays in memory until it is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from scrapy.exceptions import NotConfigured

from harvest.db import connection as dbconn
from harvest.db.config import ConfigError, DbConfig
from harvest.db.migrate import migrate
from harvest.db.store import BatchResult, finish_run, start_run, write_batch
from harvest.items import ArticlePage, ProfilePage

log = logging.getLogger(__name__)
T = TypeVar("T")


class PostgresPipeline:
    def __init__(self, config: DbConfig, crawler: Any = None) -> None:
        self.config = config
        self.crawler = crawler
        self.stats = crawler.stats if crawler is not None else None
        self.dsn: str | None = None
        self.run_id: int | None = None
        self._conn: Any = None
        self._pages: list[ArticlePage] = []
        self._profiles: list[ProfilePage] = []
        self._links = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._pending = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> PostgresPipeline:
        try:
            config = DbConfig.from_settings(crawler.settings)
        except ConfigError as exc:
            raise NotConfigured(str(exc)) from exc
        if not config.enabled:
            raise NotConfigured("HARVEST_DB_ENABLED is off")
        return cls(config, crawler)

    # -- lifecycle ----------------------------------------------------------------

    async def open_spider(self) -> None:
        await asyncio.to_thread(self._open)
        self._timer = asyncio.ensure_future(self._tick())

    def _open(self) -> None:
        if self.config.dsn:
            self.dsn = self.config.dsn
        else:
            self.dsn = dbconn.resolve(None, self.config.pgdata).dsn
        log.info("storing links in %s", dbconn.mask_dsn(self.dsn))

        def setup() -> int:
            conn = self._connection()
            if self.config.migrate:
                migrate(conn)
            spider = getattr(self.crawler, "spider", None)
            name = getattr(spider, "name", "unknown")
            args = getattr(spider, "harvest_arguments", None) or {}
            return start_run(conn, name, args)

        self.run_id = self._retrying(setup)

    async def close_spider(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        status = "finished"
        try:
            await self.flush()
        except Exception:
            status = "failed"
            raise
        finally:
            await asyncio.to_thread(self._close, status)

    def _close(self, status: str) -> None:
        if self.run_id is not None:
            reason = None
            if self.crawler is not None and self.stats is not None:
                reason = self.stats.get_value("finish_reason")
            counts = self._run_counts()
            final = status if status != "finished" or reason in (None, "finished") else str(reason)
            run_id = self.run_id
            with contextlib.suppress(Exception):
                self._retrying(lambda: finish_run(self._connection(), run_id, final, counts))
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _run_counts(self) -> dict[str, Any]:
        if self.stats is None:
            return {}
        wanted = (
            "harvest/",
            "item_scraped_count",
            "item_dropped_count",
            "response_received_count",
            "downloader/response_status_count/",
            "log_count/ERROR",
            "retry/",
        )
        return {
            k: v
            for k, v in self.stats.get_stats().items()
            if isinstance(k, str) and k.startswith(wanted) and isinstance(v, (int, float, str))
        }

    # -- items --------------------------------------------------------------------

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticlePage):
            self._pages.append(item)
            self._links += len(item.links)
        elif isinstance(item, ProfilePage):
            self._profiles.append(item)
            self._links += len(item.links)
        else:
            return item
        if len(self._pages) + len(self._profiles) >= self.config.batch_pages or (
            self._links >= self.config.batch_links
        ):
            await self.flush()
        return item

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            if self._pages or self._profiles:
                try:
                    await self.flush()
                except Exception:
                    log.exception("timed flush failed; the batch stays buffered")

    async def flush(self) -> None:
        """Write everything buffered so far; returns when it is committed."""
        pages, profiles = self._pages, self._profiles
        if not pages and not profiles:
            return
        self._pages, self._profiles, self._links = [], [], 0
        async with self._lock:
            try:
                result = await asyncio.to_thread(self._write, pages, profiles)
            except BaseException:
                # Not committed: put the batch back in front so nothing is lost.
                self._pages[:0] = pages
                self._profiles[:0] = profiles
                self._links += sum(len(p.links) for p in pages) + sum(
                    len(p.links) for p in profiles
                )
                raise
        self._record(result)

    def _write(self, pages: list[ArticlePage], profiles: list[ProfilePage]) -> BatchResult:
        started = time.perf_counter()
        result: BatchResult = self._retrying(
            lambda: write_batch(self._connection(), pages, profiles, self.run_id)
        )
        log.debug(
            "stored %d pages, %d links in %.3fs",
            result.pages,
            result.links,
            time.perf_counter() - started,
        )
        return result

    def _record(self, result: BatchResult) -> None:
        if self.stats is None:
            return
        self.stats.inc_value("harvest/db/batches")
        self.stats.inc_value("harvest/db/pages", result.pages)
        self.stats.inc_value("harvest/db/profiles", result.profiles)
        self.stats.inc_value("harvest/db/links", result.links)
        self.stats.inc_value("harvest/db/links_lost", result.lost)
        if result.duplicate_pages:
            self.stats.inc_value("harvest/db/duplicate_pages_in_batch", result.duplicate_pages)
        if result.duplicate_links:
            self.stats.inc_value("harvest/db/duplicate_links_in_batch", result.duplicate_links)

    # -- connections --------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            assert self.dsn is not None
            self._conn = dbconn.connect(self.dsn)
        return self._conn

    def _retrying(self, operation: Callable[[], T]) -> T:
        def on_retry(attempt: int, exc: BaseException) -> None:
            if self.stats is not None:
                self.stats.inc_value("harvest/db/retries")
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

        return dbconn.with_retries(
            operation,
            attempts=self.config.retries,
            max_delay=self.config.retry_max_delay,
            on_retry=on_retry,
        )
