"""The exports' rows: what `harvest export` streams, as SQL.

Rows come from a server-side (named) cursor in batches, so memory stays flat
whatever the table size; harvest.analysis.exports formats them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from harvest import cells
from harvest.db.report_numbers import (
    FILTER_WHERE,
    LINK_JOINS,
    PLACEMENT_SQL,
    REASON_SQL,
    REL_SQL,
    Filters,
)

BATCH = 20_000
Batches = Iterator[list[tuple[Any, ...]]]

QUERIES = {
    "links": f"""SELECT p.medium_id AS post_id, coalesce(p.canonical_url, p.url) AS post_url,
       p.title AS post_title, a.username AS author, a.name AS author_name,
       coalesce(pub.slug, pub.key) AS publication, pub.name AS publication_name,
       p.first_published_at, l.target_url,
       l.target_url_raw, h.host, d.domain, l.location, {PLACEMENT_SQL} AS placement, l.kind,
       l.position, l.anchor_text, {REL_SQL} AS rel, l.nofollow, l.ugc,
       l.sponsored, {REASON_SQL} = 'follow' AS passes, {REASON_SQL} AS reason,
       l.first_seen, l.last_seen, l.lost_at
{LINK_JOINS}
{FILTER_WHERE}
ORDER BY l.post_id, l.location, l.position, url_key(l.target_url)""",
    "posts": f"""SELECT p.medium_id AS post_id, coalesce(p.canonical_url, p.url) AS post_url,
       p.title AS post_title, a.username AS author, coalesce(pub.slug, pub.key) AS publication,
       array_to_string(p.tags, ',') AS tags, p.first_published_at, p.last_crawled_at,
       p.status AS post_status, p.status_at AS post_status_at, p.access AS post_access,
       p.complete AS post_complete, array_to_string(p.robots, ',') AS robots,
       array_to_string(p.x_robots, ',') AS x_robots, p.canonical_elsewhere, p.word_count,
       p.language, p.claps, p.responses, p.author_followers, p.publication_followers,
       count(*) FILTER (WHERE l.lost_at IS NULL) AS links,
       count(*) FILTER (WHERE l.lost_at IS NULL AND NOT (l.nofollow OR l.ugc OR l.sponsored))
           AS dofollow_links,
       count(*) FILTER (WHERE {REASON_SQL} = 'follow') AS passing_links
{LINK_JOINS}
{FILTER_WHERE}
GROUP BY p.post_id, a.username, pub.slug, pub.key
ORDER BY p.post_id""",
    "domains": f"""SELECT d.domain, count(*) AS links, count(DISTINCT l.post_id) AS posts,
       count(DISTINCT p.author_id) AS authors,
       count(*) FILTER (WHERE l.nofollow) AS nofollow_links,
       count(*) FILTER (WHERE NOT (l.nofollow OR l.ugc OR l.sponsored)) AS dofollow_links,
       count(*) FILTER (WHERE {REASON_SQL} = 'follow') AS passing_links,
       round(avg(l.nofollow::int), 4) AS nofollow_share
{LINK_JOINS}
{FILTER_WHERE} AND l.lost_at IS NULL
GROUP BY d.domain
ORDER BY links DESC, d.domain""",
}

# Graph edges: who (a publication, or the author of a post outside any
# publication; with level "author" always the author) links to which target.
_GRAPH = {
    "domain": (
        "coalesce('publication:' || coalesce(pub.slug, pub.key), 'author:' || a.username)",
        "d.domain",
    ),
    "host": (
        "coalesce('publication:' || coalesce(pub.slug, pub.key), 'author:' || a.username)",
        "h.host",
    ),
    "author": ("'author:' || a.username", "d.domain"),
}


GRAPH_LEVELS = tuple(_GRAPH)


def _graph_sql(level: str) -> str:
    source, target = _GRAPH[level]
    return f"""SELECT {source} AS source, {target} AS target, count(*) AS links,
       round(avg(l.nofollow::int), 4) AS nofollow_share,
       count(*) FILTER (WHERE NOT (l.nofollow OR l.ugc OR l.sponsored)) AS dofollow_links
{LINK_JOINS}
{FILTER_WHERE} AND l.lost_at IS NULL AND a.username IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2"""


def rows(conn: Any, what: str, filters: Filters) -> tuple[list[str], Batches]:
    """Column names and batches of one export's rows (``what``: a key of QUERIES)."""
    if what not in QUERIES:
        raise ValueError(f"no export named {what!r}")
    return _stream(conn, QUERIES[what], filters)


def graph_edges(conn: Any, level: str, filters: Filters) -> Batches:
    """Batches of (source, target, links, nofollow_share, dofollow) at ``level``."""
    if level not in _GRAPH:
        raise ValueError(f"level must be one of {sorted(_GRAPH)}")
    return _stream(conn, _graph_sql(level), filters)[1]


