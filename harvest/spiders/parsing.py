"""Parsing off the crawler's own core.

Scrapy runs downloads, scheduling and pipelines on one thread; parsing a
150 KB page costs about as much CPU as downloading it. With
HARVEST_PARSE_WORKERS > 0 pages are parsed in that many worker processes
(started with "spawn": forking a process that runs a reactor and threads is
not safe), so the crawler uses a second core. 0 parses in the crawler itself.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from harvest.medium import PageResult, extract


def default_workers() -> int:
    # Measured on 2 cores (bench/crawl.py, 3,000 pages): one worker process
    # made the crawl slower (96 vs 130 pages/s), as the second core already
    # serves PostgreSQL and the crawler's threads, and every page and result
    # crosses a pipe. Worth trying with HARVEST_PARSE_WORKERS on 4+ cores.
    return 0


class Parser:
    """extract() inline or in a process pool, awaited the same way."""

    def __init__(self, workers: int) -> None:
        if workers < 0:
            raise ValueError("HARVEST_PARSE_WORKERS must be 0 or more")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers:
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn")
            )

    @classmethod
    def from_settings(cls, settings: Any) -> Parser:
        raw = settings.get("HARVEST_PARSE_WORKERS")
        return cls(default_workers() if raw in (None, "") else int(raw))

    async def parse(
        self,
        body: bytes | str,
        url: str | None,
        content_type: str | None,
        internal_hosts: Sequence[str],
    ) -> PageResult:
        if self._pool is None:
            return extract(body, url, content_type=content_type, internal_hosts=internal_hosts)
        future = self._pool.submit(_extract, body, url, content_type, tuple(internal_hosts))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _extract(
    body: bytes | str, url: str | None, content_type: str | None, internal_hosts: tuple[str, ...]
) -> PageResult:
    return extract(body, url, content_type=content_type, internal_hosts=internal_hosts)
