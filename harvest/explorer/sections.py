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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from harvest.db import explore, queries
from harvest.db.queries import BacklinkPage, LinkFilters, Rows
from harvest.db.readers import ReaderPool

log = logging.getLogger(__name__)

# Groups kept per sort: twenty pages of 25.
KEEP = 500
# Domains with at least this many live links (HARVEST_EXPLORER_LARGE) are
# grouped at start-up and filtered in the background: fewer group in under
# ~150 ms (3.2 µs a link at 10^7, bench/explorer.py).
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


# A result computed in the background serves pages for this long after a
# write made it stale: while a crawl writes, the counters move every second,
# and a page must not wait for a recount that a second write outdates again.
STALE_OK = 60.0


class NotYet(Exception):
    """The answer is being worked out in the background: the page asks again."""


class SectionCache:
    """Least recently used results, each under the freshness it was computed at.

    ``later`` answers are worked out on a thread of their own, with a
    connection of their own, while the page that asked says so and asks again
    (NotYet): no page waits seconds for a pass over a large domain's links."""

    def __init__(self, entries: int = ENTRIES, pool: ReaderPool | None = None) -> None:
        self._entries: OrderedDict[Hashable, tuple[tuple[Any, ...], Any, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = entries
        self.pool = pool
        self._running: set[Hashable] = set()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harvest-serve-work")
        self.hits = self.misses = 0

    def _get(
        self,
        conn: Any,
        key: Hashable,
        fresh: tuple[Any, ...],
        compute: Callable[[Any], Any],
        later: bool = False,
    ) -> Any:
        with self._lock:
            found = self._entries.get(key)
            if found is not None and (
                found[0] == fresh or (later and time.monotonic() - found[2] < STALE_OK)
            ):
                self._entries.move_to_end(key)
                self.hits += 1
                return found[1]
            if later and self.pool is not None:
                if key not in self._running:
                    self._running.add(key)
                    self._worker.submit(self._in_background, key, fresh, compute)
                raise NotYet
        value = compute(conn)
        self._keep(key, fresh, value)
        return value

    def _keep(self, key: Hashable, fresh: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self.misses += 1
            self._entries[key] = (fresh, value, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def _in_background(
        self, key: Hashable, fresh: tuple[Any, ...], compute: Callable[[Any], Any]
    ) -> None:
        assert self.pool is not None
        try:
            with self.pool.connection() as conn:
                self._keep(key, fresh, compute(conn))
        except Exception:  # the page asks again, and says what the log says
            log.exception("working out %r failed", key)
        finally:
            with self._lock:
                self._running.discard(key)

    def tops(
        self,
        conn: Any,
        target: explore.Target,
        grouping: str,
        filters: LinkFilters,
        later: bool = False,
    ) -> Tops:
        key = ("tops", target.domain_id, target.host_id, grouping, filters)
        return self._get(  # type: ignore[no-any-return]
            conn,
            key,
            explore.freshness(conn, target),
            lambda c: tops_of(*explore.grouped_tops(c, target, grouping, filters, KEEP)),
            later,
        )

    def months(
        self, conn: Any, target: explore.Target, filters: LinkFilters, later: bool = False
    ) -> Rows:
        key = ("months", target.domain_id, target.host_id, filters)
        return self._get(  # type: ignore[no-any-return]
            conn,
            key,
            explore.freshness(conn, target),
            lambda c: explore.months(c, target, filters),
            later,
        )

    def backlinks(
        self,
        conn: Any,
        target: explore.Target,
        filters: LinkFilters,
        limit: int,
        after: str | None,
        before: str | None,
        later: bool = True,
    ) -> BacklinkPage:
        """A filtered page of a large domain's backlinks, worked out in the
        background: a rare filter walks most of the domain's links."""
        key = ("backlinks", target.domain_id, target.host_id, filters, limit, after, before)
        return self._get(  # type: ignore[no-any-return]
            conn,
            key,
            explore.freshness(conn, target),
            lambda c: queries.backlinks(
                c, target.name, filters=filters, limit=limit, after=after, before=before
            ),
            later,
        )

    def intersect(
        self, conn: Any, theirs: list[str], mine: list[str], by: str, sort: str, limit: int,
        offset: int, later: bool = True,
    ) -> Rows:  # fmt: skip
        """Link intersect, worked out in the background and then kept as the
        groupings are: its cost grows with the domains named."""
        key = ("intersect", tuple(theirs), tuple(mine), by, sort, limit, offset)
        return self._get(  # type: ignore[no-any-return]
            conn,
            key,
            explore.freshness(conn),
            lambda c: explore.intersect(
                c, theirs, mine, by=by, sort=sort, limit=limit, offset=offset
            ),
            later,
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