# -- CSV written by the server ------------------------------------------------------
#
# COPY (SELECT ...) TO STDOUT is the most the database can give; harvest's CSV
# is that, each column written as harvest's own CSV writer writes it
# (harvest.analysis.output.csv_cell): text under the formula guard
# (harvest.cells), booleans true/false, times in ISO 8601 in UTC, numbers as
# numbers, arrays as their tokens, an empty text the same as no value.

_BOOL, _NUMERIC, _TIMESTAMPTZ, _DATE = 16, 1700, 1184, 1082
_PLAIN_NUMBERS = frozenset({20, 21, 23, 700, 701})
_TEXT_ARRAYS = frozenset({1009, 1015})
_QUOTE = "''''"  # a single quote, as an SQL literal


def _guarded(expr: str) -> str:
    text = f"nullif({expr}, '')"
    return (
        f"CASE WHEN {text} ~ %(_formula)s AND {text} !~ %(_number)s "
        f"THEN {_QUOTE} || {text} ELSE {text} END"
    )


def _csv_column(name: str, type_oid: int) -> str:
    """The expression that writes column ``name`` of q as harvest writes it."""
    col = f'q."{name}"'
    if type_oid in _PLAIN_NUMBERS:
        return col
    if type_oid == _NUMERIC:
        return f"{col}::float8"
    if type_oid == _BOOL:
        return f"CASE WHEN {col} THEN 'true' WHEN NOT {col} THEN 'false' END"
    if type_oid == _TIMESTAMPTZ:
        utc = f"({col} AT TIME ZONE 'UTC')"
        return (
            f"""to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || """
            f"CASE WHEN date_trunc('second', {col}) = {col} THEN '' "
            f"ELSE to_char({utc}, '.US') END || '+00:00'"
        )
    if type_oid == _DATE:
        return f"{col}::text"
    if type_oid in _TEXT_ARRAYS:
        return _guarded(f"array_to_string({col}, ' ')")
    return _guarded(f"{col}::text")


def copy_csv(conn: Any, query: str, params: dict[str, Any], out: IO[str]) -> int:
    """Write the rows of ``query`` to ``out`` as CSV (a header, then the rows)
    by the server's COPY, in the query's order; returns how many rows."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM ({query}) q LIMIT 0", params)
        # (the column names are harvest's own, from its queries: plain words)
        select = ", ".join(
            f'{_csv_column(d.name, d.type_code)} AS "{d.name}"' for d in cur.description
        )
        statement = cur.mogrify(
            f"COPY (SELECT {select} FROM ({query}) q) TO STDOUT WITH (FORMAT csv, HEADER)",
            {**params, "_formula": cells.FORMULA, "_number": cells.NUMBER},
        )
        cur.copy_expert(statement, out, size=1 << 16)
        return max(int(cur.rowcount), 0)


# JSON text holds no line break or control character (JSON escapes them), so
# CSV with a quote and a delimiter no JSON has writes each object as it is.
_AS_IS = "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'"


def copy_jsonl(conn: Any, query: str, params: dict[str, Any], out: IO[str]) -> int:
    """Write the rows of ``query`` to ``out`` as JSON Lines, one object a row,
    by the server's COPY, in the query's order; returns how many rows."""
    with conn.cursor() as cur:
        statement = cur.mogrify(
            f"COPY (SELECT row_to_json(q)::text FROM ({query}) q) TO STDOUT WITH ({_AS_IS})",
            params,
        )
        cur.copy_expert(statement, out, size=1 << 16)
        return max(int(cur.rowcount), 0)


COPIERS = {"csv": copy_csv, "jsonl": copy_jsonl}


def copy_export(conn: Any, what: str, filters: Filters, out: IO[str], fmt: str = "csv") -> int:
    """An export's rows written by the server (``what``: a key of QUERIES; ``fmt``
    csv or jsonl)."""
    if what not in QUERIES:
        raise ValueError(f"no export named {what!r}")
    return COPIERS[fmt](conn, QUERIES[what], filters.params(), out)


def _stream(conn: Any, sql: str, filters: Filters) -> tuple[list[str], Batches]:
    """Column names and batches of rows, from a server-side (named) cursor."""
    cur = conn.cursor(name="harvest_export")
    cur.itersize = BATCH
    cur.execute(sql, filters.params())
    first = cur.fetchmany(BATCH)
    columns = [c[0] for c in cur.description]

    def batches() -> Batches:
        batch = first
        try:
            while batch:
                yield batch
                batch = cur.fetchmany(BATCH)
        finally:
            cur.close()

    return columns, batches()
