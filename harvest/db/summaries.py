"""The maintained summaries (migrations 0006, 0008 and 0009): recount, compare, repair.

The triggers keep the summary tables equal to a recount of links and posts in
the writer's own transaction. ``check`` recounts from scratch and reports, per
table, the rows that differ; ``rebuild`` puts the recount in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

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
        ("domain_id", "month", "placement", "reason"),
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
    "domain_posts": (("domain_id", "post_id"), ("links", "dofollow")),
    "domain_authors": (("domain_id", "author_id"), ("links",)),
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
    with conn, conn.cursor() as cur:
        # One snapshot for the recount and the comparison: a writer committing
        # in between cannot make them disagree.
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("SELECT summaries_recount()")
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM pg_temp.recount_{table}")
            result.rows[table] = cur.fetchone()[0]
            cur.execute(_difference_sql(table))
            result.differing[table] = cur.fetchone()[0]
            cur.execute(f"DROP TABLE pg_temp.recount_{table}")
    result.seconds = time.perf_counter() - started
    return result


def rebuild(conn: Any) -> float:
    """Replace every summary by a recount; returns the seconds it took."""
    started = time.perf_counter()
    with conn, conn.cursor() as cur:
        # Writers wait for the rebuild instead of adding to tables it replaces.
        cur.execute("LOCK TABLE links, posts IN SHARE MODE")
        cur.execute("SELECT summaries_rebuild()")
    return time.perf_counter() - started
