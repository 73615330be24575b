"""The read side of the explorer and of the CLI's reports past backlinks: a
domain's anchors, target pages, new and lost links by month and referrers; a
post, an author, a publication and a tag; the search box.

Each function returns column names and rows (``Rows``); paging, sorting and
formatting are the caller's. Sort keys are checked against each query's own
list, so only constant SQL is ever joined in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harvest.db.queries import LinkFilters, Rows, target_filter
from harvest.db.report_numbers import DOFOLLOW_SQL, PLACEMENT_SQL, REASON_SQL, REL_SQL

_COUNTS = f"""count(*) AS links,
       count(*) FILTER (WHERE {DOFOLLOW_SQL}) AS dofollow_links,
       count(*) FILTER (WHERE {REASON_SQL} = 'follow') AS passing_links,
       count(DISTINCT l.post_id) AS posts"""

# What each grouping of a domain's links is keyed by, and how its rows may be ordered.
GROUPINGS = {
    "anchors": ("coalesce(l.anchor_text, '')", "anchor_text"),
    "targets": ("l.target_url", "target_url"),
    "authors": ("a.username", "author"),
    "publications": ("pub.key", "publication"),
}
GROUP_SORTS = ("links", "dofollow_links", "passing_links", "posts")


class UnknownSort(ValueError):
    """A sort key no table of this kind has."""


@dataclass(frozen=True, slots=True)
class Target:
    """A domain or host as stored: what backlinks and the sections are keyed by."""

    kind: str  # "domain" or "host"
    name: str
    domain_id: int
    host_id: int | None


def find_target(conn: Any, typed: str) -> Target | None:
    kind, value = target_filter(typed)
    with conn.cursor() as cur:
        if kind == "domain":
            cur.execute("SELECT domain_id FROM domains WHERE domain = %s", (value,))
            row = cur.fetchone()
            return Target(kind, value, row[0], None) if row else None
        cur.execute("SELECT domain_id, host_id FROM hosts WHERE host = %s", (value,))
        row = cur.fetchone()
        return Target(kind, value, row[0], row[1]) if row else None


def _run(conn: Any, sql: str, params: dict[str, Any]) -> Rows:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return [d[0] for d in cur.description], cur.fetchall()


def _target_where(target: Target) -> list[str]:
    where = ["l.domain_id = %(domain_id)s"]
    if target.host_id is not None:
        where.append("l.host_id = %(host_id)s")
    return where


def _grouped_from(target: Target, grouping: str, filters: LinkFilters) -> tuple[str, str]:
    """The SELECT list's key and the FROM ... GROUP BY of a grouping."""
    key, name = GROUPINGS[grouping]
    where = [*_target_where(target), *filters.where()]
    joins = "JOIN posts p ON p.post_id = l.post_id"
    if grouping == "authors":
        joins += " JOIN authors a ON a.author_id = p.author_id"
    elif grouping == "publications":
        joins += " JOIN publications pub ON pub.publication_id = p.publication_id"
    # key, name and joins are constants of this module; values are parameters
    return (
        f"{key} AS {name}",
        f"FROM links l {joins} WHERE {' AND '.join(where)} GROUP BY 1",
    )


def _params(target: Target, filters: LinkFilters, **more: Any) -> dict[str, Any]:
    return {"domain_id": target.domain_id, "host_id": target.host_id, **filters.params(), **more}


# Ties go by the group's name in code point order (COLLATE "C"), the order
# Python's own sort gives: pages cut from a kept top and pages queried agree.
def grouped(
    conn: Any,
    target: Target,
    grouping: str,
    filters: LinkFilters,
    *,
    sort: str = "links",
    limit: int = 25,
    offset: int = 0,
) -> Rows:
    """A target's links grouped by anchor text, target page, author or
    publication, with links, dofollow, passing and posts per group."""
    if sort not in GROUP_SORTS:
        raise UnknownSort(sort)
    key, source = _grouped_from(target, grouping, filters)
    name = GROUPINGS[grouping][1]
    # (the groups are named in an outer query: inside, anchor_text is the link's column)
    sql = (
        f"SELECT * FROM (SELECT {key}, {_COUNTS} {source}) g "
        f'ORDER BY {sort} DESC, {name} COLLATE "C" LIMIT %(limit)s OFFSET %(offset)s'
    )
    return _run(conn, sql, _params(target, filters, limit=limit, offset=offset))


