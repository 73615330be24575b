"""The maintained summaries (declared in :mod:`harvest.db.summary_defs`):
fold, recount, compare, repair.

A writer's statement appends its signed facets to ``summary_pending``, or,
for the links of posts stored for the first time, the posts' ids to
``summary_fresh_posts`` (migration 0024); a fold adds everything pending
(``summary_pending_facets``) to the summary tables in one set-based pass, in
its own transaction, one fold at a time (:func:`fold`, :func:`try_fold`). After a fold
the summaries equal a recount of links and posts; before it, readers say how
many facets wait (:func:`pending`). ``check`` folds, recounts from scratch and
reports, per table, the rows that differ; ``rebuild`` puts the recount in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import psycopg2.extensions

from harvest.db import summary_defs

# table -> its key columns and its counts (declared in summary_defs); a row
# whose counts are all zero is the same as no row (a group whose links all went).
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    s.table: (s.key_columns, tuple(c.column for c in s.counts)) for s in summary_defs.SUMMARIES
}
FOLD_LOCK = summary_defs.FOLD_LOCK

# Readers count pending facets up to this many: past it, "more than".
PENDING_CAP = 1_000_000


def fold(conn: Any) -> int:
    """Fold every pending facet into the summaries (waiting for a fold elsewhere);
    returns the net facets added."""
    folded = _fold(conn, wait=True)
    assert folded is not None
    return folded


def try_fold(conn: Any) -> int | None:
    """Fold unless another process is folding (None: it was; what it did not see
    is left to the next fold)."""
    return _fold(conn, wait=False)


def _fold(conn: Any, *, wait: bool) -> int | None:
    # The fold reads posts as well as the pending facets (a post's groups are
    # those it has now): one snapshot for both, taken once the lock is held, or
    # a post could be newer than the facets that moved it.
    if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        raise ValueError("a fold runs in transactions of its own: end the open one first")
    autocommit = conn.autocommit
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT pg_{'' if wait else 'try_'}advisory_lock(%s, %s)",
            FOLD_LOCK,
        )
        got = wait or bool(cur.fetchone()[0])
    if not got:
        conn.autocommit = autocommit
        return None
    conn.autocommit = False
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("SELECT summaries_fold()")
            return int(cur.fetchone()[0])
    finally:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", FOLD_LOCK)
        conn.autocommit = autocommit


# Changes not in the summaries yet: facets, and new posts' links (counted
# without working out their facets: a reader asks on every command).
_PENDING_SQL = """
SELECT count(*) FROM (
    SELECT 1 FROM summary_pending
    UNION ALL
    SELECT 1 FROM summary_fresh_posts fp,
         LATERAL (SELECT 1 FROM links l WHERE l.post_id = fp.post_id OFFSET 0) l
    LIMIT %s
) p"""


def pending(conn: Any) -> int:
    """Link changes stored and not yet in the summaries (at most PENDING_CAP + 1)."""
    with conn.cursor() as cur:
        cur.execute(_PENDING_SQL, (PENDING_CAP + 1,))
        return int(cur.fetchone()[0])


@dataclass
class CheckResult:
    rows: dict[str, int] = field(default_factory=dict)
    differing: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def agree(self) -> bool:
        return not any(self.differing.values())


# Links per range of a recount: smaller statements spill less. At 10^7 links
# (bench/recount.py, deploy/README.md) 2 million a range took 734 s and
# 2.8 GiB of temporary space at its peak, one range 884 s and 8.3 GiB.
RANGE_LINKS = 2_000_000
# The passes whose ranges read their facets from a spill (summary_defs.spill_sql)
# rather than each from the links: a domain's links lie all over the table,
# so each range of domains read all of it (a sequential scan, 1.9 s a range
# at 10^7 links), 50 times over at 10^8. Posts' links lie together (post ids
# grow as posts are stored), and their ranges read their own pages. A spill
# holds the facets of about SPILL_LINKS links (~145 bytes each at 10^7: it
# is the recount's largest temporary table), so the links are read once per
# that many: once at 10^7, five times at 10^8.
SPILLED: tuple[str, ...] = ("domain_id",)
SPILL_LINKS = 20_000_000
# Whether the recount's statements may be compiled (JIT). Each range's is
# long enough to pass the planner's threshold, and compiling it took 3.2 s
# of a 2 M-link range at 10^7 (EXPLAIN ANALYZE); bench/recount.py --jit
# times both.
RECOUNT_JIT = False
# Range bounds are quantiles of a sample of links' pages, about this many
# links for each range; a harvest of fewer links than the second is read whole.
_SAMPLE_PER_RANGE = 2_000
_SAMPLED_FROM = 1_000_000


def _ranges(cur: Any, column: str, per_range: int) -> list[tuple[int | None, int | None]]:
    """Ranges of ``column`` with about ``per_range`` links each, the first
    from below every value and the last to above. The bounds are quantiles of
    the column over a sample of links' pages (all of them for a small
    harvest): the summaries, which may be wrong or empty, are not read."""
    cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'links'::regclass")
    estimate = int(cur.fetchone()[0])
    if estimate < _SAMPLED_FROM:
        # never analyzed (-1), or small enough to read whole
        cur.execute("SELECT count(*) FROM links")
        estimate = int(cur.fetchone()[0])
    parts = -(-estimate // per_range)
    if parts <= 1:
        return [(None, None)]
    percent = min(100.0, 100.0 * _SAMPLE_PER_RANGE * parts / estimate)
    sample = f" TABLESAMPLE SYSTEM ({percent:.6f}) REPEATABLE (28)" if percent < 100 else ""
    cur.execute(
        f"SELECT DISTINCT unnest(percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY {column})) "
        f"FROM links{sample} ORDER BY 1",
        ([n / parts for n in range(1, parts)],),
    )
    bounds = [int(r[0]) for r in cur.fetchall() if r[0] is not None]
    return list(zip([None, *bounds], [*bounds, None], strict=True))


def _recount(cur: Any, *, place: bool, per_range: int, result: CheckResult | None = None) -> None:
    """Recount every summary range by range: compare each with its table
    into ``result``, or (``place``) insert it into its emptied table."""
    ranges = {column: _ranges(cur, column, per_range) for column in summary_defs.PASSES}
    if not RECOUNT_JIT:
        cur.execute("SET LOCAL jit = off")
    if place:
        cur.execute(f"TRUNCATE {', '.join(TABLES)}")
    cur.execute(summary_defs.accumulators_sql(place=place))
    for column in summary_defs.PASSES:
        _recount_pass(cur, column, ranges[column], place=place, per_range=per_range, result=result)
    for s in summary_defs.SUMMARIES:
        if not summary_defs.accumulated(s, place=place):
            continue
        recount = f"pg_temp.recount_{s.table}"
        if place:
            cur.execute(f"INSERT INTO {s.table} SELECT * FROM {recount} ORDER BY {s.order}")
        if result is not None:
            cur.execute(f"SELECT count(*) FROM {recount}")
            result.rows[s.table] = cur.fetchone()[0]
            cur.execute(s.difference_sql(recount))
            result.differing[s.table] = cur.fetchone()[0]
        cur.execute(f"DROP TABLE {recount}")


def _recount_pass(
    cur: Any,
    column: str,
    ranges: list[tuple[int | None, int | None]],
    *,
    place: bool,
    per_range: int,
    result: CheckResult | None,
) -> None:
    per_spill = max(1, SPILL_LINKS // per_range) if column in SPILLED else 1
    for first in range(0, len(ranges), per_spill):
        chunk = ranges[first : first + per_spill]
        spill = len(chunk) > 1
        if spill:
            for statement in summary_defs.spill_sql(column, chunk):
                cur.execute(statement)
        for n, (low, high) in enumerate(chunk):
            spilled = summary_defs.spill_table(column, n) if spill else None
            cur.execute(summary_defs.range_sql(column, low, high, place=place, spilled=spilled))
            for table, rows, differing in cur.fetchall():
                if result is not None:
                    result.rows[table] += rows
                    result.differing[table] += differing
            if spilled is not None:
                # the temporary space shrinks range by range
                cur.execute(f"DROP TABLE {spilled}")
        if spill:
            cur.execute(f"DROP TABLE {summary_defs.spill_table(column)}")


def check(conn: Any, *, per_range: int = RANGE_LINKS) -> CheckResult:
    """Recount every summary from links and posts; count the rows that differ."""
    result = CheckResult()
    started = time.perf_counter()
    with conn.cursor() as cur:
        # Held for the session: the fold below runs in a snapshot taken before
        # its own lock would be, and must not meet a fold committed since.
        cur.execute("SELECT pg_advisory_lock(%s, %s)", FOLD_LOCK)
    conn.commit()
    try:
        _check(conn, result, per_range)
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", FOLD_LOCK)
        conn.commit()
    result.seconds = time.perf_counter() - started
    return result


def _check(conn: Any, result: CheckResult, per_range: int) -> None:
    with conn, conn.cursor() as cur:
        # One snapshot for the fold, the recount and the comparison: a writer
        # committing in between cannot make them disagree.
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("SELECT summaries_fold()")
        result.rows = dict.fromkeys(TABLES, 0)
        result.differing = dict.fromkeys(TABLES, 0)
        _recount(cur, place=False, per_range=per_range, result=result)


def rebuild(conn: Any, *, per_range: int = RANGE_LINKS) -> float:
    """Replace every summary by a recount; returns the seconds it took."""
    started = time.perf_counter()
    with conn, conn.cursor() as cur:
        # Writers wait for the rebuild instead of adding to tables it replaces.
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", FOLD_LOCK)
        cur.execute("LOCK TABLE links, posts IN SHARE MODE")
        # What is pending is in links and posts already: the recount counts it.
        cur.execute("DELETE FROM summary_pending")
        cur.execute("DELETE FROM summary_fresh_posts")
        _recount(cur, place=True, per_range=per_range)
    return time.perf_counter() - started
