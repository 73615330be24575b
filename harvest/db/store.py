"""Writing harvested pages to PostgreSQL.

A batch is one transaction:

1. hosts and registered domains of the batch are added to their dictionaries
   and their ids read back (ids already known from earlier batches come from
   a cache that only ever holds committed ids);
2. authors, publications and posts are upserted from a small staging table;
   the posts upsert says which posts are new and which are recrawls;
3. links of new posts are COPYed straight into ``links`` (no row of theirs
   can exist yet), links of recrawled posts go through a staging table and one
   set-based upsert, and links a recrawl no longer finds are marked lost.

Every step is idempotent, so a batch that fails half way (connection lost,
server restarted) is run again from the start: nothing is lost and nothing is
written twice. Concurrent writers are safe: the posts upsert serializes them
per post, and dictionary inserts take their locks in sorted order.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harvest.items import ArticlePage, ProfilePage

# COPY text format escapes: backslash first, then the separators.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]").search
_NULL = "\\N"
_BOOL = {True: "t", False: "f"}


def _field(value: object) -> str:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL[value]
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE(text) else text


def _esc(text: str | None) -> str:
    if text is None:
        return _NULL
    return text.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE(text) else text


def copy_rows(
    cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> int:
    """COPY ``rows`` (tuples of Python values) into ``table``; returns how many were sent."""
    lines = ["\t".join([_field(v) for v in row]) + "\n" for row in rows]
    copy_text(cur, table, columns, lines)
    return len(lines)


def copy_text(cur: Any, table: str, columns: Sequence[str], lines: Sequence[str]) -> None:
    """COPY already formatted text-format lines into ``table``."""
    if not lines:
        return
    buf = io.StringIO("".join(lines))
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


@dataclass(slots=True)
class BatchResult:
    pages: int = 0
    profiles: int = 0
    links: int = 0
    new_posts: int = 0
    recrawled_posts: int = 0
    duplicate_pages: int = 0
    duplicate_links: int = 0
    lost: int = 0


class HostIds:
    """host -> (host_id, domain_id) for hosts whose rows are committed.

    Ids never change once committed (dictionary rows are never deleted), so a
    process may keep them; ids read inside a transaction join only after it
    commits, because a rolled-back insert would leave ids that do not exist.
    """

    def __init__(self, limit: int = 500_000) -> None:
        self.limit = limit
        self._ids: dict[str, tuple[int, int]] = {}

    def get(self, host: str) -> tuple[int, int] | None:
        return self._ids.get(host)

    def commit(self, fresh: dict[str, tuple[int, int]]) -> None:
        if len(self._ids) + len(fresh) > self.limit:
            self._ids.clear()  # simple and bounded; the next batches refill it
        self._ids.update(fresh)


_STAGE_POSTS_SQL = """
CREATE TEMP TABLE stage_posts (
    medium_id text, url text, canonical_url text, username text, author_name text,
    pub_key text, pub_slug text, pub_name text, pub_domain text, title text, tags text,
    published_at timestamptz, crawled_at timestamptz
) ON COMMIT DROP
"""
_POST_COLUMNS = (
    "medium_id",
    "url",
    "canonical_url",
    "username",
    "author_name",
    "pub_key",
    "pub_slug",
    "pub_name",
    "pub_domain",
    "title",
    "tags",
    "published_at",
    "crawled_at",
)

_HOSTS_SQL = """
INSERT INTO domains (domain)
SELECT d FROM unnest(%(domains)s::text[]) AS d
WHERE NOT EXISTS (SELECT 1 FROM domains x WHERE x.domain = d)
ORDER BY 1
ON CONFLICT (domain) DO NOTHING;

INSERT INTO hosts (host, domain_id)
SELECT h.host, d.domain_id
FROM unnest(%(hosts)s::text[], %(host_domains)s::text[]) AS h(host, domain)
JOIN domains d ON d.domain = h.domain
WHERE NOT EXISTS (SELECT 1 FROM hosts x WHERE x.host = h.host)
ORDER BY 1
ON CONFLICT (host) DO NOTHING;