def grouped_tops(
    conn: Any, target: Target, grouping: str, filters: LinkFilters, keep: int
) -> tuple[Rows, int]:
    """The first ``keep`` groups by each sort, in one pass over the links (the
    rows of all sorts together, each once), and how many groups there are."""
    key, source = _grouped_from(target, grouping, filters)
    name = GROUPINGS[grouping][1]
    tops = " UNION ".join(
        f'(SELECT * FROM g ORDER BY {sort} DESC, {name} COLLATE "C" LIMIT %(keep)s)'
        for sort in GROUP_SORTS
    )
    sql = f"""WITH g AS MATERIALIZED (SELECT {key}, {_COUNTS} {source})
        SELECT t.*, (SELECT count(*) FROM g) AS groups FROM ({tops}) t"""
    columns, rows = _run(conn, sql, _params(target, filters, keep=keep))
    groups = rows[0][-1] if rows else 0
    return (columns[:-1], [tuple(r[:-1]) for r in rows]), int(groups)


def freshness(conn: Any, target: Target | None = None) -> tuple[Any, ...]:
    """What changes when links or posts may have: the server's count of rows
    written to links and posts (its statistics, which every writing transaction
    adds to within a second), and the target's maintained totals."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT (SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables
                       WHERE relname IN ('links', 'posts') AND schemaname = current_schema()),
                      (SELECT row(t.*)::text FROM domain_totals t WHERE t.domain_id = %s)""",
            (target.domain_id if target else None,),
        )
        return tuple(cur.fetchone())


def large_domains(conn: Any, least: int) -> list[str]:
    """Domains with at least ``least`` live links, the most linked first."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT d.domain FROM domain_totals t JOIN domains d USING (domain_id) "
            "WHERE t.links >= %s ORDER BY t.links DESC, t.domain_id",
            (least,),
        )
        return [r[0] for r in cur.fetchall()]


def months(conn: Any, target: Target, filters: LinkFilters) -> Rows:
    """New and lost links by month: first seen in it, and found gone in it."""
    where = [*_target_where(target), *_with_lost(filters).where()]
    sql = f"""WITH m AS (
        SELECT date_trunc('month', l.first_seen AT TIME ZONE 'UTC')::date AS month,
               1 AS new, 0 AS lost, {DOFOLLOW_SQL} AS dofollow
        FROM links l JOIN posts p ON p.post_id = l.post_id WHERE {" AND ".join(where)}
        UNION ALL
        SELECT date_trunc('month', l.lost_at AT TIME ZONE 'UTC')::date, 0, 1, {DOFOLLOW_SQL}
        FROM links l JOIN posts p ON p.post_id = l.post_id
        WHERE {" AND ".join(where)} AND l.lost_at IS NOT NULL)
    SELECT month, sum(new)::bigint AS new_links,
           sum(new) FILTER (WHERE dofollow)::bigint AS new_dofollow_links,
           sum(lost)::bigint AS lost_links,
           sum(lost) FILTER (WHERE dofollow)::bigint AS lost_dofollow_links
    FROM m GROUP BY 1 ORDER BY 1 DESC"""
    columns, rows = _run(conn, sql, _params(target, filters))
    return columns, [(r[0], r[1], r[2] or 0, r[3], r[4] or 0) for r in rows]


def _with_lost(filters: LinkFilters) -> LinkFilters:
    """Lost links count in the month they were lost whatever the filter says."""
    fields = {f: getattr(filters, f) for f in LinkFilters.__slots__}
    return LinkFilters(**{**fields, "include_lost": True})


# -- a post, an author, a publication, a tag ----------------------------------------

POST_LINK_COLUMNS = (
    "target_url",
    "anchor_text",
    "rel",
    "placement",
    "reason",
    "first_seen",
    "lost_at",
)


def post(conn: Any, medium_id: str) -> tuple[dict[str, Any] | None, Rows]:
    """A post's own row and every link harvested from it, in page order."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT p.post_id AS row_id, p.medium_id AS post_id, p.title AS post_title,
                      coalesce(p.canonical_url, p.url) AS post_url, a.username AS author,
                      pub.key AS publication, pub.name AS publication_name,
                      p.first_published_at, p.tags, p.last_crawled_at
               FROM posts p LEFT JOIN authors a ON a.author_id = p.author_id
               LEFT JOIN publications pub ON pub.publication_id = p.publication_id
               WHERE p.medium_id = %s""",
            (medium_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None, (list(POST_LINK_COLUMNS), [])
        names = [d[0] for d in cur.description]
        found = dict(zip(names, row, strict=True))
    sql = f"""SELECT l.target_url, l.anchor_text, {REL_SQL} AS rel, {PLACEMENT_SQL} AS placement,
                     {REASON_SQL} AS reason, l.first_seen, l.lost_at
              FROM links l JOIN posts p ON p.post_id = l.post_id
              WHERE l.post_id = %(post_id)s ORDER BY l.location, l.position"""
    # the row's own id stays here: what is shown is Medium's id
    return found, _run(conn, sql, {"post_id": found.pop("row_id")})


POST_LIST_COLUMNS = (
    "post_id", "post_title", "author", "publication", "first_published_at", "links",
)  # fmt: skip

_POST_LIST = """SELECT p.medium_id AS post_id, p.title AS post_title, a.username AS author,
       pub.key AS publication, p.first_published_at,
       (SELECT count(*) FROM links l WHERE l.post_id = p.post_id AND l.lost_at IS NULL) AS links
