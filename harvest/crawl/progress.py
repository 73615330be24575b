"""A progress line every HARVEST_PROGRESS_INTERVAL seconds while a crawl runs.

Scrapy's LogStats says "Crawled N pages" once a minute; a harvest wants to
know more and sooner: pages fetched and their rate, pages stored, what is
still queued, and what went wrong so far.

In a terminal the line is drawn in place at the bottom, under the log (a log
record clears it first, the next tick draws it again), and written into the
log once at the end; anywhere else (a pipe, a file, scrapyd) it is a log line
each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

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


class StatusLine(logging.Filter):
    """One line at the foot of a terminal, redrawn in place."""

    _CLEAR = "\r\x1b[K"

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.shown = False

    def show(self, text: str) -> None:
        width = shutil.get_terminal_size((120, 24)).columns
        # (the line is harvest's own counts: nothing in it acts on the terminal)
        self.stream.write(self._CLEAR + text[: max(width - 1, 10)])
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write(self._CLEAR)
            self.stream.flush()
            self.shown = False

    def filter(self, record: logging.LogRecord) -> bool:
        # a log line is about to be written to the same terminal
        self.clear()
        return True

    @classmethod
    def on_terminal(cls) -> StatusLine | None:
        """A status line on stderr, if stderr is a terminal the log goes to."""
        if not sys.stderr.isatty():
            return None
        handlers = [
            h
            for h in logging.getLogger().handlers
            if isinstance(h, logging.StreamHandler) and h.stream is sys.stderr
        ]
        if not handlers:
            return None
        status = cls(sys.stderr)
        for handler in handlers:
            handler.addFilter(status)
        return status

    def detach(self) -> None:
        self.clear()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self)


class Progress:
    def __init__(self, crawler: Any, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._status: StatusLine | None = None
        self._last_line: str | None = None
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Progress:
        interval = config.value(crawler.settings, "HARVEST_PROGRESS_INTERVAL")
        if not interval:
            raise NotConfigured("HARVEST_PROGRESS_INTERVAL is 0")
        return cls(crawler, float(interval))

    def _opened(self, spider: Any = None) -> None:
        self._status = StatusLine.on_terminal()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        started = time.monotonic()
        last = (0.0, 0)
        while True:
            await asyncio.sleep(self.interval)
            stats = self.crawler.stats.get_stats()
            elapsed = time.monotonic() - started
            line = progress_line(stats, elapsed, last)
            if self._status is not None:
                self._status.show(line)
                self._last_line = line
            else:
                log.info("%s", line)
            last = (elapsed, int(stats.get("response_received_count", 0) or 0))

    async def _closed(self, spider: Any = None, reason: str = "") -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._status is not None:
            self._status.detach()
            if self._last_line:
                # the last state stays in the log and the scrollback
                log.info("%s", self._last_line)