SELECT host, host_id, domain_id FROM hosts WHERE host = ANY(%(hosts)s::text[]);
"""

_PEOPLE_SQL = """
INSERT INTO authors (username, name, first_seen, last_seen)
SELECT DISTINCT ON (username) username, author_name, crawled_at, crawled_at
FROM stage_posts WHERE username IS NOT NULL
ORDER BY username, crawled_at DESC
ON CONFLICT (username) DO UPDATE SET
    name = coalesce(EXCLUDED.name, authors.name),
    first_seen = least(authors.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(authors.last_seen, EXCLUDED.last_seen);

INSERT INTO publications (key, slug, name, domain, first_seen, last_seen)
SELECT DISTINCT ON (pub_key) pub_key, pub_slug, pub_name, pub_domain, crawled_at, crawled_at
FROM stage_posts WHERE pub_key IS NOT NULL
ORDER BY pub_key, crawled_at DESC
ON CONFLICT (key) DO UPDATE SET
    slug = coalesce(EXCLUDED.slug, publications.slug),
    name = coalesce(EXCLUDED.name, publications.name),
    domain = coalesce(EXCLUDED.domain, publications.domain),
    first_seen = least(publications.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(publications.last_seen, EXCLUDED.last_seen);
"""

# RETURNING (xmax <> 0) tells an updated row (a recrawl) from an inserted one.
_POSTS_SQL = """
INSERT INTO posts AS p (medium_id, url, canonical_url, author_id, publication_id, title, tags,
                        first_published_at, first_crawled_at, last_crawled_at, last_run_id)
SELECT s.medium_id, s.url, s.canonical_url, a.author_id, pb.publication_id, s.title,
       ARRAY(SELECT jsonb_array_elements_text(s.tags::jsonb)),
       s.published_at, s.crawled_at, s.crawled_at, %(run_id)s
FROM stage_posts s
LEFT JOIN authors a ON a.username = s.username
LEFT JOIN publications pb ON pb.key = s.pub_key
WHERE s.medium_id IS NOT NULL
ORDER BY s.medium_id
ON CONFLICT (medium_id) DO UPDATE SET
    -- a fetch older than the stored one (a late batch) must not roll facts back
    url = CASE WHEN EXCLUDED.last_crawled_at >= p.last_crawled_at
               THEN EXCLUDED.url ELSE p.url END,
    canonical_url = CASE WHEN EXCLUDED.last_crawled_at >= p.last_crawled_at
                         THEN coalesce(EXCLUDED.canonical_url, p.canonical_url)
                         ELSE coalesce(p.canonical_url, EXCLUDED.canonical_url) END,
    author_id = coalesce(EXCLUDED.author_id, p.author_id),
    publication_id = coalesce(EXCLUDED.publication_id, p.publication_id),
    title = CASE WHEN EXCLUDED.last_crawled_at >= p.last_crawled_at
                 THEN coalesce(EXCLUDED.title, p.title) ELSE coalesce(p.title, EXCLUDED.title) END,
    tags = CASE WHEN cardinality(EXCLUDED.tags) > 0
                 AND (EXCLUDED.last_crawled_at >= p.last_crawled_at OR cardinality(p.tags) = 0)
                THEN EXCLUDED.tags ELSE p.tags END,
    first_published_at = coalesce(EXCLUDED.first_published_at, p.first_published_at),
    first_crawled_at = least(p.first_crawled_at, EXCLUDED.first_crawled_at),
    last_crawled_at = greatest(p.last_crawled_at, EXCLUDED.last_crawled_at),
    last_run_id = coalesce(EXCLUDED.last_run_id, p.last_run_id)
RETURNING p.medium_id, p.post_id, (p.xmax <> 0) AS recrawl
"""

# url_hash is generated by the table from target_url.
_LINK_COLUMNS = (
    "post_id",
    "location",
    "position",
    "target_url",
    "target_url_raw",
    "host_id",
    "domain_id",
    "anchor_text",
    "kind",
    "block",
    "rel",
    "nofollow",
    "ugc",
    "sponsored",
    "first_seen",
    "last_seen",
)

_STAGE_LINKS_SQL = """
CREATE TEMP TABLE stage_links (LIKE links INCLUDING DEFAULTS INCLUDING GENERATED) ON COMMIT DROP
"""

# For recrawled posts only. Facts follow the newest fetch; a late, older
# fetch only widens first_seen and cannot bring back a link lost after it.
_RECRAWL_SQL = """
INSERT INTO links AS l (post_id, location, position, target_url, target_url_raw,
                        host_id, domain_id, anchor_text, kind, block, rel, nofollow, ugc,
                        sponsored, first_seen, last_seen)
SELECT post_id, location, position, target_url, target_url_raw, host_id, domain_id,
       anchor_text, kind, block, rel, nofollow, ugc, sponsored, first_seen, last_seen
FROM stage_links
ORDER BY post_id, location, position, url_hash
ON CONFLICT (post_id, location, position, url_hash) DO UPDATE SET
    target_url_raw = CASE WHEN EXCLUDED.last_seen >= l.last_seen
                          THEN EXCLUDED.target_url_raw ELSE l.target_url_raw END,
    anchor_text = CASE WHEN EXCLUDED.last_seen >= l.last_seen
                       THEN EXCLUDED.anchor_text ELSE l.anchor_text END,
    kind = CASE WHEN EXCLUDED.last_seen >= l.last_seen THEN EXCLUDED.kind ELSE l.kind END,
    block = CASE WHEN EXCLUDED.last_seen >= l.last_seen THEN EXCLUDED.block ELSE l.block END,
    rel = CASE WHEN EXCLUDED.last_seen >= l.last_seen THEN EXCLUDED.rel ELSE l.rel END,
    nofollow = CASE WHEN EXCLUDED.last_seen >= l.last_seen
                    THEN EXCLUDED.nofollow ELSE l.nofollow END,
    ugc = CASE WHEN EXCLUDED.last_seen >= l.last_seen THEN EXCLUDED.ugc ELSE l.ugc END,
    sponsored = CASE WHEN EXCLUDED.last_seen >= l.last_seen
                     THEN EXCLUDED.sponsored ELSE l.sponsored END,
    first_seen = least(l.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(l.last_seen, EXCLUDED.last_seen),
    lost_at = CASE WHEN l.lost_at IS NOT NULL AND EXCLUDED.last_seen < l.lost_at
                   THEN l.lost_at END;

-- A link the newest fetch of its post no longer has is lost (kept, not deleted).
WITH fetched AS (
    SELECT * FROM unnest(%(post_ids)s::bigint[], %(fetched)s::timestamptz[]) AS f(post_id, at)
), lost AS (
    UPDATE links l SET lost_at = f.at
    FROM fetched f
    WHERE l.post_id = f.post_id AND l.last_seen < f.at AND l.lost_at IS NULL
    RETURNING 1
)
SELECT count(*) FROM lost;
"""

_AUTHOR_LINK_COLUMNS = (
    "author_id",
    "position",
    "target_url",
    "target_url_raw",
    "host_id",
    "domain_id",
    "anchor_text",
    "rel",
    "nofollow",
    "ugc",
    "sponsored",
    "first_seen",
    "last_seen",
)

_PROFILE_SQL = """
CREATE TEMP TABLE stage_author_links (LIKE author_links INCLUDING DEFAULTS INCLUDING GENERATED)
ON COMMIT DROP;
"""

_PROFILE_UPSERT_SQL = """
INSERT INTO author_links AS l (author_id, position, target_url, target_url_raw,
                               host_id, domain_id, anchor_text, rel, nofollow, ugc, sponsored,
                               first_seen, last_seen)
SELECT author_id, position, target_url, target_url_raw, host_id, domain_id,
       anchor_text, rel, nofollow, ugc, sponsored, first_seen, last_seen
FROM stage_author_links
ORDER BY author_id, position, url_hash
ON CONFLICT (author_id, position, url_hash) DO UPDATE SET
    target_url_raw = EXCLUDED.target_url_raw,
    anchor_text = EXCLUDED.anchor_text,
    rel = EXCLUDED.rel,
    nofollow = EXCLUDED.nofollow,
    ugc = EXCLUDED.ugc,
    sponsored = EXCLUDED.sponsored,
    first_seen = least(l.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(l.last_seen, EXCLUDED.last_seen),
    lost_at = CASE WHEN l.lost_at IS NOT NULL AND EXCLUDED.last_seen < l.lost_at
                   THEN l.lost_at END;

UPDATE author_links l SET lost_at = f.at
FROM unnest(%(author_ids)s::bigint[], %(fetched)s::timestamptz[]) AS f(author_id, at)
WHERE l.author_id = f.author_id AND l.last_seen < f.at AND l.lost_at IS NULL;
"""


def _latest_per_key(pages: Iterable[Any], key: Any) -> tuple[list[Any], int]:
    """Keep the newest page for each key; returns the pages and how many were dropped."""
    best: dict[Any, Any] = {}
    total = 0
    for page in pages:
        total += 1
        k = key(page)
        old = best.get(k)
        if old is None or page.fetched_at >= old.fetched_at:
            best[k] = page
    return list(best.values()), total - len(best)


_REL_LITERALS: dict[tuple[str, ...], str] = {}


def _rel_literal(rel: list[str]) -> str:
    """A text[] literal, COPY-escaped; tokens are quoted so any character survives.

    A crawl sees a handful of distinct rel values, so the literals are cached.
    """
    key = tuple(rel)
    found = _REL_LITERALS.get(key)
    if found is None:
        quoted = ('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in rel)
        found = _esc("{" + ",".join(quoted) + "}")
        if len(_REL_LITERALS) < 10_000:
            _REL_LITERALS[key] = found
    return found


def write_batch(
    conn: Any,
    pages: Sequence[ArticlePage],
    profiles: Sequence[ProfilePage] = (),
    run_id: int | None = None,
    host_ids: HostIds | None = None,
) -> BatchResult:
    """Store one batch in one transaction on ``conn`` (committed here)."""
    result = BatchResult()
    pages_, result.duplicate_pages = _latest_per_key(pages, lambda p: p.article.post_id)
    profiles_, dup_profiles = _latest_per_key(profiles, lambda p: p.username)
    result.duplicate_pages += dup_profiles
    cache = host_ids if host_ids is not None else HostIds()

    hosts: dict[str, str] = {}
    for page in (*pages_, *profiles_):
        for link in page.links:
            hosts[link.host] = link.domain
    fresh: dict[str, tuple[int, int]] = {}

    with conn, conn.cursor() as cur:
        missing = [h for h in hosts if cache.get(h) is None]
        if missing:
            cur.execute(
                _HOSTS_SQL,
                {
                    "domains": sorted({hosts[h] for h in missing}),
                    "hosts": missing,
                    "host_domains": [hosts[h] for h in missing],
                },
            )
            fresh = {host: (hid, did) for host, hid, did in cur.fetchall()}

        def ids(host: str) -> tuple[int, int]:
            found = fresh.get(host) or cache.get(host)
            assert found is not None, host
            return found

        cur.execute(_STAGE_POSTS_SQL)
        copy_rows(cur, "stage_posts", _POST_COLUMNS, _post_rows(pages_, profiles_))
        cur.execute(_PEOPLE_SQL)
        posts: dict[str, tuple[int, bool]] = {}
        if pages_:
            cur.execute(_POSTS_SQL, {"run_id": run_id})
            posts = {mid: (pid, recrawl) for mid, pid, recrawl in cur.fetchall()}

        new_lines: list[str] = []
        old_lines: list[str] = []
        recrawled: list[tuple[int, datetime]] = []
        for page in pages_:
            post_id, recrawl = posts[page.article.post_id]
            if recrawl:
                recrawled.append((post_id, page.fetched_at))
                out = old_lines
            else:
                out = new_lines
            seen = page.fetched_at.isoformat()
            links = page.links
            # The parser numbers links per location, so keys repeat only in
            # hand-made or corrupted items; checking that costs one set per page.
            keys = {(link.location, link.position, link.target_url) for link in links}
            if len(keys) != len(links):
                links, dropped = _unique_links(links)
                result.duplicate_links += dropped
            for link in links:
                target = link.target_url
                raw = link.target_url_raw
                host_id, domain_id = fresh.get(link.host) or ids(link.host)
                out.append(
                    f"{post_id}\t{link.location}\t{link.position}\t{_esc(target)}\t"
                    f"{_NULL if raw == target else _esc(raw)}\t{host_id}\t{domain_id}\t"
                    f"{_esc(link.anchor_text)}\t{link.kind}\t{_esc(link.block)}\t"
                    f"{_rel_literal(link.rel)}\t{_BOOL[link.nofollow]}\t{_BOOL[link.ugc]}\t"
                    f"{_BOOL[link.sponsored]}\t{seen}\t{seen}\n"
                )
        result.new_posts = len(posts) - len(recrawled)
        result.recrawled_posts = len(recrawled)
        # new posts: no row of theirs can exist, so COPY goes straight in
        copy_text(cur, "links", _LINK_COLUMNS, new_lines)
        if recrawled:
            cur.execute(_STAGE_LINKS_SQL)
            copy_text(cur, "stage_links", _LINK_COLUMNS, old_lines)
            cur.execute(
                _RECRAWL_SQL,
                {
                    "post_ids": [p for p, _ in recrawled],
                    "fetched": [t for _, t in recrawled],
                },
            )
            row = cur.fetchone()
            result.lost = int(row[0]) if row else 0
        result.links = len(new_lines) + len(old_lines)
        if profiles_:
            result.links += _write_profiles(cur, profiles_, ids)
    cache.commit(fresh)
    result.pages = len(pages_)
    result.profiles = len(profiles_)
    return result


def _post_rows(
    pages: Sequence[ArticlePage], profiles: Sequence[ProfilePage]
) -> Iterable[tuple[Any, ...]]:
    for page in pages:
        art = page.article
        author = art.author
        pub = art.publication
        yield (
            art.post_id,
            art.url or page.url,
            art.canonical_url,
            author.username if author else None,
            author.name if author else None,
            (pub.slug or pub.domain) if pub else None,
            pub.slug if pub else None,
            pub.name if pub else None,
            pub.domain if pub else None,
            art.title,
            json.dumps(art.tags),
            art.published_at,
            page.fetched_at,
        )
    for prof in profiles:
        yield (
            None,
            prof.url,
            None,
            prof.username,
            prof.name,
            None,
            None,
            None,
            None,
            None,
            "[]",
            None,
            prof.fetched_at,
        )


def _unique_links(links: list[Any]) -> tuple[list[Any], int]:
    """Links with each (location, position, target) once, the first kept."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for link in links:
        key = (link.location, link.position, link.target_url)
        if key not in seen:
            seen.add(key)
            out.append(link)
    return out, len(links) - len(out)


def _write_profiles(cur: Any, profiles: Sequence[ProfilePage], ids: Any) -> int:
    cur.execute(
        "SELECT username, author_id FROM authors WHERE username = ANY(%s)",
        ([p.username for p in profiles],),
    )
    authors = dict(cur.fetchall())
    lines = []
    keys: set[tuple[int, int, str]] = set()
    for prof in profiles:
        author_id = authors[prof.username]
        seen = prof.fetched_at.isoformat()
        for link in prof.links:
            if (author_id, link.position, link.target_url) in keys:
                continue
            keys.add((author_id, link.position, link.target_url))
            host_id, domain_id = ids(link.host)
            target, raw = link.target_url, link.target_url_raw
            lines.append(
                f"{author_id}\t{link.position}\t{_esc(target)}\t"
                f"{_NULL if raw == target else _esc(raw)}\t{host_id}\t{domain_id}\t"
                f"{_esc(link.anchor_text)}\t{_rel_literal(link.rel)}\t"
                f"{_BOOL[link.nofollow]}\t{_BOOL[link.ugc]}\t{_BOOL[link.sponsored]}\t"
                f"{seen}\t{seen}\n"
            )
    cur.execute(_PROFILE_SQL)
    copy_text(cur, "stage_author_links", _AUTHOR_LINK_COLUMNS, lines)
    cur.execute(
        _PROFILE_UPSERT_SQL,
        {
            "author_ids": [authors[p.username] for p in profiles],
            "fetched": [p.fetched_at for p in profiles],
        },
    )
    return len(lines)


# -- crawl runs ---------------------------------------------------------------------


def start_run(conn: Any, spider: str, arguments: dict[str, Any]) -> int:
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO crawl_runs (spider, arguments) VALUES (%s, %s) RETURNING run_id",
            (spider, json.dumps(arguments, default=str)),
        )
        row = cur.fetchone()
    return int(row[0])


def finish_run(conn: Any, run_id: int, status: str, counts: dict[str, Any]) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE crawl_runs SET finished_at = now(), status = %s, counts = %s
               WHERE run_id = %s""",
            (status, json.dumps(counts, default=str), run_id),
        )


def write_problems(conn: Any, problems: Sequence[Any], run_id: int | None) -> int:
    """Record pages that yielded nothing (``PageProblem`` items), in one transaction."""
    if not problems:
        return 0
    rows = [
        (run_id, p.url[:4000], p.kind, (p.reason or "unknown")[:2000], p.at, p.raw_path)
        for p in problems
    ]
    with conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO crawl_failures (run_id, url, kind, reason, at, raw_path) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)
