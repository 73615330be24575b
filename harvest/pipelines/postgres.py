"""Store page items in PostgreSQL in batches.

Items are buffered and written by :func:`harvest.db.store.write_batch` when a
batch is full, on a timer and when the spider closes. Up to
``HARVEST_DB_WRITERS`` batches are written at once, each in a worker thread on
a connection of its own, so building the next batch overlaps the database
work of the previous one and the crawl itself never waits on the database
unless every writer is busy.

A batch that fails on a connection error is retried with backoff on a new
connection and stays in memory until it is committed. A batch that still
fails after every retry is kept and written again when the spider closes;
only if that fails too are its pages counted as not stored, and the crawl's
outcome is ``failed``.

A database that cannot be reached when the crawl starts stops the crawl at
once (close reason ``database_unavailable``) with one line saying so. The
crawl's run row is finished with the status the outcome extension decides
(:data:`harvest.contract.signals.crawl_outcome`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured

from harvest import config
from harvest.contract.signals import (
    crawl_outcome,
    items_stored,
    recent_posts,
    store_opened,
    walk_done,
    walk_marks,
)
from harvest.contract.tally import count_problem, decide
from harvest.db import connection as dbconn
from harvest.db import summaries
from harvest.db.migrate import migrate
from harvest.db.queries import known_posts
from harvest.db.queries import walk_marks as read_walk_marks
from harvest.db.store import (
    BatchResult,
    HostIds,
    finish_run,
    hold_run,
    mark_dead_runs,
    record_progress,
    start_run,
    write_batch,
    write_gone,
    write_problems,
    write_walks,
)
from harvest.db.store_config import ConfigError, DbConfig
from harvest.items import ArticlePage, PageProblem, PostGone, ProfilePage, WalkDone
from harvest.secrets import mask_dsn

log = logging.getLogger(__name__)
T = TypeVar("T")

# How often a running crawl writes its counts to its run row (store.record_progress).
PROGRESS_SECONDS = 5.0
_RUN_COUNT_PREFIXES = (
    "harvest/",
    "item_scraped_count",
    "item_dropped_count",
    "response_received_count",
    "downloader/response_status_count/",
    "log_count/ERROR",
    "retry/",
)


class PostgresPipeline:
    def __init__(self, config: DbConfig, crawler: Any = None) -> None:
        self.config = config
        self.crawler = crawler
        self.stats = crawler.stats if crawler is not None else None
        self.dsn: str | None = None
        self.run_id: int | None = None
        self.host_ids = HostIds()
        self._pool: list[Any] = []
        self._pool_lock = threading.Lock()
        self._pages: list[ArticlePage] = []
        self._profiles: list[ProfilePage] = []
        self._problems: list[PageProblem] = []
        self._gone: list[PostGone] = []
        self._links = 0
        self._slots = asyncio.Semaphore(config.writers)
        self._inflight: set[asyncio.Task[None]] = set()
        self._failed: list[tuple[list[ArticlePage], list[ProfilePage]]] = []
        self._timer: asyncio.Task[None] | None = None
        self._run_finished = False
        # Complete walks, recorded when the crawl ends with every page harvested.
        self._walks: list[WalkDone] = []
        # The connection that holds the run's lock (store.hold_run): the run is
        # alive exactly as long as it is open.
        self._run_conn: Any = None
        self._progress_at = 0.0
        self._folder: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> PostgresPipeline:
        try:
            config = DbConfig.from_settings(crawler.settings)
        except ConfigError as exc:
            raise NotConfigured(str(exc)) from exc
        if not config.enabled:
            raise NotConfigured("HARVEST_DB_ENABLED is off")
        pipeline = cls(config, crawler)
        crawler.signals.connect(pipeline._on_outcome, signal=crawl_outcome)
        crawler.signals.connect(pipeline._on_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.recent_posts, signal=recent_posts)
        crawler.signals.connect(pipeline.walk_marks, signal=walk_marks)
        crawler.signals.connect(pipeline._walk_done, signal=walk_done)
        return pipeline

    # -- lifecycle ----------------------------------------------------------------

    async def open_spider(self) -> None:
        try:
            await asyncio.to_thread(self._open)
        except dbconn.RETRYABLE as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.error(
                "cannot reach the database %s (%s): start PostgreSQL, fix DATABASE_URL, "
                "or unset it to use the embedded server",
                mask_dsn(self.dsn) if self.dsn else "",
                first,
            )
            self._unavailable()
            raise CloseSpider("database_unavailable") from None
        except dbconn.EmbeddedError as exc:
            log.error("the embedded PostgreSQL did not start: %s", exc)
            self._unavailable()
            raise CloseSpider("database_unavailable") from None
        self._timer = asyncio.ensure_future(self._tick())
        self._folder = asyncio.ensure_future(self._fold_loop())
        if self.crawler is not None:
            self.crawler.signals.send_catch_log(signal=store_opened)

    async def recent_posts(
        self, post_ids: list[str], days: int, runs: list[int] | None = None, **kwargs: Any
    ) -> dict[str, dict[str, Any]]:
        """Which of ``post_ids`` this store harvested within ``days`` days, or stored in
        one of ``runs`` (dead runs being resumed): the spider skips them
        (:data:`harvest.contract.signals.recent_posts`). A database that does not
        answer skips nothing: the posts are fetched again."""
        if self.dsn is None or self.run_id is None or not post_ids:
            return {}
        dead = list(runs or ())
        try:
            return await asyncio.to_thread(
                self._on_pooled, lambda conn: known_posts(conn, post_ids, days, dead)
            )
        except dbconn.RETRYABLE as exc:
            log.warning(
                "could not check recently crawled posts (%s); fetching them", _first_line(exc)
            )
            return {}

    async def walk_marks(self, walks: list[str], **kwargs: Any) -> dict[str, Any]:
        """Where earlier complete walks of ``walks`` ended; a database that does
        not answer gives none, and everything is walked again."""
        if self.dsn is None or self.run_id is None or not walks:
            return {}
        try:
            return await asyncio.to_thread(
                self._on_pooled, lambda conn: read_walk_marks(conn, walks)
            )
        except dbconn.RETRYABLE as exc:
            log.warning("could not read earlier walks (%s); walking all again", _first_line(exc))
            return {}

    def _walk_done(self, walk: WalkDone, **kwargs: Any) -> None:
        # Recorded at the end of the crawl, but nothing of the walk waits on it:
        # its cursor is where the crawl resumes from.
        self._walks.append(walk)

    def _unavailable(self) -> None:
        if self.stats is not None:
            self.stats.set_value("harvest/db/unavailable", True)

    def _open(self) -> None:
        if self.config.dsn:
            self.dsn = self.config.dsn
            where = mask_dsn(self.dsn)
        else:
            self.dsn = dbconn.resolve(None, self.config.pgdata).dsn
            where = f"embedded PostgreSQL in {self.config.pgdata}"
        log.info("storing links in %s", mask_dsn(self.dsn))
        # One quick look first: a server that is not there ends the crawl now,
        # not after a batch's worth of retries.
        dbconn.connect(self.dsn, connect_timeout=self.config.connect_timeout).close()

        def setup(conn: Any) -> list[int]:
            if self.config.migrate:
                migrate(conn)
            return mark_dead_runs(conn)

        dead = self._with_connection(setup)
        if dead:
            log.warning(
                "crawl runs %s died before they finished; marked as such "
                "(harvest crawl-report RUN shows how far each got)",
                ", ".join(map(str, dead)),
            )
        spider = getattr(self.crawler, "spider", None)
        name = getattr(spider, "name", "unknown")
        self._run_conn = dbconn.connect(self.dsn, connect_timeout=self.config.connect_timeout)
        self.run_id = start_run(self._run_conn, name, self._run_arguments() or {})
        self._progress_at = time.monotonic()
        if self.stats is not None:
            self.stats.set_value("harvest/db/run_id", self.run_id)
            self.stats.set_value("harvest/db/where", where)

    async def close_spider(self) -> None:
        for task in (self._timer, self._folder):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.run_id is None:
            return  # never opened: nothing buffered, no run row
        try:
            await self.flush()
            await self.drain()
            await self._flush_problems()
            while self._failed:
                # One more attempt for batches whose retries ran out mid-crawl.
                pages, profiles = self._failed[0]
                result = await asyncio.to_thread(self._write, pages, profiles)
                self._failed.pop(0)
                self._record(result)
                self._stored(pages, profiles)
        except Exception as exc:
            lost = sum(len(p) + len(q) for p, q in self._failed) + len(self._pages)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.error("%d harvested pages could not be stored: %s", lost, first)
            if self.stats is not None:
                self.stats.set_value("harvest/db/pages_not_stored", lost)
            if self._problems:
                log.error("%d failed pages could not be recorded", len(self._problems))
        await self._fold_at_end()
        if self._gone and self.stats is not None:
            # A deleted post not recorded is a page harvested and lost.
            log.error("%d gone posts could not be recorded", len(self._gone))
            lost_before = self.stats.get_value("harvest/db/pages_not_stored", 0)
            self.stats.set_value("harvest/db/pages_not_stored", lost_before + len(self._gone))

    async def _on_outcome(self, outcome: Any) -> None:
        await asyncio.to_thread(self._record_walks, outcome.status)
        await asyncio.to_thread(self._finish_run, outcome.status, outcome.why)

    def _record_walks(self, status: str) -> None:
        if not self._walks or self.run_id is None:
            return
        if status != "finished":
            # A post a walk listed may not be harvested: the next crawl lists it again.
            log.info(
                "%d complete walks not recorded: the crawl did not harvest every page, "
                "so the next one walks these listings whole again",
                len(self._walks),
            )
            return
        run_id, walks = self.run_id, self._walks
        try:
            self._with_connection(lambda conn: write_walks(conn, walks, run_id))
        except Exception as exc:
            log.error("could not record %d complete walks: %s", len(walks), _first_line(exc))

    async def _on_closed(self, spider: Any = None, reason: str = "finished") -> None:
        # Without the outcome extension (harvest.crawl.outcome) the run row still
        # ends with the status it would have decided.
        if not self._run_finished:
            stats = self.stats.get_stats() if self.stats is not None else {}
            outcome = decide(stats, reason)
            await asyncio.to_thread(self._finish_run, outcome.status, outcome.why)

    def _run_arguments(self) -> dict[str, Any] | None:
        """The spider's arguments as the run row keeps them, and where pages came from."""
        spider = getattr(self.crawler, "spider", None)
        args = dict(getattr(spider, "harvest_arguments", None) or {})
        base = config.value(self.crawler.settings, "MEDIUM_BASE_URL")
        if base:
            # What the run's rows describe: a mirror's or the simulator's world,
            # not Medium's (the report says so at its top).
            args["medium_base_url"] = base
        job = getattr(spider, "scrapyd_job", None)
        if job:
            # `harvest jobs` finds a scrapyd job's run, and its outcome, by it.
            args["scrapyd_job"] = job
        return args or None

    def _finish_run(self, status: str, why: str) -> None:
        self._run_finished = True
        if self.run_id is not None:
            counts = self._run_counts()
            run_id = self.run_id
            arguments = self._run_arguments()
            try:
                self._with_connection(
                    lambda conn: finish_run(conn, run_id, status, counts, arguments, why)
                )
            except Exception as exc:
                log.error("could not record the end of crawl run %s: %s", run_id, exc)
        with self._pool_lock:
            pool, self._pool = self._pool, []
        # Last: with this connection goes the run's lock, once its row says how it ended.
        pool.append(self._run_conn)
        self._run_conn = None
        for conn in pool:
            with contextlib.suppress(Exception):
                conn.close()

    def _run_counts(self) -> dict[str, Any]:
        if self.stats is None:
            return {}
        return {
            k: v
            for k, v in self.stats.get_stats().items()
            if isinstance(k, str)
            and k.startswith(_RUN_COUNT_PREFIXES)
            and isinstance(v, (int, float, str))
        }

    # -- items --------------------------------------------------------------------

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticlePage):
            self._pages.append(item)
            self._links += len(item.links)
        elif isinstance(item, ProfilePage):
            self._profiles.append(item)
            self._links += len(item.links)
        elif isinstance(item, PageProblem):
            self._problems.append(item)
        elif isinstance(item, PostGone):
            self._gone.append(item)
        else:
            self._passed(item)
            return item
        if (
            len(self._pages) + len(self._profiles) >= self.config.batch_pages
            or self._links >= self.config.batch_links
        ):
            await self.flush()
        return item

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            if self._pages or self._profiles:
                await self.flush()
            if self._problems or self._gone:
                await self._flush_problems()
            if time.monotonic() - self._progress_at >= PROGRESS_SECONDS:
                self._progress_at = time.monotonic()
                await asyncio.to_thread(self._record_progress)

    async def _fold_loop(self) -> None:
        """Fold the summaries every HARVEST_DB_FOLD_INTERVAL seconds, off the writers'
        transactions: a writer only appends its facets (migration 0011). With several
        crawl processes on one database, whichever gets the fold's lock folds for all."""
        while True:
            await asyncio.sleep(self.config.fold_interval)
            try:
                await asyncio.to_thread(
                    self._on_pooled, lambda conn: self._fold(conn, summaries.try_fold)
                )
            except Exception as exc:
                # Not lost: what is pending stays pending for the next fold.
                _log_failure(exc, "could not fold the summaries; trying again later")

    def _fold(self, conn: Any, how: Callable[[Any], int | None]) -> None:
        started = time.perf_counter()
        folded = how(conn)
        if folded is None or self.stats is None:
            return  # another process was folding
        self.stats.inc_value("harvest/db/summaries_folds")
        self.stats.inc_value("harvest/db/summaries_folded", folded)
        self.stats.inc_value(
            "harvest/db/summaries_fold_ms", round((time.perf_counter() - started) * 1000)
        )

    async def _fold_at_end(self) -> None:
        """The crawl's last fold, waiting its turn: after a crawl, the summaries are exact."""
        try:
            await asyncio.to_thread(
                self._with_connection, lambda conn: self._fold(conn, summaries.fold)
            )
        except Exception as exc:
            log.warning(
                "the summaries were not brought up to date (%s); the links are stored, and "
                "`harvest db refresh` folds what is pending",
                _first_line(exc),
            )

    def _record_progress(self) -> None:
        """Write the run's counts so far on the connection that holds it; a lost
        connection is replaced and the run held again."""
        run_id = self.run_id
        if run_id is None or self.dsn is None:
            return
        counts = self._run_counts()
        try:
            if self._run_conn is None or self._run_conn.closed:
                raise psycopg2.InterfaceError("the run's connection was closed")
            record_progress(self._run_conn, run_id, counts)
        except dbconn.RETRYABLE as exc:
            with contextlib.suppress(Exception):
                self._run_conn.close()
            try:
                self._run_conn = dbconn.connect(
                    self.dsn, connect_timeout=self.config.connect_timeout
                )
                hold_run(self._run_conn, run_id)
                record_progress(self._run_conn, run_id, counts)
            except dbconn.RETRYABLE as again:
                log.warning(
                    "could not record run %s's progress (%s; then %s); trying again later",
                    run_id,
                    _first_line(exc),
                    _first_line(again),
                )

    async def _flush_problems(self) -> None:
        """Record pages that yielded nothing, and posts that are gone."""
        await self._record_aside(
            self._gone,
            lambda conn, items, run_id: write_gone(conn, items, run_id, fold=False),
            "gone posts",
            "harvest/db/posts_gone",
        )
        await self._record_aside(
            self._problems, write_problems, "failed pages", "harvest/db/failures_recorded"
        )

    async def _record_aside(
        self, buffer: list[Any], write: Callable[[Any, Any, int | None], int], what: str, stat: str
    ) -> None:
        """Write a side buffer in one transaction; on failure its items stay for the
        next try (the end of the crawl counts what is left as not stored)."""
        items = buffer[:]
        if not items:
            return
        del buffer[:]
        run_id = self.run_id
        try:
            n = await asyncio.to_thread(
                self._with_connection, lambda conn: write(conn, items, run_id)
            )
        except Exception as exc:
            _log_failure(exc, "could not record %d %s; kept for the next try", len(items), what)
            buffer[:0] = items
            return
        if self.stats is not None:
            self.stats.inc_value(stat, n)
        if self.crawler is not None:
            self.crawler.signals.send_catch_log(signal=items_stored, items=items)

    async def flush(self) -> None:
        """Hand what is buffered to a writer; waits only while every writer is busy."""
        if not self._pages and not self._profiles:
            return
        await self._slots.acquire()
        # Take the buffer only now: items that arrived while we waited go along.
        pages, profiles = self._pages, self._profiles
        self._pages, self._profiles, self._links = [], [], 0
        if not pages and not profiles:
            self._slots.release()
            return
        task = asyncio.ensure_future(self._run_batch(pages, profiles))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def drain(self) -> None:
        """Wait until every batch handed to a writer is committed (or given up)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight))

    async def _run_batch(self, pages: list[ArticlePage], profiles: list[ProfilePage]) -> None:
        try:
            result = await asyncio.to_thread(self._write, pages, profiles)
        except Exception as exc:
            _log_failure(
                exc,
                "a batch of %d pages could not be written after %d attempts; "
                "it is kept and tried again when the crawl closes",
                len(pages) + len(profiles),
                self.config.retries,
            )
            if self.stats is not None:
                self.stats.inc_value("harvest/db/batches_deferred")
            self._failed.append((pages, profiles))
        else:
            self._record(result)
            self._stored(pages, profiles)
        finally:
            self._slots.release()

    def _passed(self, item: Any) -> None:
        """An item this store does not keep (a listed post): done as it passes, or the
        shared queue would hold its request for a store that never reports it."""
        if self.crawler is not None:
            self.crawler.signals.send_catch_log(signal=items_stored, items=[item])

    def _stored(self, pages: list[ArticlePage], profiles: list[ProfilePage]) -> None:
        if self.crawler is not None:
            self.crawler.signals.send_catch_log(signal=items_stored, items=[*pages, *profiles])

    def _write(self, pages: list[ArticlePage], profiles: list[ProfilePage]) -> BatchResult:
        """Store a batch; a page the server refuses (its data, not the server) is set
        apart with the reason, and the rest of the batch is stored without it."""
        started = time.perf_counter()
        result = BatchResult()
        rejected: list[tuple[ArticlePage | ProfilePage, str]] = []
        self._write_apart(pages, profiles, result, rejected)
        if rejected:
            self._rejected(rejected)
        log.debug(
            "stored %d pages, %d links in %.3fs",
            result.pages,
            result.links,
            time.perf_counter() - started,
        )
        return result

    def _write_apart(
        self,
        pages: list[ArticlePage],
        profiles: list[ProfilePage],
        result: BatchResult,
        rejected: list[tuple[ArticlePage | ProfilePage, str]],
    ) -> None:
        try:
            part = self._with_connection(
                lambda conn: write_batch(
                    conn, pages, profiles, self.run_id, self.host_ids, fold=False
                )
            )
        except _DATA_ERRORS as exc:
            items: list[ArticlePage | ProfilePage] = [*pages, *profiles]
            if len(items) == 1:
                rejected.append((items[0], _first_line(exc)))
                return
            # Halves until the page the server refuses is alone: every write is an
            # idempotent upsert, so what a failed half stored is simply stored again.
            for half in (items[: len(items) // 2], items[len(items) // 2 :]):
                self._write_apart(
                    [i for i in half if isinstance(i, ArticlePage)],
                    [i for i in half if isinstance(i, ProfilePage)],
                    result,
                    rejected,
                )
            return
        for f in dataclasses.fields(BatchResult):
            setattr(result, f.name, getattr(result, f.name) + getattr(part, f.name))

    def _rejected(self, rejected: list[tuple[ArticlePage | ProfilePage, str]]) -> None:
        for item, why in rejected:
            url = item.url or (item.article.url if isinstance(item, ArticlePage) else "") or ""
            log.error("could not store %s: %s", url[:300], why)
            problem = PageProblem(
                url=url or "(no URL)",
                kind="failed",
                reason=f"could not be stored: {why}"[:2000],
                cause="could not be stored",
            )
            self._problems.append(problem)
            if self.stats is not None:
                count_problem(self.stats, problem)

    def _record(self, result: BatchResult) -> None:
        if self.stats is None:
            return
        inc = self.stats.inc_value
        inc("harvest/db/batches")
        inc("harvest/db/pages", result.pages)
        inc("harvest/db/profiles", result.profiles)
        inc("harvest/db/links", result.links)
        inc("harvest/db/links_new", result.links_new)
        inc("harvest/db/links_seen", result.links_seen)
        inc("harvest/db/links_lost", result.lost)
        if result.previews:
            inc("harvest/db/previews_not_marking_lost", result.previews)
        inc("harvest/db/posts_new", result.new_posts)
        inc("harvest/db/posts_recrawled", result.recrawled_posts)
        if result.duplicate_pages:
            inc("harvest/db/duplicate_pages_in_batch", result.duplicate_pages)
        if result.duplicate_links:
            inc("harvest/db/duplicate_links_in_batch", result.duplicate_links)

    # -- connections --------------------------------------------------------------

    def _on_pooled(self, operation: Callable[[Any], T]) -> T:
        """Run ``operation`` once on a pooled connection."""
        with self._pool_lock:
            conn = self._pool.pop() if self._pool else None
        if conn is None or conn.closed:
            assert self.dsn is not None
            conn = dbconn.connect(self.dsn)
        try:
            value = operation(conn)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()  # its state is unknown: never reuse it
            raise
        with self._pool_lock:
            self._pool.append(conn)
        return value

    def _with_connection(self, operation: Callable[[Any], T]) -> T:
        """Run ``operation`` on a pooled connection, retrying lost connections."""

        def attempt() -> T:
            return self._on_pooled(operation)

        def on_retry(attempt_no: int, exc: BaseException) -> None:
            if self.stats is not None:
                self.stats.inc_value("harvest/db/retries")

        return dbconn.with_retries(
            attempt,
            attempts=self.config.retries,
            max_delay=self.config.retry_max_delay,
            on_retry=on_retry,
        )


def _log_failure(exc: BaseException, message: str, *args: Any) -> None:
    """A database that went away is one line; anything else is a bug, with its traceback."""
    if isinstance(exc, dbconn.RETRYABLE):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.error(message + " (%s)", *args, first)
    else:
        log.error(message, *args, exc_info=(type(exc), exc, exc.__traceback__))


# What the server refuses in a row's data (a NUL, an encoding it cannot store, a
# CHECK a value fails), as opposed to the server being away.
_DATA_ERRORS = (psycopg2.DataError, psycopg2.IntegrityError, ValueError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__
