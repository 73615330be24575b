"""The read side: the SQL behind ``harvest backlinks``, ``top-domains`` and ``stats``.

Each function returns column names and rows; formatting is the CLI's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from harvest import vocabulary
from harvest.db.export_rows import COPIERS
from harvest.db.report_numbers import DOFOLLOW_SQL, PLACEMENT_SQL, REASON_SQL, REL_SQL

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
    "placement",
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
    "placement",
    "reason",
    "first_seen",
)


def target_filter(target: str) -> tuple[str, str]:
    """("domain" | "host", value) for what a user typed: a domain, a host or a URL."""
    # The public suffix list loads on first use, not with every command.
    from harvest.links import normalize_url, registered_domain

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


# A page of backlinks ends where the next begins: the keyset of the last row, in
# the order of links_domain_page_idx (domain, host, post: migration 0021) and,
# within a post, of its unique key (links_key, 0022); printed as one token.
_KEYSET = ("l.host_id", "l.post_id", "l.location", "l.position", "url_key(l.target_url)")

_BACKLINK_FIELDS = f"""l.target_url, p.medium_id AS post_id,
       coalesce(p.canonical_url, p.url) AS post_url, a.username AS author,
       pub.key AS publication, l.anchor_text, {REL_SQL} AS rel, l.nofollow, l.ugc, l.sponsored,
       l.location, {PLACEMENT_SQL} AS placement, l.kind,
       {REASON_SQL} = 'follow' AS passes, {REASON_SQL} AS reason,
       l.first_seen, l.last_seen, l.lost_at"""
_BACKLINK_FROM = """FROM links l
JOIN posts p ON p.post_id = l.post_id
LEFT JOIN authors a ON a.author_id = p.author_id
LEFT JOIN publications pub ON pub.publication_id = p.publication_id"""
_BACKLINK_SELECT = f"SELECT {_BACKLINK_FIELDS}, {', '.join(_KEYSET)}\n{_BACKLINK_FROM}"
# Every live backlink to one domain (%(domain)s) in page order, as plain SQL:
# what bench/export.py gives PostgreSQL's own COPY as the baseline.
EVERY_BACKLINK_SQL = f"""SELECT {_BACKLINK_FIELDS}
{_BACKLINK_FROM}
WHERE l.domain_id = (SELECT domain_id FROM domains WHERE domain = %(domain)s) AND l.lost_at IS NULL
ORDER BY {", ".join(_KEYSET)}"""


class BadCursor(ValueError):
    """An --after token that is not one harvest printed."""


def encode_after(key: tuple[Any, ...]) -> str:
    host_id, post_id, location, position, url_key = key
    return f"{host_id}.{post_id}.{location}.{position}.{url_key}"


def decode_after(token: str) -> tuple[int, int, str, int, int]:
    parts = token.strip().split(".")
    try:
        host_id, post_id, location, position, url_key = parts
        key = (int(host_id), int(post_id), location, int(position), int(url_key))
    except ValueError:
        raise BadCursor(f"not a page token printed by harvest backlinks: {token!r}") from None
    if location not in ("body", "author_bio"):
        raise BadCursor(f"not a page token printed by harvest backlinks: {token!r}")
    return key


@dataclass
class BacklinkPage:
    columns: list[str]
    rows: Iterable[tuple[Any, ...]]
    # Of every live link to the target, whatever the filters: links,
    # dofollow_links, passing_links, lost_links, posts, authors, publications.
    totals: dict[str, int]
    # the token of the next page, None on the last one (and with limit=None)
    after: str | None = None
    # the token of the page before, None on the first one
    before: str | None = None
    # rows written as CSV by the server (csv_to), instead of rows
    written: int | None = None


def _target_ids(cur: Any, target: str) -> tuple[str, str, int | None, int | None]:
    kind, value = target_filter(target)
    if kind == "domain":
        cur.execute("SELECT domain_id FROM domains WHERE domain = %s", (value,))
        row = cur.fetchone()
        return kind, value, (row[0] if row else None), None
    cur.execute("SELECT domain_id, host_id FROM hosts WHERE host = %s", (value,))
    row = cur.fetchone()
    return kind, value, (row[0] if row else None), (row[1] if row else None)


_DOMAIN_TOTALS_SQL = """SELECT links, dofollow AS dofollow_links, passing AS passing_links,
       lost AS lost_links, posts, authors, publications
