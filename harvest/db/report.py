"""The audit's numbers, straight from SQL.

Counts are of live links (``lost_at IS NULL``) unless said otherwise. Each
group reports ``links`` and how many carry ``nofollow``, ``ugc`` and
``sponsored`` (a link may carry several) and ``dofollow`` (none of the three),
so every figure can be checked with one plain SQL count.

Filters: ``domain`` (target registered domain), ``tag`` (a tag of the post),
``publication`` (slug, key, own domain or name, the name in any case) and ``since`` (posts first
published on or after the date; posts without a known date are left out then).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

# Where on the page a link stands, as the report groups it.
PLACEMENT_SQL = """CASE WHEN l.location = 'author_bio' THEN 'author_bio'
     WHEN l.kind = 'link_card' THEN 'link_card'
     WHEN l.block IN ('caption', 'figure') THEN 'caption'
     ELSE 'body' END"""

# The verdict per link, from the database's one rule (link_verdict, migration
# 0005): "follow" passes value, anything else says why not. Needs links as l
# and posts as p.
REASON_SQL = "link_verdict(l, p)"
DOFOLLOW_SQL = "NOT (l.nofollow OR l.ugc OR l.sponsored)"

_COUNTS = """count(*) AS links,
       count(*) FILTER (WHERE l.nofollow) AS nofollow,
       count(*) FILTER (WHERE l.ugc) AS ugc,
       count(*) FILTER (WHERE l.sponsored) AS sponsored,
       count(*) FILTER (WHERE NOT (l.nofollow OR l.ugc OR l.sponsored)) AS dofollow"""

# The report and the exports (harvest.analysis.exports) select links through the same
# joins and the same filters (parameters: Filters.params()).
LINK_JOINS = """FROM links l
JOIN posts p USING (post_id)
JOIN domains d ON d.domain_id = l.domain_id
JOIN hosts h ON h.host_id = l.host_id
LEFT JOIN authors a ON a.author_id = p.author_id
LEFT JOIN publications pub ON pub.publication_id = p.publication_id"""

FILTER_WHERE = """WHERE (%(domain)s::text IS NULL OR d.domain = %(domain)s::text)
  AND (%(tag)s::text IS NULL OR %(tag)s::text = ANY (p.tags))
  AND (%(publication)s::text IS NULL OR %(publication)s::text IN (pub.slug, pub.key, pub.domain)
       OR lower(pub.name) = lower(%(publication)s::text))
  AND (%(since)s::date IS NULL OR p.first_published_at >= %(since)s::date)"""

_PLACEMENT = f"CROSS JOIN LATERAL (SELECT {PLACEMENT_SQL} AS placement) pl"
_FROM = f"{LINK_JOINS}\n{_PLACEMENT}\n{FILTER_WHERE}"
# A post's links count once under each of its tags.
_FROM_TAGS = (
    f"{LINK_JOINS}\nCROSS JOIN LATERAL unnest(p.tags) AS t(tag)\n{_PLACEMENT}\n{FILTER_WHERE}"
)
_LIVE = " AND l.lost_at IS NULL"


@dataclass(frozen=True, slots=True)
class Filters:
    domain: str | None = None
    tag: str | None = None
    publication: str | None = None
    since: date | None = None

    def params(self) -> dict[str, Any]:
        return asdict(self)


def _rows(cur: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _with_share(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        links = row["links"] or 0
        row["nofollow_share"] = round(row["nofollow"] / links, 4) if links else None
        row["dofollow_share"] = round(row["dofollow"] / links, 4) if links else None
    return rows


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
    links = sum(r["links"] for r in rows)
    passing = sum(r["links"] for r in rows if r["reason"] == "follow")
    return {
        "links": links,
        "passing": passing,
        "passing_share": round(passing / links, 4) if links else None,
        "by_reason": [{"reason": r["reason"], "links": r["links"]} for r in rows],
        "dofollow_by_reason": [
            {"reason": r["reason"], "links": r["dofollow"]} for r in rows if r["dofollow"]
        ],
    }


def report_numbers(conn: Any, filters: Filters, *, top: int = 25) -> dict[str, Any]:
    params = {**filters.params(), "top": top}
    out: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "filters": {
            k: (v.isoformat() if isinstance(v, date) else v) for k, v in filters.params().items()
        },
    }
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
                f"SELECT extract(year FROM p.first_published_at)::int AS year, {_COUNTS} "  # noqa: S608 (constant SQL; values are parameters)
                f"{_FROM}{_LIVE} GROUP BY 1 ORDER BY 1 NULLS LAST",
                params,
            )
        )
        out["by_location"] = _with_share(
            _rows(
                cur,
                f"SELECT pl.placement AS location, {_COUNTS} {_FROM}{_LIVE} "
                "GROUP BY 1 ORDER BY links DESC, 1",
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
                f"SELECT t.tag, {_COUNTS} {_FROM_TAGS}{_LIVE} "
                "GROUP BY 1 ORDER BY links DESC, 1 LIMIT %(top)s",
                params,
            )
        )
        out["top_domains"] = _with_share(
            _rows(
                cur,
                f"SELECT d.domain, {_COUNTS}, count(DISTINCT l.post_id) AS posts {_FROM}{_LIVE} "
                "GROUP BY 1 ORDER BY links DESC, 1 LIMIT %(top)s",
                params,
            )
        )
        # Where links pass value: dofollow links, by publication and placement,
        # and the posts that carry the most of them.
        dofollow = " AND NOT (l.nofollow OR l.ugc OR l.sponsored)"
        out["dofollow_exceptions"] = {
            "by_publication_and_location": _rows(
                cur,
                f"SELECT coalesce(pub.name, pub.slug, pub.key, '(no publication)') AS publication, "
                f"pl.placement AS location, count(*) AS links, count(DISTINCT l.post_id) AS posts "
                f"{_FROM}{_LIVE}{dofollow} GROUP BY 1, 2 ORDER BY links DESC, 1, 2 LIMIT %(top)s",
                params,
            ),
            "posts": _rows(
                cur,
                f"SELECT p.medium_id, p.title, coalesce(p.canonical_url, p.url) AS url, "
                f"a.username AS author, coalesce(pub.name, pub.slug) AS publication, "
                f"count(*) AS dofollow_links, array_agg(DISTINCT pl.placement) AS locations "
                f"{_FROM}{_LIVE}{dofollow} GROUP BY 1, 2, 3, 4, 5 "
                "ORDER BY dofollow_links DESC, 1 LIMIT %(top)s",
                params,
            ),
        }
        out["verdict"] = _verdict(cur, params)
        if filters.domain:
            out["backlinks"] = _rows(
                cur,
                f"SELECT coalesce(p.canonical_url, p.url) AS post_url, p.title, "
                f"a.username AS author, coalesce(pub.name, pub.slug) AS publication, "
                f"l.target_url, h.host, l.anchor_text, array_to_string(l.rel, ' ') AS rel, "
                f"l.nofollow, l.ugc, l.sponsored, pl.placement AS location, "
                f"{REASON_SQL} = 'follow' AS passes, {REASON_SQL} AS reason, "
                f"l.first_seen, l.last_seen, l.lost_at {_FROM} "
                "ORDER BY l.first_seen, p.medium_id, l.position",
                params,
            )
    return out
