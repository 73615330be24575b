"""The audit's numbers, straight from SQL.

Counts are of live links (``lost_at IS NULL``) unless said otherwise. Each
group reports ``links`` and how many carry ``nofollow``, ``ugc`` and
``sponsored`` (a link may carry several) and ``dofollow`` (none of the three),
so every figure can be checked with one plain SQL count.

Filters: ``domain`` (target registered domain), ``tag`` (a tag of the post),
``publication`` (slug, key, own domain or name, the name in any case), ``since`` (links harvest
first saw on or after the date) and ``published_since`` (posts first published on or after the
date; posts without a known date are left out then).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from harvest.db import summaries, summary_defs

# Where on the page a link stands, as the report groups it.
PLACEMENT_SQL = "link_placement(l.location, l.kind, l.block)"

# The verdict per link, from the database's one rule (link_verdict, migration
# 0005): "follow" passes value, anything else says why not. Needs links as l
# and posts as p.
REASON_SQL = "link_verdict(l, p)"
DOFOLLOW_SQL = "NOT (l.nofollow OR l.ugc OR l.sponsored)"
# The top-domain indexes of tag_domains and domain_publications hold the rows
# with at least this many links (migration 0017): a group's first rows come off
# them when enough rows reach it, else from all of the group's rows.
TOP_FROM = 10
# A link's rel tokens, kept once per distinct value in rels (migration 0016).
REL_SQL = "(SELECT r.rel FROM rels r WHERE r.rel_id = l.rel_id)"

_COUNTS = """count(*) AS links,
       count(*) FILTER (WHERE l.nofollow) AS nofollow_links,
       count(*) FILTER (WHERE l.ugc) AS ugc_links,
       count(*) FILTER (WHERE l.sponsored) AS sponsored_links,
       count(*) FILTER (WHERE NOT (l.nofollow OR l.ugc OR l.sponsored)) AS dofollow_links"""

# The report and the exports (harvest.analysis.exports) select links through the same
# joins and the same filters (parameters: Filters.params()).
LINK_JOINS = """FROM links l
JOIN posts p USING (post_id)
JOIN domains d ON d.domain_id = l.domain_id
JOIN hosts h ON h.host_id = l.host_id
LEFT JOIN authors a ON a.author_id = p.author_id
LEFT JOIN publications pub ON pub.publication_id = p.publication_id"""

# The publications a --publication names: by slug, key, own domain or name (any case).
_PUBLICATION_IDS = """(SELECT publication_id FROM publications
     WHERE %(publication)s::text IN (slug, key, domain)
        OR lower(name) = lower(%(publication)s::text))"""


def _publication_is(column: str) -> str:
    """``column`` is a publication --publication names, or there is no --publication.

    As an array the ids are found once (an init plan) and the column's index
    serves them; ``IN (subquery)`` inside the OR would be checked row by row.
    """
    return f"(%(publication)s::text IS NULL OR {column} = ANY (ARRAY{_PUBLICATION_IDS}))"


# The filters on a link's own columns, and those on its post's.
# (A filter left out is a NULL parameter: its condition folds to true when the
# statement is planned, and costs nothing.)
_LINK_CONDITIONS = f"""(%(domain)s::text IS NULL
       OR l.domain_id = (SELECT domain_id FROM domains WHERE domain = %(domain)s::text))
  AND (%(since)s::date IS NULL OR l.first_seen >= %(since)s::date::timestamp AT TIME ZONE 'UTC')
  AND (%(until)s::date IS NULL
       OR l.first_seen < (%(until)s::date + 1)::timestamp AT TIME ZONE 'UTC')
  AND (%(placement)s::text IS NULL OR {PLACEMENT_SQL} = %(placement)s::text)
  AND (%(rel)s::text IS NULL OR CASE %(rel)s::text
        WHEN 'dofollow' THEN {DOFOLLOW_SQL} WHEN 'nofollow' THEN l.nofollow
        WHEN 'ugc' THEN l.ugc WHEN 'sponsored' THEN l.sponsored END)
  AND (%(reason)s::text IS NULL OR link_verdict(l,
        (SELECT pv FROM posts pv WHERE pv.post_id = l.post_id)) = %(reason)s::text)"""
_POST_CONDITIONS = f"""(%(tag)s::text IS NULL OR p.tags @> ARRAY[%(tag)s::text])
  AND {_publication_is("p.publication_id")}
  AND (%(author)s::text IS NULL
       OR p.author_id = (SELECT author_id FROM authors WHERE username = %(author)s::text))
  AND (%(published_until)s::date IS NULL
       OR p.first_published_at < (%(published_until)s::date + 1)::timestamp AT TIME ZONE 'UTC')
  AND (%(published_since)s::date IS NULL
       OR p.first_published_at >= %(published_since)s::date::timestamp AT TIME ZONE 'UTC')"""
FILTER_WHERE = f"WHERE {_LINK_CONDITIONS}\n  AND {_POST_CONDITIONS}"

_PLACEMENT = f"CROSS JOIN LATERAL (SELECT {PLACEMENT_SQL} AS placement) pl"
_FROM = f"{LINK_JOINS}\n{_PLACEMENT}\n{FILTER_WHERE}"
# A post's links count once under each of its tags.
_FROM_TAGS = (
    f"{LINK_JOINS}\nCROSS JOIN LATERAL unnest(p.tags) AS t(tag)\n{_PLACEMENT}\n{FILTER_WHERE}"
)
_LIVE = " AND l.lost_at IS NULL"


@dataclass(frozen=True, slots=True)
class Filters:
    """What a report, an export or the explorer's group pages are narrowed to."""

    domain: str | None = None
    tag: str | None = None
    publication: str | None = None
    author: str | None = None
    since: date | None = None
    until: date | None = None
    published_since: date | None = None
    published_until: date | None = None
    placement: str | None = None
    rel: str | None = None
    reason: str | None = None

    def params(self) -> dict[str, Any]:
        return asdict(self)