FROM domain_totals WHERE domain_id = %s"""

# A host has no maintained row (distinct counts do not add up across a
# domain's hosts): its totals are counted, one pass over its links.
_HOST_TOTALS_SQL = f"""SELECT count(*) FILTER (WHERE l.lost_at IS NULL) AS links,
       count(*) FILTER (WHERE l.lost_at IS NULL AND {DOFOLLOW_SQL}) AS dofollow_links,
       count(*) FILTER (WHERE {REASON_SQL} = 'follow') AS passing_links,
       count(*) FILTER (WHERE l.lost_at IS NOT NULL) AS lost_links,
       count(DISTINCT l.post_id) FILTER (WHERE l.lost_at IS NULL) AS posts,
       count(DISTINCT p.author_id) FILTER (WHERE l.lost_at IS NULL) AS authors,
       count(DISTINCT p.publication_id) FILTER (WHERE l.lost_at IS NULL) AS publications
FROM links l JOIN posts p ON p.post_id = l.post_id
WHERE l.domain_id = %s AND l.host_id = %s"""

_NO_TOTALS = dict.fromkeys(
    ("links", "dofollow_links", "passing_links", "lost_links", "posts", "authors", "publications"),
    0,
)


# Where on the page a link stands, and the rel classes a filter can name
# (harvest.vocabulary), as conditions on links l.
PLACEMENTS = tuple(vocabulary.PLACEMENTS)
REL_CLASSES = {
    "dofollow": DOFOLLOW_SQL,
    "nofollow": "l.nofollow",
    "ugc": "l.ugc",
    "sponsored": "l.sponsored",
}


@dataclass(frozen=True, slots=True)
class LinkFilters:
    """What a page of backlinks is narrowed to (the CLI's options, the explorer's
    query string). Dates are inclusive days."""

    dofollow_only: bool = False
    passing_only: bool = False
    author: str | None = None
    placement: str | None = None
    rel: str | None = None
    reason: str | None = None
    since: date | None = None
    until: date | None = None
    published_since: date | None = None
    published_until: date | None = None
    include_lost: bool = False

    def where(self) -> list[str]:
        """Conditions on links l and posts p; values go in as parameters."""
        return self._on_links() + self._on_posts()

    def _on_links(self) -> list[str]:
        where = []
        if self.dofollow_only:
            where.append(DOFOLLOW_SQL)
        if self.passing_only:
            where.append(f"{REASON_SQL} = 'follow'")
        if self.placement is not None:
            where.append(f"{PLACEMENT_SQL} = %(placement)s")
        if self.rel is not None:
            where.append(REL_CLASSES[self.rel])
        if self.reason is not None:
            where.append(f"{REASON_SQL} = %(reason)s")
        if self.since is not None:
            where.append("l.first_seen >= %(since)s")
        if self.until is not None:
            where.append("l.first_seen < %(until)s::date + 1")
        if not self.include_lost:
            where.append("l.lost_at IS NULL")
        return where

    def _on_posts(self) -> list[str]:
        where = []
        if self.author is not None:
            where.append(
                "p.author_id = (SELECT author_id FROM authors WHERE username = %(author)s)"
            )
        if self.published_since is not None:
            where.append("p.first_published_at >= %(published_since)s")
        if self.published_until is not None:
            where.append("p.first_published_at < %(published_until)s::date + 1")
        return where

    def params(self) -> dict[str, Any]:
        return {
            "author": self.author,
            "placement": self.placement,
            "reason": self.reason,
            "since": self.since,
            "until": self.until,
            "published_since": self.published_since,
            "published_until": self.published_until,
        }


def target_totals(conn: Any, domain_id: int, host_id: int | None = None) -> dict[str, int]:
    """Of every live link to a domain (or, with ``host_id``, one of its hosts):
    links, dofollow_links, passing_links, lost_links, posts, authors, publications."""
    with conn.cursor() as cur:
        if host_id is None:
            cur.execute(_DOMAIN_TOTALS_SQL, (domain_id,))
        else:
            cur.execute(_HOST_TOTALS_SQL, (domain_id, host_id))
        row = cur.fetchone()
        names = [d[0] for d in cur.description]
    return dict(zip(names, row, strict=True)) if row else dict(_NO_TOTALS)


def backlinks(
    conn: Any,
    target: str,
    *,
    filters: LinkFilters | None = None,
    limit: int | None = 50,
    after: str | None = None,
    before: str | None = None,
    csv_to: IO[str] | None = None,
    fmt: str = "csv",
) -> BacklinkPage:
    """One page of the links to a domain or host, in a stable order, with totals.

    ``after`` gives the page after a row, ``before`` the page before one (both
    tokens as a page prints them). ``limit=None`` gives every row, read from a
    server-side cursor as the caller iterates (``harvest backlinks --all``);
    the caller then owns the transaction until it has read them; with
    ``csv_to`` they are written there by the server instead (COPY), as CSV or
    (``fmt`` jsonl) JSON Lines, and the page's ``written`` says how many.
    """
    filters = filters or LinkFilters()
    key = decode_after(after) if after else None
    back = decode_after(before) if before else None
    columns = list(BACKLINK_COLUMNS)
    with conn.cursor() as cur:
        _, _, domain_id, host_id = _target_ids(cur, target)
    if domain_id is None:
        return BacklinkPage(columns, [], dict(_NO_TOTALS))
    totals = target_totals(conn, domain_id, host_id)
    where, order, params = _backlink_query(domain_id, host_id, filters, key, back)
    if limit is None and csv_to is not None:
        condition = " AND ".join(where)
        every = f"SELECT {_BACKLINK_FIELDS}\n{_BACKLINK_FROM} WHERE {condition} ORDER BY {order}"
        written = COPIERS[fmt](conn, every, params, csv_to)
        return BacklinkPage(columns, [], totals, written=written)
    # Only constant fragments are joined here; values go in as parameters.
    sql = f"{_BACKLINK_SELECT} WHERE {' AND '.join(where)} ORDER BY {order}"
    if limit is None:
        # A server-side cursor lives in a transaction: the caller's, from here on.
        if conn.autocommit:
            conn.autocommit = False
        cur = conn.cursor(name="harvest_backlinks")
        cur.itersize = 5000
        cur.execute(sql, params)
        return BacklinkPage(columns, (tuple(r[: len(columns)]) for r in cur), totals)
    # one row more than the page says whether there is a page beyond it
    found = _short_walk(conn, sql + " LIMIT %(n)s", {**params, "n": limit + 1})
    return _keyset_page(columns, totals, found, limit, forward=key is not None, back=back)


def _backlink_query(
    domain_id: int,
    host_id: int | None,
    filters: LinkFilters,
    key: tuple[Any, ...] | None,
    back: tuple[Any, ...] | None,
) -> tuple[list[str], str, dict[str, Any]]:
    """The conditions, order and parameters of a page of backlinks: after ``key``,
    or before ``back`` (read backwards, then turned round)."""
    where = ["l.domain_id = %(domain_id)s"]
    if host_id is not None:
        where.append("l.host_id = %(host_id)s")
    keyset = ", ".join(_KEYSET)
    bound = key or back
    if bound is not None:
        side = ">" if key is not None else "<"
        where.append(f"({keyset}) {side} (%(k0)s, %(k1)s, %(k2)s, %(k3)s, %(k4)s::bigint)")
    where.extend(filters.where())
    order = keyset if back is None else ", ".join(f"{c} DESC" for c in _KEYSET)
    params: dict[str, Any] = {"domain_id": domain_id, "host_id": host_id, **filters.params()}
    if bound:
        params.update({f"k{i}": v for i, v in enumerate(bound)})
    return where, order, params


def _keyset_page(
    columns: list[str],
    totals: dict[str, int],
    found: list[tuple[Any, ...]],
    limit: int,
    *,
    forward: bool,
    back: tuple[Any, ...] | None,
) -> BacklinkPage:
    """A page of ``limit`` rows out of ``found`` (one more, if there is more), with
    the tokens of the pages on either side."""
    width = len(columns)
    page = found[:limit]
    more = len(found) > limit
    if back is not None:
        page.reverse()
    first = encode_after(tuple(page[0][width:])) if page else None
    last = encode_after(tuple(page[-1][width:])) if page else None
    return BacklinkPage(
        columns,
        [tuple(r[:width]) for r in page],
        totals,
        after=last if (more if back is None else bool(page)) else None,
        before=first if (bool(page) and (forward or (back is not None and more))) else None,
    )


def _short_walk(conn: Any, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of a page of backlinks, joined a link at a time.

    A host's page deep in a large domain comes in post order, and the planner
    then likes a merge join that reads posts from the first one on (146 ms
    against 14 for a page at post ~400,000 of 10^7 links): a page is always a
    short walk of the index with one post looked up per link."""
    with conn.cursor() as cur:
        cur.execute("SET enable_mergejoin = off")
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            # (a failed transaction's rollback takes the SET back with it)
            if conn.get_transaction_status() != TRANSACTION_STATUS_INERROR:
                cur.execute("RESET enable_mergejoin")


