"""A domain's groupings (anchors, targets, authors, publications) and its months,
kept in memory for as long as nothing was written since.

At 10^7 links the most linked domain has ~560,000 of them, and grouping them
takes ~2 s whatever the index (PostgreSQL reads each row's heap tuple): no page
may wait that long. A summary table per domain and anchor would be as large as
``links`` and cost every write. Instead the explorer keeps, per domain and
filter, the first ``KEEP`` groups by each sort (one pass over the links finds
all four), checks on every use that no crawl has written since (one indexed
read), and at start-up computes them, in the background, for the domains large
enough to be slow. Pages past ``KEEP`` rows are queried as asked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from harvest.db import explore
from harvest.db.queries import LinkFilters, Rows
from harvest.db.readers import ReaderPool

log = logging.getLogger(__name__)

# Groups kept per sort: twenty pages of 25.
KEEP = 500
# Domains with at least this many live links are grouped at start-up: fewer
# group in under ~150 ms (3.2 µs a link at 10^7, bench/explorer.py).
WARM_FROM = 40_000
ENTRIES = 256


@dataclass(frozen=True)
class Tops:
    """The first groups by each sort, and whether they are all there are."""

    columns: list[str]
    by_sort: dict[str, list[tuple[Any, ...]]]
    complete: bool

    def page(self, sort: str, offset: int, limit: int) -> list[tuple[Any, ...]] | None:
        """Rows [offset, offset + limit) by ``sort``, or None past what is kept."""
        rows = self.by_sort[sort]
        if self.complete or offset + limit <= len(rows):
            return rows[offset : offset + limit]
        return None


def tops_of(rows: Rows, groups: int) -> Tops:
    columns, found = rows
    by_sort = {}
    for sort in explore.GROUP_SORTS:
        at = columns.index(sort)

        def order(row: tuple[Any, ...], at: int = at) -> tuple[int, str]:
            return -row[at], row[0]

        by_sort[sort] = sorted(found, key=order)[:KEEP]
    return Tops(columns, by_sort, complete=groups <= KEEP)


class SectionCache:
    """Least recently used results, each under the freshness it was computed at."""

    def __init__(self, entries: int = ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = entries
        self.hits = self.misses = 0

    def _get(self, key: Hashable, fresh: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == fresh:
                self._entries.move_to_end(key)
                self.hits += 1
                return found[1]
        value = compute()
        with self._lock:
            self.misses += 1
            self._entries[key] = (fresh, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value

    def tops(self, conn: Any, target: explore.Target, grouping: str, filters: LinkFilters) -> Tops:
        key = ("tops", target.domain_id, target.host_id, grouping, filters)
        return self._get(  # type: ignore[no-any-return]
            key,
            explore.freshness(conn, target),
            lambda: tops_of(*explore.grouped_tops(conn, target, grouping, filters, KEEP)),
        )

    def months(self, conn: Any, target: explore.Target, filters: LinkFilters) -> Rows:
        key = ("months", target.domain_id, target.host_id, filters)
        return self._get(  # type: ignore[no-any-return]
            key, explore.freshness(conn, target), lambda: explore.months(conn, target, filters)
        )

    def intersect(
        self, conn: Any, theirs: list[str], mine: list[str], by: str, sort: str, limit: int,
        offset: int,
    ) -> Rows:  # fmt: skip
        """Link intersect, kept as the groupings are: a second look is free."""
        key = ("intersect", tuple(theirs), tuple(mine), by, sort, limit, offset)
        return self._get(  # type: ignore[no-any-return]
            key,
            explore.freshness(conn),
            lambda: explore.intersect(
                conn, theirs, mine, by=by, sort=sort, limit=limit, offset=offset
            ),
        )

    def warm(
        self,
        pool: ReaderPool,
        least: int = WARM_FROM,
        done: Callable[[int, float], None] | None = None,
    ) -> threading.Thread:
        """Group the large domains' links now, in a thread of their own; ``done``
        hears how many domains, and how long it took."""

        def run() -> None:
            started = time.monotonic()
            try:
                with pool.connection() as conn:
                    names = explore.large_domains(conn, least)
                    for name in names:
                        target = explore.find_target(conn, name)
                        if target is None:
                            continue
                        for grouping in explore.GROUPINGS:
                            self.tops(conn, target, grouping, LinkFilters())
                        self.months(conn, target, LinkFilters())
            except Exception:  # a page computes its own when this cannot
                log.exception("grouping the large domains ahead failed")
                return
            if done is not None:
                done(len(names), time.monotonic() - started)

        thread = threading.Thread(target=run, name="harvest-serve-warm", daemon=True)
        thread.start()
        return thread