def _rows(cur: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _with_share(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        links = row["links"] or 0
        row["nofollow_share"] = round(row["nofollow_links"] / links, 4) if links else None
        row["dofollow_share"] = round(row["dofollow_links"] / links, 4) if links else None
    return rows


def _verdict_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The verdict section from (reason, links, dofollow) rows, however counted."""
    links = sum(r["links"] for r in rows)
    passing = sum(r["links"] for r in rows if r["reason"] == "follow")
    return {
        "links": links,
        "passing_links": passing,
        "passing_share": round(passing / links, 4) if links else None,
        "by_reason": [{"reason": r["reason"], "links": r["links"]} for r in rows],
        "dofollow_by_reason": [
            {"reason": r["reason"], "links": r["dofollow"]} for r in rows if r["dofollow"]
        ],
    }


def _verdict(cur: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Of every link harvested (lost ones too), how many pass value, and why the
    others do not; and the same for dofollow anchors alone (the exceptions)."""
    rows = _rows(
        cur,
        f"SELECT {REASON_SQL} AS reason, count(*) AS links, "
        f"count(*) FILTER (WHERE {DOFOLLOW_SQL}) AS dofollow {_FROM} "
        "GROUP BY 1 ORDER BY links DESC, 1",
        params,
    )
    return _verdict_of(rows)


# The rows of a domain's backlinks a report shows; the rest are an export away.
BACKLINK_ROWS = 100


def _header(filters: Filters, source: str) -> dict[str, Any]:
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "filters": {
            k: (v.isoformat() if isinstance(v, date) else v) for k, v in filters.params().items()
        },
        # "summaries" (migration 0006) or "links" (a scan, for filters they do not keep)
        "source": source,
    }


def report_numbers(conn: Any, filters: Filters, *, top: int = 25) -> dict[str, Any]:
    """The report's numbers: from the summaries where they keep what the filters
    ask, else from a scan of the matching links. Both give the same numbers
    (tests/db/test_report_summaries.py); only the scan's cost grows with them."""
    if summarised(filters):
        out = _report_from_summaries(conn, filters, top)
    else:
        out = report_numbers_scan(conn, filters, top=top)
    out["crawled_from"] = crawled_from(conn)
    out["crawled_tags"] = crawled_tags(conn)
    # Only the summaries can trail the links (a scan reads them whole).
    out["not_counted_yet"] = summaries.pending(conn) if summarised(filters) else 0
    return out


def crawled_from(conn: Any) -> list[str]:
    """The mirrors or simulators (MEDIUM_BASE_URL) crawl runs fetched from instead of Medium."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT arguments->>'medium_base_url' FROM crawl_runs "
            "WHERE arguments ? 'medium_base_url' ORDER BY 1"
        )
        return [row[0] for row in cur.fetchall()]


def crawled_tags(conn: Any) -> list[str]:
    """The tags crawl runs walked (-a tags): a tag's figures are whole only for
    these; any other tag counts just the posts reached another way."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT jsonb_array_elements_text(arguments->'tags') FROM crawl_runs "
            "WHERE jsonb_typeof(arguments->'tags') = 'array' ORDER BY 1"
        )
        return [row[0] for row in cur.fetchall()]


def summarised(filters: Filters) -> bool:
    """Whether the summaries keep what these filters ask: a domain alone; tag /
    publication / a published-since on the first of a year, without a domain; or
    a since on the first of a month alone (migration 0009)."""
    # kept by no summary: a scan answers them
    if any((filters.author, filters.until, filters.published_until, filters.placement)) or any(
        (filters.rel, filters.reason)
    ):
        return False
    if filters.since is not None:
        return filters.since.day == 1 and (
            filters.domain,
            filters.tag,
            filters.publication,
            filters.published_since,
        ) == (None, None, None, None)
    if filters.domain is not None:
        return (
            filters.tag is None
            and filters.publication is None
            and (filters.published_since is None)
        )
    ps = filters.published_since
    return ps is None or (ps.month, ps.day) == (1, 1)


