"""The read side: the SQL behind ``harvest backlinks``, ``top-domains`` and ``stats``.

Each function returns column names and rows; formatting is the CLI's job.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from harvest.db.report import DOFOLLOW_SQL, REASON_SQL
from harvest.links import normalize_url, registered_domain

Rows = tuple[list[str], list[tuple[Any, ...]]]

BACKLINK_COLUMNS = (
    "target_url",
    "post_id",
    "post_url",
    "author",
    "publication",
    "anchor_text",
    "rel",
    "nofollow",
    "ugc",
    "sponsored",
    "location",
    "kind",
    "passes",
    "reason",
    "first_seen",
    "last_seen",
    "lost_at",
)


# What `harvest backlinks` shows in a terminal: the link, where it stands, what it is worth.
BACKLINK_TABLE_COLUMNS = (
    "target_url",
    "post_url",
    "author",
    "anchor_text",
    "rel",
    "location",
    "reason",
    "first_seen",
)


def target_filter(target: str) -> tuple[str, str]:
    """("domain" | "host", value) for what a user typed: a domain, a host or a URL."""
    value = target.strip().lower()
    if "/" in value:
        url = normalize_url(value if "://" in value else "http://" + value)
        value = (url or value).split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    value = value.rstrip(".")
    if value.startswith("www.") and registered_domain(value) == value[4:]:
        return "domain", value[4:]
    return ("domain", value) if registered_domain(value) == value else ("host", value)


def _run(conn: Any, sql: str, params: Any) -> Rows:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        columns = [d[0] for d in cur.description]
        return columns, cur.fetchall()


def backlinks(
    conn: Any,
    target: str,
    *,
    dofollow_only: bool = False,
    passing_only: bool = False,
    since: date | None = None,
    include_lost: bool = False,
    limit: int | None = None,
) -> Rows:
    kind, value = target_filter(target)
    if kind == "domain":
        where = ["target_domain = %(v)s"]
    else:
        # links are indexed on (domain_id, host_id): naming the host's domain
        # too turns a host look-up into an index scan.
        where = ["target_domain = %(d)s", "target_host = %(v)s"]
    if dofollow_only:
        where.append("dofollow")
    if passing_only:
        where.append("passes")
    if since is not None:
        where.append("last_seen >= %(since)s")
    if not include_lost:
        where.append("lost_at IS NULL")
    # Only constant fragments are joined here; values go in as parameters.
    sql = (
        f"SELECT {', '.join(BACKLINK_COLUMNS)} FROM backlinks WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY first_seen, post_id, location, position"
    )
    if limit is not None:
        sql += " LIMIT %(limit)s"
    params = {"v": value, "d": registered_domain(value), "since": since, "limit": limit}
    return _run(conn, sql, params)


def top_domains(conn: Any, *, limit: int = 25, dofollow_only: bool = False) -> Rows:
    order = "dofollow_links" if dofollow_only else "links"
    # "order" is one of two constants.
    sql = (
        "SELECT target_domain, links, posts, authors, nofollow_links, ugc_links, "  # noqa: S608
        "sponsored_links, dofollow_links, passing_links, nofollow_share FROM domain_summary "
        f"ORDER BY {order} DESC, target_domain LIMIT %(limit)s"
    )
    return _run(conn, sql, {"limit": limit})


RUN_COLUMNS = (
    "run_id",
    "spider",
    "status",
    "started_at",
    "finished_at",
    "pages",
    "links",
    "links_lost",
)


def stats(conn: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with conn.cursor() as cur:
        cur.execute(
            """SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM authors),
                      (SELECT count(*) FROM publications), (SELECT count(*) FROM domains)"""
        )
        posts, authors, pubs, domains = cur.fetchone()
        cur.execute(
            """SELECT count(*),
                      count(*) FILTER (WHERE lost_at IS NOT NULL),
                      count(*) FILTER (WHERE nofollow),
                      count(*) FILTER (WHERE ugc),
                      count(*) FILTER (WHERE sponsored),
                      count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored))
               FROM links"""
        )
        links, lost, nofollow, ugc, sponsored, dofollow = cur.fetchone()
        out.update(
            posts=posts,
            authors=authors,
            publications=pubs,
            domains=domains,
            links=links,
            links_lost=lost,
        )
        cur.execute(
            f"SELECT {REASON_SQL} AS reason, count(*), count(*) FILTER (WHERE {DOFOLLOW_SQL}) "  # noqa: S608 (constant SQL)
            "FROM links l JOIN posts p USING (post_id) GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        reasons = cur.fetchall()
        passing = sum(n for reason, n, _ in reasons if reason == "follow")
        out["passing_share"] = round(passing / links, 4) if links else None
        # Followed anchors that still pass nothing, by why (the page, the post, the link).
        out["dofollow_exceptions"] = {r: d for r, _, d in reasons if d and r != "follow"}
        out["why_not_passing"] = {r: n for r, n, _ in reasons if r != "follow"}
        for name, n in (
            ("nofollow", nofollow),
            ("ugc", ugc),
            ("sponsored", sponsored),
            ("dofollow", dofollow),
        ):
            out[f"{name}_share"] = round(n / links, 4) if links else None
        cur.execute(
            """SELECT run_id, spider, status, started_at, finished_at,
                      coalesce((counts->>'harvest/db/pages')::bigint, 0),
                      coalesce((counts->>'harvest/db/links')::bigint, 0),
                      coalesce((counts->>'harvest/db/links_lost')::bigint, 0)
               FROM crawl_runs ORDER BY run_id DESC LIMIT 20"""
        )
        out["runs"] = [dict(zip(RUN_COLUMNS, row, strict=True)) for row in cur.fetchall()]
    return out


def server_version(conn: Any) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT current_setting('server_version')")
        row = cur.fetchone()
    return str(row[0])


def stored_posts_and_links(conn: Any) -> tuple[set[str], list[tuple[str, str, str]]]:
    """Every stored post id, and every live link as (post id, target, location)."""
    with conn.cursor() as cur:
        cur.execute("SELECT medium_id FROM posts")
        posts = {row[0] for row in cur.fetchall()}
        cur.execute(
            "SELECT p.medium_id, l.target_url, l.location FROM links l "
            "JOIN posts p USING (post_id) WHERE l.lost_at IS NULL"
        )
        links = [(a, b, c) for a, b, c in cur.fetchall()]
    return posts, links


def recently_crawled(conn: Any, medium_ids: list[str], days: int) -> set[str]:
    """The posts among ``medium_ids`` crawled within the last ``days`` days."""
    if not medium_ids:
        return set()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT medium_id FROM posts WHERE medium_id = ANY(%s) "
            "AND last_crawled_at > now() - make_interval(days => %s)",
            (medium_ids, days),
        )
        found = {row[0] for row in cur.fetchall()}
    conn.rollback()
    return found


def crawl_report(conn: Any, run: str | int) -> tuple[dict[str, Any] | None, Rows]:
    """A crawl run (``"last"`` for the latest) and the pages it could not harvest."""
    with conn.cursor() as cur:
        if run == "last":
            cur.execute("SELECT max(run_id) FROM crawl_runs")
            row = cur.fetchone()
            if row is None or row[0] is None:
                return None, ([], [])
            run = int(row[0])
        cur.execute(
            "SELECT run_id, spider, status, reason, started_at, finished_at, arguments, counts "
            "FROM crawl_runs WHERE run_id = %s",
            (int(run),),
        )
        found = cur.fetchone()
        if found is None:
            return None, ([], [])
        names = [d[0] for d in cur.description]
        info = dict(zip(names, found, strict=True))
    failures = _run(
        conn,
        "SELECT kind, url, reason, at, raw_path FROM crawl_failures "
        "WHERE run_id = %s ORDER BY at, failure_id",
        (int(run),),
    )
    return info, failures