# What `harvest top-domains` shows in a terminal: the domain whole, and what it is
# worth; csv and json carry every column.
TOP_DOMAIN_TABLE_COLUMNS = (
    "domain",
    "links",
    "posts",
    "authors",
    "dofollow_links",
    "passing_links",
    "nofollow_share",
)


# What top-domains ranks by, and the domain_totals column each is.
TOP_DOMAIN_ORDER = {
    "links": "t.links",
    "dofollow_links": "t.dofollow",
    "posts": "t.posts",
    "authors": "t.authors",
}


def top_domains(
    conn: Any, *, limit: int = 25, dofollow_only: bool = False, sort: str = "links"
) -> Rows:
    """The most linked-to domains, from the maintained domain_totals."""
    order = TOP_DOMAIN_ORDER["dofollow_links" if dofollow_only else sort]
    # "order" is one of the constants above; links and dofollow match an index
    # of domain_totals, posts and authors sort its rows (~200,000 at 10^7 links).
    sql = (
        "SELECT d.domain, t.links, t.posts, t.authors, t.publications, "
        "t.nofollow AS nofollow_links, t.ugc AS ugc_links, t.sponsored AS sponsored_links, "
        "t.dofollow AS dofollow_links, t.passing AS passing_links, "
        "round(t.nofollow::numeric / nullif(t.links, 0), 4) AS nofollow_share "
        "FROM domain_totals t JOIN domains d USING (domain_id) "
        f"WHERE t.links > 0 ORDER BY {order} DESC, t.domain_id LIMIT %(limit)s"
    )
    return _run(conn, sql, {"limit": limit})