def report_numbers_scan(conn: Any, filters: Filters, *, top: int = 25) -> dict[str, Any]:
    params = {**filters.params(), "top": top, "rows": BACKLINK_ROWS}
    out = _header(filters, "links")
    with conn.cursor() as cur:
        overall = _rows(
            cur,
            f"SELECT {_COUNTS}, count(DISTINCT l.post_id) AS posts, "
            f"count(DISTINCT l.domain_id) AS domains {_FROM}{_LIVE}",
            params,
        )[0]
        out["overall"] = _with_share([overall])[0]
        out["by_year"] = _with_share(
            _rows(
                cur,
                # constant SQL; values are parameters
                "SELECT extract(year FROM p.first_published_at AT TIME ZONE 'UTC')::int AS year, "
                f"{_COUNTS} "
                f"{_FROM}{_LIVE} GROUP BY 1 ORDER BY 1 NULLS LAST",
                params,
            )
        )
        out["by_placement"] = _with_share(
            _rows(
                cur,
                f"SELECT pl.placement, {_COUNTS} {_FROM}{_LIVE} GROUP BY 1 ORDER BY links DESC, 1",
                params,
            )
        )
        out["by_publication"] = _with_share(
            _rows(
                cur,
                f"SELECT coalesce(pub.name, pub.slug, pub.key, '(no publication)') AS publication, "
                f"pub.domain AS publication_domain, {_COUNTS} {_FROM}{_LIVE} "
                "GROUP BY 1, 2 ORDER BY links DESC, 1 LIMIT %(top)s",
                params,
            )
        )
        out["by_tag"] = _with_share(
            _rows(
                cur,
                # with a tag filter, that tag alone (the summaries keep no co-tags)
                f"SELECT t.tag, {_COUNTS} {_FROM_TAGS}{_LIVE} "
                "AND (%(tag)s::text IS NULL OR t.tag = %(tag)s::text) "
                "GROUP BY 1 ORDER BY links DESC, 1 LIMIT %(top)s",
                params,
            )
        )
        out["top_domains"] = _scan_top_domains(cur, params)
        # Where links pass value: dofollow links, by publication and placement,
        # and the posts that carry the most of them.
        out["dofollow_exceptions"] = {
            "by_publication_and_placement": _rows(
                cur,
                f"SELECT coalesce(pub.name, pub.slug, pub.key, '(no publication)') AS publication, "
                f"pl.placement, count(*) AS links "
                f"{_FROM}{_LIVE}{_DOFOLLOW} GROUP BY 1, 2 ORDER BY links DESC, 1, 2 LIMIT %(top)s",
                params,
            ),
            "posts": _rows(
                cur,
                f"SELECT p.medium_id AS post_id, p.title AS post_title, "
                f"coalesce(p.canonical_url, p.url) AS post_url, a.username AS author, "
                f"pub.key AS publication, pub.name AS publication_name, "
                f"count(*) AS dofollow_links, array_agg(DISTINCT pl.placement) AS placements "
                f"{_FROM}{_LIVE}{_DOFOLLOW} GROUP BY p.post_id, 1, 2, 3, 4, 5, 6 "
                "ORDER BY dofollow_links DESC, p.post_id LIMIT %(top)s",
                params,
            ),
        }
        out["verdict"] = _verdict(cur, params)
        if filters.domain:
            out["backlinks"] = _backlink_rows(cur, params)
    return out


_DOFOLLOW = " AND NOT (l.nofollow OR l.ugc OR l.sponsored)"