FROM posts p LEFT JOIN authors a ON a.author_id = p.author_id
LEFT JOIN publications pub ON pub.publication_id = p.publication_id"""


def author(conn: Any, username: str) -> dict[str, Any] | None:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT author_id, username AS author, name AS author_name FROM authors "
            "WHERE username = %s",
            (username.removeprefix("@"),),
        )
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None


def publication(conn: Any, ref: str) -> dict[str, Any] | None:
    """A publication by its slug, key, own domain or name (any case)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT publication_id, slug AS publication, name AS publication_name,
                      domain AS publication_domain
               FROM publications WHERE %(ref)s IN (slug, key, domain)
                  OR lower(name) = lower(%(ref)s)
               ORDER BY (%(ref)s IN (slug, key, domain)) DESC, publication_id LIMIT 1""",
            {"ref": ref},
        )
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None


def posts_of(
    conn: Any, *, author_id: int | None = None, publication_id: int | None = None,
    tag: str | None = None, limit: int = 25, offset: int = 0,
) -> Rows:  # fmt: skip
    """Posts, newest first, of an author, a publication or a tag."""
    if author_id is not None:
        where = "p.author_id = %(author_id)s"
    elif publication_id is not None:
        where = "p.publication_id = %(publication_id)s"
    else:
        where = "p.tags @> ARRAY[%(tag)s::text]"
    sql = (
        f"{_POST_LIST} WHERE {where} "
        "ORDER BY p.first_published_at DESC NULLS LAST, p.post_id LIMIT %(limit)s OFFSET %(offset)s"
    )
    params = {
        "author_id": author_id,
        "publication_id": publication_id,
        "tag": tag,
        "limit": limit,
        "offset": offset,
    }
    return _run(conn, sql, params)


def author_domains(
    conn: Any, author_id: int, *, sort: str = "links", limit: int = 25, offset: int = 0
) -> Rows:
    """The domains an author's posts link to (live links): an author's links are
    few enough to count as asked, where tags and publications have summaries."""
    if sort not in GROUP_SORTS:
        raise UnknownSort(sort)
    sql = f"""SELECT d.domain, {_COUNTS}
        FROM links l JOIN posts p ON p.post_id = l.post_id
        JOIN domains d ON d.domain_id = l.domain_id
        WHERE p.author_id = %(author_id)s AND l.lost_at IS NULL GROUP BY 1
        ORDER BY {sort} DESC, 1 LIMIT %(limit)s OFFSET %(offset)s"""
    return _run(conn, sql, {"author_id": author_id, "limit": limit, "offset": offset})


def tag_exists(conn: Any, tag: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM tag_stats WHERE tag = %s)", (tag,))
        return bool(cur.fetchone()[0])


# -- the search box -------------------------------------------------------------------

SEARCH_COLUMNS = ("kind", "name", "label")


def search(conn: Any, text: str, *, limit: int = 20) -> Rows:
    """Domains, hosts, authors, publications and tags whose name starts with the text."""
    prefix = text.strip().lower().removeprefix("@")
    if not prefix:
        return list(SEARCH_COLUMNS), []
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sql = """(SELECT 'domain' AS kind, domain AS name, domain AS label FROM domains
              WHERE domain LIKE %(like)s ORDER BY length(domain), domain LIMIT %(limit)s)
        UNION ALL
        (SELECT 'author', username, coalesce(name, username) FROM authors
              WHERE lower(username) LIKE %(like)s ORDER BY length(username) LIMIT %(limit)s)
        UNION ALL
        (SELECT 'publication', slug, coalesce(name, slug) FROM publications
              WHERE slug IS NOT NULL AND (slug LIKE %(like)s OR lower(name) LIKE %(like)s)
              ORDER BY length(slug) LIMIT %(limit)s)
        UNION ALL
        (SELECT DISTINCT ON (length(tag), tag) 'tag', tag, tag FROM tag_stats
              WHERE tag LIKE %(like)s AND tag <> '' ORDER BY length(tag), tag LIMIT %(limit)s)"""
    return _run(conn, sql, {"like": like, "limit": limit})


# -- filters that name nothing -----------------------------------------------------------

# How many names of a kind are compared with a misspelt one (those sharing its
# first letters, for domains: the dictionary may hold millions).
_NEAREST_POOL = 5000


def _names(conn: Any, kind: str, value: str) -> list[str]:
    """Names of ``kind`` the harvest has that ``value`` may have meant."""
    if kind == "tag":
        sql = "SELECT DISTINCT tag FROM tag_stats WHERE tag <> '' LIMIT %(n)s"
    elif kind == "author":
        sql = """SELECT username FROM authors WHERE lower(username) LIKE %(prefix)s
                 LIMIT %(n)s"""
    elif kind == "publication":
        sql = """SELECT name FROM (SELECT unnest(ARRAY[slug, key, domain, name]) AS name
                 FROM publications) n WHERE name IS NOT NULL LIMIT %(n)s"""
    else:
        # those that start alike, and the most linked (a misspelling's likely aim)
        sql = """(SELECT domain FROM domains WHERE domain LIKE %(prefix)s LIMIT %(n)s)
                 UNION (SELECT host FROM hosts WHERE host LIKE %(prefix)s LIMIT %(n)s)
                 UNION (SELECT d.domain FROM domain_totals t JOIN domains d USING (domain_id)
                        ORDER BY t.links DESC LIMIT %(n)s)"""
    prefix = value[:1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with conn.cursor() as cur:
        cur.execute(sql, {"n": _NEAREST_POOL, "prefix": prefix})
        return [r[0] for r in cur.fetchall()]


def known(conn: Any, kind: str, value: str) -> bool:
    """Whether the harvest has a domain or host, tag or publication of this name."""
    if kind == "domain":
        # as stored, first: the public suffix list (find_target) only for the rest
        with conn.cursor() as cur:
            cur.execute(
                "SELECT EXISTS (SELECT 1 FROM domains WHERE domain = %(v)s) "
                "OR EXISTS (SELECT 1 FROM hosts WHERE host = %(v)s)",
                {"v": value},
            )
            if cur.fetchone()[0]:
                return True
        return find_target(conn, value) is not None
    if kind == "tag":
        return tag_exists(conn, value)
    if kind == "author":
        return author(conn, value) is not None
    return publication(conn, value) is not None


def nearest(conn: Any, kind: str, value: str) -> str | None:
    """The harvest's name of ``kind`` closest to ``value``, if one is close."""
    import difflib

    found = difflib.get_close_matches(value.lower(), _names(conn, kind, value.lower()), n=1)
    return found[0] if found else None


