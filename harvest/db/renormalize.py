"""Stored target URLs put in the form today's rules give them (`harvest db renormalize`).

When harvest.links changes how it reads a URL (the WHATWG parser resolving dot
segments, IPv4 forms, escapes), rows stored under the old rules hold URLs that
today's crawl would write differently: the same page under two identities.
This reads every distinct target URL once, and for each that the rules now
write differently moves its rows to the new URL (with the host and domain that
go with it). Where a row already exists under the new URL for the same post,
location and position, the two become one: the earliest first_seen, the latest
last_seen, live if either is, and the attributes of the one seen last. The raw
href keeps what was stored. A URL today's rules refuse is left as it is and
counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harvest.db import summaries
from harvest.db.store import HostIds, copy_field, copy_text, dictionary_ids
from harvest.links import host_of, normalize_url, registered_domain

BATCH = 20_000


@dataclass(slots=True)
class Renormalized:
    urls: int = 0  # distinct target URLs read
    changed: int = 0  # of them, written differently today
    refused: int = 0  # not a URL under today's rules: left as stored
    links: int = 0  # post link rows moved to a new URL
    author_links: int = 0
    merged: int = 0  # rows that became one with a row already under the new URL

    def lines(self, dry_run: bool) -> list[str]:
        verb = "would move" if dry_run else "moved"
        return [
            f"{self.urls} stored target URLs read; {self.changed} are written differently "
            f"by today's rules, {self.refused} are no URL under them (left as stored)",
            f"{verb} {self.links} post links and {self.author_links} author links"
            + ("" if dry_run else f"; {self.merged} merged with a row already there"),
        ]


# Per table: the columns that place a row, and the attributes a merge takes
# from the row seen last.
_TABLES = {
    "links": (
        ("post_id", "location", "position"),
        ("anchor_text", "kind", "block", "rel_id", "nofollow", "ugc", "sponsored"),
    ),
    "author_links": (
        ("author_id", "position"),
        ("anchor_text", "rel", "nofollow", "ugc", "sponsored"),
    ),
}


def _distinct_urls(conn: Any) -> Iterator[str]:
    cur = conn.cursor(name="harvest_renormalize")
    cur.itersize = BATCH
    cur.execute("SELECT target_url FROM links UNION SELECT target_url FROM author_links")
    try:
        for (url,) in cur:
            yield url
    finally:
        cur.close()


def plan(conn: Any, result: Renormalized) -> dict[str, str]:
    """old URL -> new URL for every stored URL today's rules write differently."""
    moves: dict[str, str] = {}
    for url in _distinct_urls(conn):
        result.urls += 1
        new = normalize_url(url)
        if new is None:
            result.refused += 1
        elif new != url:
            moves[url] = new
    result.changed = len(moves)
    conn.rollback()
    return moves


def _move_sql(table: str) -> str:
    """Rows under an old URL, inserted under the new one: rows of one place that
    meet under one new URL first become one (earliest first_seen, latest
    last_seen, live if any is, attributes of the newest), then merge the same
    way with a row already there."""
    owner, attrs = _TABLES[table]
    place = ", ".join(f"l.{c}" for c in owner)
    window = f"PARTITION BY {place}, m.new_url"
    columns = [*owner, "target_url", "target_url_raw", "host_id", "domain_id", *attrs]
    picked = [
        *(f"l.{c}" for c in owner),
        "m.new_url",
        "coalesce(l.target_url_raw, l.target_url)",
        "m.host_id",
        "m.domain_id",
        *(f"l.{c}" for c in attrs),
    ]
    newer = "EXCLUDED.last_seen > t.last_seen"
    take = ",\n    ".join(
        f"{c} = CASE WHEN {newer} THEN EXCLUDED.{c} ELSE t.{c} END" for c in attrs
    )
    return f"""
WITH moved AS (
    SELECT DISTINCT ON ({place}, m.new_url) {", ".join(picked)},
           min(l.first_seen) OVER w AS first_seen,
           max(l.last_seen) OVER w AS last_seen,
           CASE WHEN bool_or(l.lost_at IS NULL) OVER w THEN NULL ELSE max(l.lost_at) OVER w END
               AS lost_at
    FROM {table} l
    JOIN renormalize_map m ON l.target_url = m.old_url
    WINDOW w AS ({window})
    ORDER BY {place}, m.new_url, l.last_seen DESC
)
INSERT INTO {table} AS t ({", ".join(columns)}, first_seen, last_seen, lost_at)
SELECT * FROM moved
ON CONFLICT ({", ".join(owner)}, (url_key(target_url))) DO UPDATE SET
    first_seen = least(t.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(t.last_seen, EXCLUDED.last_seen),
    lost_at = CASE WHEN t.lost_at IS NULL OR EXCLUDED.lost_at IS NULL THEN NULL
                   ELSE greatest(t.lost_at, EXCLUDED.lost_at) END,
    target_url_raw = coalesce(t.target_url_raw, EXCLUDED.target_url_raw),
    {take}
RETURNING (xmax = 0) AS fresh
"""


_MOVE = {table: _move_sql(table) for table in _TABLES}
_DELETE = {
    table: f"DELETE FROM {table} l USING renormalize_map m WHERE l.target_url = m.old_url"
    for table in _TABLES
}
_COUNT = {table: f"SELECT count(*) FROM {table} WHERE target_url = ANY(%s)" for table in _TABLES}

_MAP_SQL = """
CREATE TEMP TABLE renormalize_map (
    old_url text PRIMARY KEY, new_url text NOT NULL, host_id bigint NOT NULL,
    domain_id bigint NOT NULL
) ON COMMIT DROP
"""


def apply(conn: Any, moves: dict[str, str], result: Renormalized) -> None:
    """Move every row of ``moves``' old URLs, in one transaction."""
    if not moves:
        return
    hosts: dict[str, str] = {}
    for new in moves.values():
        host = host_of(new)
        assert host is not None, new  # normalize_url gave it, with a host
        hosts[host] = registered_domain(host) or host
    with conn, conn.cursor() as cur:
        cache = HostIds()
        fresh, domains = dictionary_ids(cur, hosts, cache)
        cache.commit(fresh, domains)
        ids = cache.lookup(hosts, {})
        cur.execute(_MAP_SQL)
        lines = []
        for old, new in moves.items():
            host_id, domain_id = ids[host_of(new) or ""]
            lines.append(f"{copy_field(old)}\t{copy_field(new)}\t{host_id}\t{domain_id}\n")
        copy_text(cur, "renormalize_map", ("old_url", "new_url", "host_id", "domain_id"), lines)
        cur.execute("ANALYZE renormalize_map")
        for table in _TABLES:
            cur.execute(_MOVE[table])
            inserted = sum(1 for (is_new,) in cur.fetchall() if is_new)
            cur.execute(_DELETE[table])
            moved = cur.rowcount
            setattr(result, table, moved)
            result.merged += moved - inserted
    summaries.fold(conn)


def count_rows(conn: Any, moves: dict[str, str], result: Renormalized) -> None:
    """For a dry run: how many rows each table holds under the old URLs."""
    with conn.cursor() as cur:
        for table in _TABLES:
            cur.execute(_COUNT[table], (list(moves),))
            row = cur.fetchone()
            setattr(result, table, int(row[0]) if row else 0)
    conn.rollback()


def renormalize(conn: Any, *, dry_run: bool = False) -> Renormalized:
    result = Renormalized()
    moves = plan(conn, result)
    if dry_run:
        count_rows(conn, moves, result)
    else:
        apply(conn, moves, result)
    return result
