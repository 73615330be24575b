"""The maintained summaries (migrations 0006 and 0008-0019): fold, recount,
compare, repair.

A writer's statement appends its signed facets to ``summary_pending``; a fold
adds everything pending to the summary tables in one set-based pass, in its own
transaction, one fold at a time (:func:`fold`, :func:`try_fold`). After a fold
the summaries equal a recount of links and posts; before it, readers say how
many facets wait (:func:`pending`). ``check`` folds, recounts from scratch and
reports, per table, the rows that differ; ``rebuild`` puts the recount in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import psycopg2.extensions

# table -> its columns (key and counters); a maintained row whose counters are
# all zero is the same as no row (a group whose links all went).
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "domain_totals": (
        ("domain_id",),
        (
            "links",
            "lost",
            "nofollow",
            "ugc",
            "sponsored",
            "dofollow",
            "passing",
            "posts",
            "authors",
            "publications",
        ),
    ),
    "domain_stats": (
        ("domain_id", "year", "placement", "reason"),
        ("links", "lost", "nofollow", "ugc", "sponsored", "dofollow", "lost_dofollow"),
    ),
    "group_stats": (
        ("publication_id", "tag", "year", "placement", "reason"),
        ("links", "lost", "nofollow", "ugc", "sponsored", "dofollow", "lost_dofollow"),
    ),
    "tag_stats": (
        ("tag", "year", "placement", "reason"),
        ("links", "lost", "nofollow", "ugc", "sponsored", "dofollow", "lost_dofollow"),
    ),
    "publication_stats": (
        ("publication_id", "placement"),
        ("links", "nofollow", "ugc", "sponsored", "dofollow"),
    ),
    "domain_dofollow_posts": (("domain_id", "post_id"), ("dofollow",)),
    "domain_publications": (
        ("domain_id", "publication_id"),
        ("links", "nofollow", "ugc", "sponsored", "dofollow"),
    ),
    "post_groups": (("post_id", "publication_id", "year", "tags"), ("links", "dofollow")),
    "group_posts": (("publication_id", "tag", "year"), ("posts",)),
    "publication_domains": (("publication_id", "domain_id"), ("posts",)),
    "tag_domains": (
        ("tag", "domain_id"),
        ("links", "nofollow", "ugc", "sponsored", "dofollow", "posts"),
    ),
    "tag_publications": (
        ("tag", "publication_id", "placement"),
        ("links", "nofollow", "ugc", "sponsored", "dofollow"),
    ),
    "tag_dofollow_posts": (("tag", "post_id"), ("dofollow",)),
    "group_domain_totals": (("tag", "publication_id"), ("domains",)),
    "seen_stats": (
        ("seen", "year", "placement", "reason"),
        ("links", "lost", "nofollow", "ugc", "sponsored", "dofollow", "lost_dofollow"),
    ),
    "seen_publications": (
        ("seen", "publication_id", "placement"),
        ("links", "nofollow", "ugc", "sponsored", "dofollow"),
    ),
    "seen_tags": (("seen", "tag"), ("links", "nofollow", "ugc", "sponsored", "dofollow")),
    "seen_domains": (("seen", "domain_id"), ("links", "nofollow", "ugc", "sponsored", "dofollow")),
    "seen_posts": (("seen", "post_id"), ("links", "dofollow")),
    # a row here is never all zeros: the month is the row's whole content
    "domain_last_seen": (("domain_id", "seen"), ()),
    "post_last_seen": (("post_id", "seen"), ()),
    "seen_last_counts": (("seen",), ("domains", "posts")),
}


# The fold's advisory lock ('hrfd', 0): the same in summaries_fold().
FOLD_LOCK = (0x68726664, 0)
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


def pending(conn: Any) -> int:
    """Facets written and not yet in the summaries (at most PENDING_CAP + 1)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM (SELECT 1 FROM summary_pending LIMIT %s) p", (PENDING_CAP + 1,)
        )
        return int(cur.fetchone()[0])


@dataclass
class CheckResult:
    rows: dict[str, int] = field(default_factory=dict)
    differing: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def agree(self) -> bool:
        return not any(self.differing.values())


def _difference_sql(table: str) -> str:
    key, counters = TABLES[table]
    columns = ", ".join((*key, *counters))
    nonzero = " OR ".join(f"{c} <> 0" for c in counters) or "true"
    # Table and column names are the constants above.
    return (
        f"SELECT count(*) FROM ((SELECT {columns} FROM {table} WHERE {nonzero} "
        f"EXCEPT ALL SELECT {columns} FROM pg_temp.recount_{table}) UNION ALL "
        f"(SELECT {columns} FROM pg_temp.recount_{table} "
        f"EXCEPT ALL SELECT {columns} FROM {table} WHERE {nonzero})) d"
    )


def check(conn: Any) -> CheckResult:
    """Recount every summary from links and posts; count the rows that differ."""
    result = CheckResult()
    started = time.perf_counter()
    with conn.cursor() as cur:
        # Held for the session: the fold below runs in a snapshot taken before
        # its own lock would be, and must not meet a fold committed since.
        cur.execute("SELECT pg_advisory_lock(%s, %s)", FOLD_LOCK)
    conn.commit()
    try:
        _check(conn, result)
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", FOLD_LOCK)
        conn.commit()
    result.seconds = time.perf_counter() - started
    return result


def _check(conn: Any, result: CheckResult) -> None:
    with conn, conn.cursor() as cur:
        # One snapshot for the fold, the recount and the comparison: a writer
        # committing in between cannot make them disagree.
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("SELECT summaries_fold()")
        cur.execute("SELECT summaries_recount()")
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM pg_temp.recount_{table}")
            result.rows[table] = cur.fetchone()[0]
            cur.execute(_difference_sql(table))
            result.differing[table] = cur.fetchone()[0]
            cur.execute(f"DROP TABLE pg_temp.recount_{table}")


def rebuild(conn: Any) -> float:
    """Replace every summary by a recount; returns the seconds it took."""
    started = time.perf_counter()
    with conn, conn.cursor() as cur:
        # Writers wait for the rebuild instead of adding to tables it replaces.
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", FOLD_LOCK)
        cur.execute("LOCK TABLE links, posts IN SHARE MODE")
        # What is pending is in links and posts already: the recount counts it.
        cur.execute("DELETE FROM summary_pending")
        cur.execute("SELECT summaries_rebuild()")
    return time.perf_counter() - started