# A run's status as readers show it: "running" with no live process is "died"
# (migration 0010), whatever the row still says; its reason says the same.
_RUN_STATUS = "run_status(status, run_id)"
_RUN_REASON = (
    "CASE WHEN run_status(status, run_id) = 'died' AND status = 'running' "
    "THEN 'the crawl process died before it finished; last progress at ' "
    "|| to_char(coalesce(progress_at, started_at) AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD HH24:MI:SS') || ' UTC' ELSE reason END"
)

RUN_COLUMNS = (
    "run_id",
    "spider",
    "status",
    "started_at",
    "finished_at",
    "pages",
    "links",
    "lost_links",
)


def stats(conn: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with conn.cursor() as cur:
        cur.execute(
            """SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM authors),
                      (SELECT count(*) FROM publications), (SELECT count(*) FROM domains)"""
        )
        posts, authors, pubs, domains = cur.fetchone()
        # Every figure below is read from the maintained summaries (migration
        # 0006): tag_stats' tag '' rows hold each link once.
        cur.execute(
            """SELECT coalesce(sum(links), 0), coalesce(sum(lost), 0), coalesce(sum(nofollow), 0),
                      coalesce(sum(ugc), 0), coalesce(sum(sponsored), 0),
                      coalesce(sum(dofollow), 0)
               FROM tag_stats WHERE tag = ''"""
        )
        links, lost, nofollow, ugc, sponsored, dofollow = (int(v) for v in cur.fetchone())
        out.update(
            posts=posts,
            authors=authors,
            publications=pubs,
            domains=domains,
            links=links,
            lost_links=lost,
        )
        out.update(_verdict_shares(cur, links))
        live = links - lost
        for name, n in (
            ("nofollow", nofollow),
            ("ugc", ugc),
            ("sponsored", sponsored),
            ("dofollow", dofollow),
        ):
            # shares of live links, as in the report
            out[f"{name}_share"] = round(n / live, 4) if live else None
        cur.execute(
            f"""SELECT run_id, spider, {_RUN_STATUS}, started_at, finished_at,
                      coalesce((counts->>'harvest/db/pages')::bigint, 0),
                      coalesce((counts->>'harvest/db/links')::bigint, 0),
                      coalesce((counts->>'harvest/db/links_lost')::bigint, 0)
               FROM crawl_runs ORDER BY run_id DESC LIMIT 20"""
        )
        out["runs"] = [dict(zip(RUN_COLUMNS, row, strict=True)) for row in cur.fetchall()]
    return out


def _verdict_shares(cur: Any, links: int) -> dict[str, Any]:
    """The share of links that pass, and by why the others do not: followed
    anchors that still pass nothing (the page, the post, the link), and all."""
    cur.execute(
        """SELECT reason, sum(links), sum(dofollow + lost_dofollow) FROM tag_stats
           WHERE tag = '' GROUP BY 1 HAVING sum(links) > 0 ORDER BY 2 DESC, 1"""
    )
    reasons = [(r, int(n), int(d)) for r, n, d in cur.fetchall()]
    passing = sum(n for reason, n, _ in reasons if reason == "follow")
    return {
        "passing_share": round(passing / links, 4) if links else None,
        "dofollow_exceptions": {r: d for r, _, d in reasons if d and r != "follow"},
        "why_not_passing": {r: n for r, n, _ in reasons if r != "follow"},
    }


def runs_of_jobs(conn: Any, jobs: Sequence[str]) -> dict[str, tuple[int, str, str | None]]:
    """The run row each scrapyd job made (its id is kept in the run's arguments):
    job id -> (run_id, status, reason); a job with no run row yet is absent."""
    if not jobs:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT DISTINCT ON (arguments->>'scrapyd_job') arguments->>'scrapyd_job',
                       run_id, {_RUN_STATUS}, {_RUN_REASON}
                FROM crawl_runs WHERE arguments->>'scrapyd_job' = ANY(%s)
                ORDER BY arguments->>'scrapyd_job', run_id DESC""",
            (list(jobs),),
        )
        return {job: (run_id, status, reason) for job, run_id, status, reason in cur.fetchall()}


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


def known_posts(
    conn: Any, medium_ids: list[str], days: int, runs: list[int]
) -> dict[str, dict[str, Any]]:
    """The posts among ``medium_ids`` not to fetch again: crawled within ``days``
    days (0: none are), or stored by one of ``runs`` (dead runs a crawl resumes).
    Each with why (``recent`` or ``resumed``), its author and tags: a resumed
    post's follow-ups are still to be made."""
    if not medium_ids or (days <= 0 and not runs):
        return {}
    with conn.cursor() as cur:
        cur.execute(
            """SELECT p.medium_id, coalesce(p.last_run_id = ANY(%(runs)s), false),
                      a.username, p.tags
                 FROM posts p LEFT JOIN authors a ON a.author_id = p.author_id
                WHERE p.medium_id = ANY(%(ids)s)
                  AND ((%(days)s > 0
                        AND p.last_crawled_at > now() - make_interval(days => %(days)s))
                       OR p.last_run_id = ANY(%(runs)s))""",
            {"ids": medium_ids, "days": days, "runs": runs},
        )
        found = {
            row[0]: {
                "why": "resumed" if row[1] else "recent",
                "author": row[2],
                "tags": list(row[3] or []),
            }
            for row in cur.fetchall()
        }
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
            f"SELECT run_id, spider, {_RUN_STATUS} AS status, {_RUN_REASON} AS reason, "
            "started_at, finished_at, progress_at, arguments, counts "
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


def walk_marks(conn: Any, walks: list[str]) -> dict[str, dict[str, Any]]:
    """Where earlier crawls' complete GraphQL walks of ``walks`` ended
    (:data:`harvest.contract.signals.walk_marks`)."""
    if not walks:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT walk, newest, walked_at FROM listing_walks WHERE walk = ANY(%s)", (walks,)
        )
        found = {
            walk: {
                "newest": newest.isoformat() if newest is not None else None,
                "walked_at": walked_at,
            }
            for walk, newest, walked_at in cur.fetchall()
        }
    conn.rollback()
    return found