# -- link intersect --------------------------------------------------------------------

# Per kind: the post's column, its table, key and name, and the output's word.
INTERSECT_BY = {
    "authors": ("p.author_id", "authors", "author_id", "username", "author"),
    "publications": ("p.publication_id", "publications", "publication_id", "key", "publication"),
}
INTERSECT_SORTS = ("domains", "links", "dofollow_links", "posts")


def intersect(
    conn: Any,
    competitors: list[str],
    mine: list[str],
    *,
    by: str = "authors",
    sort: str = "domains",
    limit: int = 50,
    offset: int = 0,
) -> Rows:
    """The authors (or publications) whose live links reach the competitors'
    domains but none of ``mine``: the outreach list. Per row: how many of the
    competitors it links to and which, its links to them, how many are
    dofollow (and the share), and from how many posts. Each domain's links are
    read once: the cost grows with the domains named, not with the harvest."""
    if sort not in INTERSECT_SORTS:
        raise UnknownSort(sort)
    column, table, key, name, label = INTERSECT_BY[by]
    # the names above and sort are constants of this module; values are parameters
    sql = f"""WITH
        theirs AS (SELECT domain_id, domain FROM domains WHERE domain = ANY (%(theirs)s)),
        ours AS (
            SELECT DISTINCT {column} AS who FROM domains d
            JOIN links l ON l.domain_id = d.domain_id JOIN posts p ON p.post_id = l.post_id
            WHERE d.domain = ANY (%(ours)s) AND l.lost_at IS NULL AND {column} IS NOT NULL),
        w AS (
            SELECT {column} AS who, count(DISTINCT t.domain_id) AS domains,
                   array_agg(DISTINCT t.domain ORDER BY t.domain) AS linked_domains,
                   count(*) AS links, count(*) FILTER (WHERE {DOFOLLOW_SQL}) AS dofollow_links,
                   count(DISTINCT l.post_id) AS posts
            FROM theirs t JOIN links l ON l.domain_id = t.domain_id
            JOIN posts p ON p.post_id = l.post_id
            WHERE l.lost_at IS NULL AND {column} IS NOT NULL
            GROUP BY 1)
        SELECT g.{name} AS {label}, w.domains, w.linked_domains, w.links, w.dofollow_links,
               round(w.dofollow_links::numeric / w.links, 4) AS dofollow_share, w.posts
        FROM w JOIN {table} g ON g.{key} = w.who
        WHERE NOT EXISTS (SELECT 1 FROM ours o WHERE o.who = w.who)
        ORDER BY {sort} DESC, w.links DESC, 1 LIMIT %(limit)s OFFSET %(offset)s"""
    params = {"theirs": competitors, "ours": mine, "limit": limit, "offset": offset}
    return _run(conn, sql, params)