def _scan_top_domains(cur: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _with_share(
        _rows(
            cur,
            f"SELECT d.domain, {_COUNTS}, count(DISTINCT l.post_id) AS posts {_FROM}{_LIVE} "
            "GROUP BY l.domain_id, 1 ORDER BY links DESC, l.domain_id LIMIT %(top)s",
            params,
        )
    )


def _scan_top_domains_and_count(
    cur: Any, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    """The top domains of the matching links, and how many domains they reach: one pass.

    The matching posts are found first (a tag through the GIN index on tags) and
    their links by post: a tag's share of the table is read, not the table. The
    domains are named for the top rows only.
    """
    rows = _rows(
        cur,
        f"""WITH matching AS MATERIALIZED (SELECT p.post_id FROM posts p WHERE {_POST_CONDITIONS}),
        per AS (
            SELECT l.domain_id, {_COUNTS}, count(DISTINCT l.post_id) AS posts
            FROM matching JOIN links l USING (post_id)
            WHERE {_LINK_CONDITIONS}{_LIVE}
            GROUP BY l.domain_id),
        top AS (SELECT per.*, count(*) OVER () AS domains FROM per
                ORDER BY links DESC, per.domain_id LIMIT %(top)s)
        SELECT d.domain, top.* FROM top JOIN domains d USING (domain_id)
        ORDER BY top.links DESC, top.domain_id""",
        params,
    )
    domains = rows[0]["domains"] if rows else 0
    for row in rows:
        del row["domain_id"], row["domains"]
    return _with_share(rows), domains


# A per-domain row's live-link counters (domain_totals, domain_publications,
# tag_domains as t) in the report's words.
_DOMAIN_COUNTS = """t.links, t.nofollow AS nofollow_links, t.ugc AS ugc_links,
       t.sponsored AS sponsored_links, t.dofollow AS dofollow_links"""
# ... and the posts behind them, where the row keeps them (not domain_publications).
_TOTALS = f"{_DOMAIN_COUNTS}, t.posts"


def _publication_top_domains(cur: Any, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The top domains of the publications a --publication names, and how many
    domains they reach, from domain_publications, publication_domains and
    group_domain_totals (0008).

    One publication (the usual case) reads its first rows off an index in link
    order; a name several publications share adds theirs up first.
    """
    cur.execute(f"SELECT ARRAY{_PUBLICATION_IDS}", params)
    ids: list[int] = cur.fetchone()[0]
    if not ids:
        return [], 0
    at = {**params, "ids": ids, "one": ids[0]}
    outer = """SELECT d.domain, top.*,
               (SELECT sum(c.posts)::bigint FROM publication_domains c
                WHERE c.publication_id = ANY (%(ids)s) AND c.domain_id = top.domain_id) AS posts
        FROM ({}) top JOIN domains d USING (domain_id)
        ORDER BY top.links DESC, top.domain_id"""
    if len(ids) == 1:
        # Off the partial index; or from all of the publication's domains,
        # which publication_domains lists under its key.
        first = f"""SELECT t.domain_id, {_DOMAIN_COUNTS}
            FROM domain_publications t
            WHERE t.publication_id = %(one)s AND t.links >= %(least)s
            ORDER BY t.links DESC, t.domain_id LIMIT %(top)s"""
        whole = f"""SELECT t.domain_id, {_DOMAIN_COUNTS}
            FROM publication_domains c
            JOIN domain_publications t
              ON t.domain_id = c.domain_id AND t.publication_id = c.publication_id
            WHERE c.publication_id = %(one)s AND t.links > 0
            ORDER BY t.links DESC, t.domain_id LIMIT %(top)s"""
        rows = _first_rows(cur, outer.format(first), at, outer.format(whole))
    else:
        top = f"""SELECT s.domain_id, {_PUBLICATION_SUMS}
            FROM domain_publications s WHERE s.publication_id = ANY (%(ids)s)
            GROUP BY 1 HAVING sum(s.links) > 0
            ORDER BY links DESC, s.domain_id LIMIT %(top)s"""
        rows = _rows(cur, outer.format(top), at)
    for row in rows:
        del row["domain_id"]
    if len(ids) == 1:
        count = (
            "SELECT coalesce(sum(domains), 0) AS n FROM group_domain_totals "
            "WHERE tag IS NULL AND publication_id = %(one)s"
        )
    else:  # a domain several of them link counts once
        count = (
            "SELECT count(DISTINCT domain_id) AS n FROM publication_domains "
            "WHERE publication_id = ANY (%(ids)s)"
        )
    domains = _rows(cur, count, at)[0]["n"]
    return _with_share(rows), domains


def _first_rows(
    cur: Any, sql: str, params: dict[str, Any], whole: str | None = None
) -> list[dict[str, Any]]:
    """A group's first rows by links: off the partial index (``sql`` with rows of
    TOP_FROM links or more) when it holds enough of them, else from every row
    (``whole``, or ``sql`` again with any number of links)."""
    rows = _rows(cur, sql, {**params, "least": TOP_FROM})
    if len(rows) < params["top"]:
        rows = _rows(cur, whole or sql, {**params, "least": 1})
    return rows


def _tag_top_domains(cur: Any, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """A tag's top domains and how many domains it reaches, from tag_domains and
    group_domain_totals (0008)."""
    rows = _first_rows(
        cur,
        f"""SELECT d.domain, {_TOTALS}
        FROM tag_domains t JOIN domains d USING (domain_id)
        WHERE t.tag = %(tag)s AND t.links >= %(least)s
        ORDER BY t.links DESC, t.domain_id LIMIT %(top)s""",
        params,
    )
    domains = _rows(
        cur,
        "SELECT coalesce(sum(domains), 0) AS n FROM group_domain_totals "
        "WHERE tag = %(tag)s AND publication_id IS NULL",
        params,
    )[0]["n"]
    return _with_share(rows), domains


def _backlink_rows(cur: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The first BACKLINK_ROWS links to the domain, in backlinks' page order."""
    return _rows(
        cur,
        f"SELECT coalesce(p.canonical_url, p.url) AS post_url, p.title AS post_title, "
        f"a.username AS author, pub.key AS publication, pub.name AS publication_name, "
        f"l.target_url, h.host, l.anchor_text, {REL_SQL} AS rel, "
        f"l.nofollow, l.ugc, l.sponsored, pl.placement, "
        f"{REASON_SQL} = 'follow' AS passes, {REASON_SQL} AS reason, "
        f"l.first_seen, l.last_seen, l.lost_at {_FROM} "
        "ORDER BY l.host_id, l.post_id, l.location, l.position, url_key(l.target_url) "
        "LIMIT %(rows)s",
        params,
    )


# The summaries' counters, summed: live links and their rel flags.
_SUMS = """sum(s.links - s.lost)::bigint AS links,
       sum(s.nofollow)::bigint AS nofollow_links,
       sum(s.ugc)::bigint AS ugc_links,
       sum(s.sponsored)::bigint AS sponsored_links,
       sum(s.dofollow)::bigint AS dofollow_links"""
_LIVE_GROUPS = " HAVING sum(s.links - s.lost) > 0"
# the same for the tables that count live links only
_LIVE_ROWS = " HAVING sum(s.links) > 0"
# A live-link row's counters, and their names in the report.
_COUNTER_NAMES = (
    ("links", "links"),
    ("nofollow", "nofollow_links"),
    ("ugc", "ugc_links"),
    ("sponsored", "sponsored_links"),
    ("dofollow", "dofollow_links"),
)
# publication_stats counts live links only
_PUBLICATION_SUMS = ",\n       ".join(f"sum(s.{c})::bigint AS {n}" for c, n in _COUNTER_NAMES)

# group_stats (and group_posts) rows of the filters: tag '' holds every link once.
_GROUP_WHERE = f"""WHERE s.tag = coalesce(%(tag)s::text, '')
  AND {_publication_is("s.publication_id")}
  AND (%(year)s::int IS NULL OR s.year >= %(year)s::int)"""

_GROUP_FROM = f"""FROM group_stats s
LEFT JOIN publications pub ON pub.publication_id = s.publication_id
{_GROUP_WHERE}"""

# Each tag's rows (not tag ''), for the table by tag.
_GROUP_TAGS_FROM = f"""FROM group_stats s
WHERE s.tag <> '' AND (%(tag)s::text IS NULL OR s.tag = %(tag)s::text)
  AND {_publication_is("s.publication_id")}
  AND (%(year)s::int IS NULL OR s.year >= %(year)s::int)"""

# A publication's tags from tag_publications (0008), live links only.
_PUBLICATION_TAGS_FROM = f"""FROM tag_publications s
WHERE (%(tag)s::text IS NULL OR s.tag = %(tag)s::text)
  AND {_publication_is("s.publication_id")}"""

# Without a publication filter, tag_stats holds the same counts in far fewer rows.
_TAG_WHERE = """WHERE s.tag = coalesce(%(tag)s::text, '')
  AND (%(year)s::int IS NULL OR s.year >= %(year)s::int)"""
_TAG_FROM = f"FROM tag_stats s {_TAG_WHERE}"
_TAGS_FROM = """FROM tag_stats s
WHERE s.tag <> '' AND (%(tag)s::text IS NULL OR s.tag = %(tag)s::text)
  AND (%(year)s::int IS NULL OR s.year >= %(year)s::int)"""

_DOMAIN_FROM = "FROM domain_stats s WHERE s.domain_id = %(domain_id)s"
_DOMAIN_DOFOLLOW_POSTS = (
    "SELECT g.post_id, g.dofollow FROM domain_dofollow_posts g WHERE g.domain_id = %(domain_id)s"
)


def _domain_sources(cur: Any, params: dict[str, Any]) -> tuple[str, str]:
    """Where a domain's rows by year, placement and verdict, and its posts with
    the most dofollow links, come from: the summaries for a large domain, its
    own links (fewer than summary_defs.LARGE_DOMAIN) for the others."""
    cur.execute(
        f"SELECT {summary_defs.large('t')} FROM domain_totals t WHERE t.domain_id = %(domain_id)s",
        params,
    )
    row = cur.fetchone()
    if row and row[0]:
        return _DOMAIN_FROM, _DOMAIN_DOFOLLOW_POSTS
    return (
        f"FROM ({summary_defs.small_domain_sql('domain_stats')}) s",
        "SELECT g.post_id, g.dofollow "
        f"FROM ({summary_defs.small_domain_sql('domain_dofollow_posts')}) g",
    )


def _summed(cur: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _with_share(_rows(cur, sql, params))


def _verdict_summed(cur: Any, source: str, params: dict[str, Any]) -> dict[str, Any]:
    rows = _rows(
        cur,
        f"SELECT s.reason, sum(s.links)::bigint AS links, "
        f"sum(s.dofollow + s.lost_dofollow)::bigint AS dofollow {source} "
        "GROUP BY 1 HAVING sum(s.links) > 0 ORDER BY links DESC, 1",
        params,
    )
    return _verdict_of(rows)


def _report_from_summaries(conn: Any, filters: Filters, top: int) -> dict[str, Any]:
    ps = filters.published_since
    params: dict[str, Any] = {
        **filters.params(),
        "top": top,
        "rows": BACKLINK_ROWS,
        "year": ps.year if ps else None,
        "domain_id": None,
    }
    out = _header(filters, "summaries")
    with conn.cursor() as cur:
        if filters.domain is not None:
            cur.execute("SELECT domain_id FROM domains WHERE domain = %s", (filters.domain,))
            found = cur.fetchone()
            params["domain_id"] = found[0] if found else None
            _domain_sections(cur, out, params)
        elif filters.since is not None:
            _since_sections(cur, out, params)
        else:
            _group_sections(cur, out, params, filters)
    return out


def _group_sections(
    cur: Any, out: dict[str, Any], params: dict[str, Any], filters: Filters
) -> None:
    by_pub = filters.publication is not None
    source = _GROUP_FROM if by_pub else _TAG_FROM
    overall = _rows(cur, f"SELECT {_SUMS} {source}", params)[0]
    posts = _rows(
        cur,
        f"SELECT coalesce(sum(s.posts), 0)::bigint AS posts FROM group_posts s {_GROUP_WHERE}",
        params,
    )[0]["posts"]
    out["top_domains"], domains = _group_top_domains(cur, params, filters)
    out["overall"] = _with_share([{**_zeroed(overall), "posts": posts, "domains": domains}])[0]
    _years_and_placements(cur, out, source, params)
    whole = not (by_pub or filters.tag is not None or params["year"])
    tag_only = filters.tag is not None and not (by_pub or params["year"])
    pub_from, pub_sums, having = _publication_source(whole, tag_only)
    out["by_publication"] = _summed(
        cur,
        f"SELECT coalesce(pub.name, pub.slug, pub.key, '(no publication)') AS publication, "
        f"pub.domain AS publication_domain, {pub_sums} {pub_from} GROUP BY 1, 2{having} "
        "ORDER BY links DESC, 1 LIMIT %(top)s",
        params,
    )
    tags_from, tag_sums, tag_having = _tag_source(by_pub, bool(params["year"]))
    out["by_tag"] = _summed(
        cur,
        f"SELECT s.tag, {tag_sums} {tags_from} GROUP BY 1{tag_having} "
        "ORDER BY links DESC, 1 LIMIT %(top)s",
        params,
    )
    posts_from = _dofollow_posts_source(
        tag_only, by_pub and filters.tag is None and not params["year"]
    )
    out["dofollow_exceptions"] = {
        "by_publication_and_placement": _dofollow_by_publication(cur, pub_from, params),
        "posts": _dofollow_posts(
            cur, f"{posts_from} ORDER BY g.dofollow DESC, g.post_id LIMIT %(top)s", params
        ),
    }
    out["verdict"] = _verdict_summed(cur, source, params)


def _group_top_domains(
    cur: Any, params: dict[str, Any], filters: Filters
) -> tuple[list[dict[str, Any]], int]:
    """The top domains of a tag's or publication's links (or of all), and how
    many domains they link to, from the summary that keeps them."""
    by_pub = filters.publication is not None
    if params["year"] or (by_pub and filters.tag is not None):
        # Domains per year, or per publication and tag, are not kept: these two
        # come from the matching links (their share of the table).
        return _scan_top_domains_and_count(cur, params)
    if by_pub:
        return _publication_top_domains(cur, params)
    if filters.tag is not None:
        return _tag_top_domains(cur, params)
    top = _with_share(
        _rows(
            cur,
            f"SELECT d.domain, {_TOTALS} "
            "FROM domain_totals t JOIN domains d USING (domain_id) WHERE t.links > 0 "
            "ORDER BY t.links DESC, t.domain_id LIMIT %(top)s",
            params,
        )
    )
    domains = _rows(cur, "SELECT count(*) AS n FROM domain_totals WHERE links > 0", {})[0]["n"]
    return top, domains


def _publication_source(whole: bool, tag_only: bool) -> tuple[str, str, str]:
    """FROM, sums and HAVING of the by-publication table. Live-link tables with a
    few rows per publication: publication_stats for the whole harvest,
    tag_publications for a tag (0008); else group_stats' rows."""
    if not (whole or tag_only):
        return _GROUP_FROM, _SUMS, _LIVE_GROUPS
    pub_from = (
        f"FROM {'publication_stats' if whole else 'tag_publications'} s "
        "LEFT JOIN publications pub ON pub.publication_id = s.publication_id"
        + ("" if whole else " WHERE s.tag = %(tag)s")
    )
    return pub_from, _PUBLICATION_SUMS, _LIVE_ROWS


def _tag_source(by_pub: bool, year: bool) -> tuple[str, str, str]:
    """FROM, sums and HAVING of the by-tag table."""
    if by_pub and not year:
        return _PUBLICATION_TAGS_FROM, _PUBLICATION_SUMS, _LIVE_ROWS
    return (_GROUP_TAGS_FROM if by_pub else _TAGS_FROM), _SUMS, _LIVE_GROUPS


def _dofollow_posts_source(tag_only: bool, publication_only: bool) -> str:
    if tag_only:
        return _TAG_DOFOLLOW_POSTS
    if publication_only:
        return _PUBLICATION_DOFOLLOW_POSTS
    return _GROUP_DOFOLLOW_POSTS


# The posts with live dofollow links, and how many, for the filters: post_groups
# in dofollow order, or a tag's own rows in tag_dofollow_posts (0008), which an
# index gives in that order however few of the first post_groups rows are the tag's.
_GROUP_DOFOLLOW_POSTS = f"""SELECT g.post_id, g.dofollow FROM post_groups g
    WHERE g.dofollow > 0
      AND (%(tag)s::text IS NULL OR %(tag)s::text = ANY (g.tags))
      AND {_publication_is("g.publication_id")}
      AND (%(year)s::int IS NULL OR g.year >= %(year)s::int)"""
_TAG_DOFOLLOW_POSTS = """SELECT g.post_id, g.dofollow FROM tag_dofollow_posts g
    WHERE g.tag = %(tag)s AND g.dofollow > 0"""
# ... or a publication's, off post_groups_publication_dofollow_idx (0019).
_PUBLICATION_DOFOLLOW_POSTS = f"""SELECT g.post_id, g.dofollow FROM post_groups g
    WHERE g.publication_id IN {_PUBLICATION_IDS} AND g.dofollow > 0"""

# The placements of a post's live dofollow links (to the report's domain, and
# first seen since the report's date, if any).
_DOFOLLOW_LOCATIONS = """(SELECT array_agg(DISTINCT link_placement(l.location, l.kind, l.block))
     FROM links l WHERE l.post_id = p.post_id AND l.lost_at IS NULL
       AND NOT (l.nofollow OR l.ugc OR l.sponsored)
       AND (%(domain_id)s::bigint IS NULL OR l.domain_id = %(domain_id)s::bigint)
       AND (%(since)s::date IS NULL
            OR l.first_seen >= %(since)s::date::timestamp AT TIME ZONE 'UTC'))"""


def _years_and_placements(
    cur: Any, out: dict[str, Any], source: str, params: dict[str, Any]
) -> None:
    """The tables by year first published and by placement, from rows of
    ``source`` (tag_stats' shape: year, placement and every link's counters)."""
    out["by_year"] = _summed(
        cur,
        f"SELECT s.year, {_SUMS} {source} GROUP BY 1{_LIVE_GROUPS} ORDER BY 1 NULLS LAST",
        params,
    )
    out["by_placement"] = _summed(
        cur,
        f"SELECT s.placement, {_SUMS} {source} GROUP BY 1{_LIVE_GROUPS} ORDER BY links DESC, 1",
        params,
    )


def _dofollow_by_publication(cur: Any, source: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Live dofollow links by publication and placement, from rows of ``source``
    (publication_stats' shape, publications as pub)."""
    return _rows(
        cur,
        f"SELECT coalesce(pub.name, pub.slug, pub.key, '(no publication)') AS publication, "
        f"s.placement, sum(s.dofollow)::bigint AS links {source} "
        "GROUP BY 1, 2 HAVING sum(s.dofollow) > 0 ORDER BY links DESC, 1, 2 LIMIT %(top)s",
        params,
    )


def _dofollow_posts(cur: Any, top_posts: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The posts with the most live dofollow links, named: ``top_posts`` gives
    their (post_id, dofollow) rows, the first ones already."""
    return _rows(
        cur,
        f"""SELECT p.medium_id AS post_id, p.title AS post_title,
               coalesce(p.canonical_url, p.url) AS post_url, a.username AS author,
               pub.key AS publication, pub.name AS publication_name,
               g.dofollow AS dofollow_links, {_DOFOLLOW_LOCATIONS} AS placements
        FROM ({top_posts}) g
        JOIN posts p ON p.post_id = g.post_id
        LEFT JOIN authors a ON a.author_id = p.author_id
        LEFT JOIN publications pub ON pub.publication_id = p.publication_id
        ORDER BY g.dofollow DESC, g.post_id""",
        params,
    )


def _zeroed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if v is not None else 0) for k, v in row.items()}


def _domain_sections(cur: Any, out: dict[str, Any], params: dict[str, Any]) -> None:
    stats, dofollow_posts = _domain_sources(cur, params)
    overall = _rows(cur, f"SELECT {_SUMS} {stats}", params)[0]
    totals = _rows(
        cur,
        f"SELECT d.domain, {_TOTALS} "
        "FROM domain_totals t JOIN domains d USING (domain_id) "
        "WHERE t.domain_id = %(domain_id)s AND t.links > 0",
        params,
    )
    posts = totals[0]["posts"] if totals else 0
    out["overall"] = _with_share([{**_zeroed(overall), "posts": posts, "domains": len(totals)}])[0]
    out["by_year"] = _summed(
        cur,
        f"SELECT s.year, {_SUMS} {stats} GROUP BY 1{_LIVE_GROUPS} ORDER BY 1 NULLS LAST",
        params,
    )
    out["by_placement"] = _summed(
        cur,
        f"SELECT s.placement, {_SUMS} {stats} GROUP BY 1{_LIVE_GROUPS} ORDER BY links DESC, 1",
        params,
    )
    out["by_publication"] = _summed(
        cur,
        "SELECT coalesce(pub.name, pub.slug, pub.key, '(no publication)') AS publication, "
        "pub.domain AS publication_domain, sum(s.links)::bigint AS links, "
        "sum(s.nofollow)::bigint AS nofollow_links, sum(s.ugc)::bigint AS ugc_links, "
        "sum(s.sponsored)::bigint AS sponsored_links, sum(s.dofollow)::bigint AS dofollow_links "
        "FROM domain_publications s "
        "LEFT JOIN publications pub ON pub.publication_id = s.publication_id "
        "WHERE s.domain_id = %(domain_id)s GROUP BY 1, 2 HAVING sum(s.links) > 0 "
        "ORDER BY links DESC, 1 LIMIT %(top)s",
        params,
    )
    # Not kept per domain (a domain-by-tag table would be nearly as big as links).
    out["by_tag"] = None
    out["top_domains"] = _with_share(totals)
    out["dofollow_exceptions"] = {
        "by_publication_and_placement": None,
        "posts": _dofollow_posts(
            cur,
            f"{dofollow_posts} ORDER BY g.dofollow DESC, g.post_id LIMIT %(top)s",
            params,
        ),
    }
    out["verdict"] = _verdict_summed(cur, stats, params)
    out["backlinks"] = _backlink_rows(cur, params)


# The months from a --since on (0009's tables, keyed by the month harvest first
# saw each link).
_SEEN_FROM = "FROM seen_stats s WHERE s.seen >= %(since)s"
_SEEN_PUBLICATIONS_FROM = """FROM seen_publications s
LEFT JOIN publications pub ON pub.publication_id = s.publication_id
WHERE s.seen >= %(since)s"""


# The top domains since a month, the plain way: a row per domain and month
# added up (a few months are some 200,000 rows at 10^7 links). A domain's
# counters for one month fit an int, whose sum PostgreSQL keeps in a bigint; a
# bigint's sum goes through numeric, ~40 % slower here.
_SEEN_SUMS = ", ".join(f"sum(s.{c}::int) AS {n}" for c, n in _COUNTER_NAMES)
_SEEN_TOP_DOMAINS = f"""SELECT s.domain_id, {_SEEN_SUMS}
    FROM seen_domains s WHERE s.seen >= %(since)s GROUP BY 1
    ORDER BY links DESC, s.domain_id LIMIT %(top)s"""
# The same for some domains only, off seen_domains_domain_idx.
_SEEN_SOME_DOMAINS = f"""SELECT s.domain_id, {_SEEN_SUMS}
    FROM seen_domains s WHERE s.domain_id = ANY (%(ids)s) AND s.seen >= %(since)s GROUP BY 1"""
# Past this many domains looked at, adding up the months is the cheaper way.
_SEEN_LOOK_AT_MOST = 20_000


def _seen_top_domains(cur: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The top domains by live links first seen since a month, exactly, and
    usually without adding up every domain's months.

    A domain's links since a month are at most its live links (domain_totals).
    Domains are taken in that order, and their months since added up, until
    the last one taken has fewer live links than the top rows' last: no domain
    after it can reach the table. On a power law of links that takes some
    hundreds of domains; where it would take more, the months are added up whole.
    """
    top: int = params["top"]
    if top < 1:
        return []
    found: dict[int, dict[str, Any]] = {}
    ask, looked = 4 * top, 0
    while True:
        if ask > _SEEN_LOOK_AT_MOST:
            best = _rows(cur, _SEEN_TOP_DOMAINS, params)
            break
        cur.execute(
            "SELECT domain_id, links FROM domain_totals WHERE links > 0 "
            "ORDER BY links DESC, domain_id LIMIT %s",
            (ask,),
        )
        ranked = cur.fetchall()
        ids = [domain_id for domain_id, _ in ranked[looked:]]
        looked = len(ranked)
        for row in _rows(cur, _SEEN_SOME_DOMAINS, {**params, "ids": ids}):
            found[row["domain_id"]] = row
        best = sorted(found.values(), key=lambda r: (-r["links"], r["domain_id"]))[:top]
        if looked < ask:  # every domain with live links is in
            break
        if len(best) == top and ranked[-1][1] < best[-1]["links"]:
            break
        ask *= 4
    cur.execute(
        "SELECT domain_id, domain FROM domains WHERE domain_id = ANY (%s)",
        ([r["domain_id"] for r in best],),
    )
    names = dict(cur.fetchall())
    return [{"domain": names[r.pop("domain_id")], **r, "posts": None} for r in best]


@contextmanager
def _work_mem(cur: Any, size: str) -> Iterator[None]:
    """More memory for one section's hash: within the caller's transaction if
    there is one, else for the session until the section is done."""
    local = not cur.connection.autocommit
    cur.execute("SELECT current_setting('work_mem'), set_config('work_mem', %s, %s)", (size, local))
    before = cur.fetchone()[0]
    yield
    if not local:
        cur.execute("SELECT set_config('work_mem', %s, false)", (before,))


def _since_sections(cur: Any, out: dict[str, Any], params: dict[str, Any]) -> None:
    """A --since on the first of a month: every section adds up the months from it.

    A domain or a post counts once however many of those months it has live
    links in. The posts behind each top domain are not kept per month (that
    would be a row per link, nearly): those rows say None.
    """
    # The posts with the most dofollow links (and the top domains, where their
    # walk gives up) hash a row per post (domain) and month.
    with _work_mem(cur, "32MB"):
        _since_numbers(cur, out, params)


def _since_numbers(cur: Any, out: dict[str, Any], params: dict[str, Any]) -> None:
    overall = _rows(cur, f"SELECT {_SUMS} {_SEEN_FROM}", params)[0]
    counts = _rows(
        cur,
        "SELECT coalesce(sum(domains), 0)::bigint AS domains, "
        "coalesce(sum(posts), 0)::bigint AS posts FROM seen_last_counts WHERE seen >= %(since)s",
        params,
    )[0]
    out["top_domains"] = _with_share(_seen_top_domains(cur, params))
    out["overall"] = _with_share(
        [{**_zeroed(overall), "posts": counts["posts"], "domains": counts["domains"]}]
    )[0]
    _years_and_placements(cur, out, _SEEN_FROM, params)
    out["by_publication"] = _summed(
        cur,
        f"SELECT coalesce(pub.name, pub.slug, pub.key, '(no publication)') AS publication, "
        f"pub.domain AS publication_domain, {_PUBLICATION_SUMS} {_SEEN_PUBLICATIONS_FROM} "
        f"GROUP BY 1, 2{_LIVE_ROWS} ORDER BY links DESC, 1 LIMIT %(top)s",
        params,
    )
    out["by_tag"] = _summed(
        cur,
        f"SELECT s.tag, {_PUBLICATION_SUMS} FROM seen_tags s WHERE s.seen >= %(since)s "
        f"GROUP BY 1{_LIVE_ROWS} ORDER BY links DESC, 1 LIMIT %(top)s",
        params,
    )
    out["dofollow_exceptions"] = {
        "by_publication_and_placement": _dofollow_by_publication(
            cur, _SEEN_PUBLICATIONS_FROM, params
        ),
        "posts": _dofollow_posts(
            cur,
            "SELECT s.post_id, sum(s.dofollow::int) AS dofollow FROM seen_posts s "
            "WHERE s.seen >= %(since)s AND s.dofollow > 0 GROUP BY 1 "
            "ORDER BY 2 DESC, 1 LIMIT %(top)s",
            params,
        ),
    }
    out["verdict"] = _verdict_summed(cur, _SEEN_FROM, params)
