"""Writing harvested pages to PostgreSQL: COPY into staging, then set-based upserts.

A batch is one transaction. Every statement in it is an idempotent upsert, so a
batch that fails half way (connection lost, server restarted) is simply run
again from the start: nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harvest.items import ArticlePage, ProfilePage

# COPY text format escapes: backslash first, then the separators.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _field(value: object) -> str:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def copy_rows(
    cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> int:
    """COPY ``rows`` into ``table``; returns how many were sent."""
    buf = io.StringIO()
    n = 0
    for row in rows:
        buf.write("\t".join([_field(v) for v in row]))
        buf.write("\n")
        n += 1
    buf.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
    return n


@dataclass(slots=True)
class BatchResult:
    pages: int = 0
    profiles: int = 0
    links: int = 0
    duplicate_pages: int = 0
    duplicate_links: int = 0
    lost: int = 0
    counts: dict[str, int] = field(default_factory=dict)


_STAGE_SQL = """
CREATE TEMP TABLE stage_posts (
    medium_id text, url text, canonical_url text, username text, author_name text,
    pub_key text, pub_slug text, pub_name text, pub_domain text, title text, tags text,
    published_at timestamptz, crawled_at timestamptz
) ON COMMIT DROP;
CREATE TEMP TABLE stage_links (
    medium_id text, username text, location text, position integer, target_url text,
    target_url_raw text, host text, domain text, anchor_text text, kind text, block text,
    rel text, nofollow boolean, ugc boolean, sponsored boolean, seen_at timestamptz
) ON COMMIT DROP;
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
_LINK_COLUMNS = (
    "medium_id",
    "username",
    "location",
    "position",
    "target_url",
    "target_url_raw",
    "host",
    "domain",
    "anchor_text",
    "kind",
    "block",
    "rel",
    "nofollow",
    "ugc",
    "sponsored",
    "seen_at",
)

_COMMON_SQL = """
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

INSERT INTO domains (domain)
SELECT DISTINCT s.domain FROM stage_links s
WHERE NOT EXISTS (SELECT 1 FROM domains d WHERE d.domain = s.domain)
ON CONFLICT (domain) DO NOTHING;

INSERT INTO hosts (host, domain_id)
SELECT DISTINCT ON (s.host) s.host, d.domain_id
FROM stage_links s JOIN domains d ON d.domain = s.domain
WHERE NOT EXISTS (SELECT 1 FROM hosts h WHERE h.host = s.host)
ORDER BY s.host
ON CONFLICT (host) DO NOTHING;

"""

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
ON CONFLICT (medium_id) DO UPDATE SET
    url = EXCLUDED.url,
    canonical_url = coalesce(EXCLUDED.canonical_url, p.canonical_url),
    author_id = coalesce(EXCLUDED.author_id, p.author_id),
    publication_id = coalesce(EXCLUDED.publication_id, p.publication_id),
    title = coalesce(EXCLUDED.title, p.title),
    tags = CASE WHEN cardinality(EXCLUDED.tags) > 0 THEN EXCLUDED.tags ELSE p.tags END,
    first_published_at = coalesce(EXCLUDED.first_published_at, p.first_published_at),
    last_crawled_at = EXCLUDED.last_crawled_at,
    last_run_id = coalesce(EXCLUDED.last_run_id, p.last_run_id)
-- a fetch older than what is stored (a late batch) must not roll facts back
WHERE p.last_crawled_at <= EXCLUDED.last_crawled_at;

UPDATE posts p SET first_crawled_at = s.crawled_at
FROM stage_posts s
WHERE p.medium_id = s.medium_id AND s.crawled_at < p.first_crawled_at;

INSERT INTO links AS l (post_id, location, position, url_hash, target_url, target_url_raw,
                        host_id, domain_id, anchor_text, kind, block, rel, nofollow, ugc,
                        sponsored, first_seen, last_seen)
SELECT p.post_id, s.location, s.position, md5(s.target_url)::uuid, s.target_url,
       s.target_url_raw, h.host_id, h.domain_id, s.anchor_text, s.kind, s.block,
       string_to_array(s.rel, ' '), s.nofollow, s.ugc, s.sponsored, s.seen_at, s.seen_at
FROM stage_links s
JOIN posts p ON p.medium_id = s.medium_id
JOIN hosts h ON h.host = s.host
WHERE s.medium_id IS NOT NULL
ON CONFLICT (post_id, location, position, url_hash) DO UPDATE SET
    -- attributes follow the newest fetch; a late, older fetch only widens first_seen
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
    -- back only if seen in a fetch no older than the one that lost it
    lost_at = CASE WHEN l.lost_at IS NOT NULL AND EXCLUDED.last_seen < l.lost_at
                   THEN l.lost_at END;

-- A link the newest fetch of its post no longer has is lost (kept, not deleted).
WITH lost AS (
    UPDATE links l SET lost_at = s.crawled_at
    FROM stage_posts s JOIN posts p ON p.medium_id = s.medium_id
    WHERE l.post_id = p.post_id AND l.last_seen < s.crawled_at AND l.lost_at IS NULL
    RETURNING 1
)
SELECT count(*) FROM lost;
"""

_PROFILE_SQL = """
INSERT INTO author_links AS l (author_id, position, url_hash, target_url, target_url_raw,
                               host_id, domain_id, anchor_text, rel, nofollow, ugc, sponsored,
                               first_seen, last_seen)
SELECT a.author_id, s.position, md5(s.target_url)::uuid, s.target_url, s.target_url_raw,
       h.host_id, h.domain_id, s.anchor_text, string_to_array(s.rel, ' '), s.nofollow, s.ugc,
       s.sponsored, s.seen_at, s.seen_at
FROM stage_links s
JOIN authors a ON a.username = s.username
JOIN hosts h ON h.host = s.host
WHERE s.medium_id IS NULL
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

UPDATE author_links l SET lost_at = s.crawled_at
FROM stage_posts s JOIN authors a ON a.username = s.username
WHERE s.medium_id IS NULL AND l.author_id = a.author_id
  AND l.last_seen < s.crawled_at AND l.lost_at IS NULL;
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


def write_batch(
    conn: Any,
    pages: Sequence[ArticlePage],
    profiles: Sequence[ProfilePage] = (),
    run_id: int | None = None,
) -> BatchResult:
    """Store one batch in one transaction on ``conn`` (committed here)."""
    result = BatchResult()
    pages_, result.duplicate_pages = _latest_per_key(pages, lambda p: p.article.post_id)
    profiles_, dup_profiles = _latest_per_key(profiles, lambda p: p.username)
    result.duplicate_pages += dup_profiles

    post_rows = []
    link_rows: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for page in pages_:
        art = page.article
        author = art.author
        pub = art.publication
        pub_key = (pub.slug or pub.domain) if pub else None
        post_rows.append(
            (
                art.post_id,
                art.url or page.url,
                art.canonical_url,
                author.username if author else None,
                author.name if author else None,
                pub_key,
                pub.slug if pub else None,
                pub.name if pub else None,
                pub.domain if pub else None,
                art.title,
                json.dumps(art.tags),
                art.published_at,
                page.fetched_at,
            )
        )
        for link in page.links:
            key = (art.post_id, link.location, link.position, link.target_url)
            if key in link_rows:
                result.duplicate_links += 1
            link_rows[key] = _link_row(art.post_id, None, link, page.fetched_at)
    for prof in profiles_:
        post_rows.append(
            (
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
        )
        for link in prof.links:
            key = (None, prof.username, link.position, link.target_url)
            if key in link_rows:
                result.duplicate_links += 1
            link_rows[key] = _link_row(None, prof.username, link, prof.fetched_at)

    with conn, conn.cursor() as cur:
        cur.execute(_STAGE_SQL)
        copy_rows(cur, "stage_posts", _POST_COLUMNS, post_rows)
        copy_rows(cur, "stage_links", _LINK_COLUMNS, link_rows.values())
        cur.execute(_COMMON_SQL)
        if pages_:
            cur.execute(_POSTS_SQL, {"run_id": run_id})
            row = cur.fetchone()
            result.lost = int(row[0]) if row else 0
        if profiles_:
            cur.execute(_PROFILE_SQL)
    result.pages = len(pages_)
    result.profiles = len(profiles_)
    result.links = len(link_rows)
    return result


def _link_row(
    post_id: str | None, username: str | None, link: Any, seen: datetime
) -> tuple[Any, ...]:
    raw = link.target_url_raw if link.target_url_raw != link.target_url else None
    return (
        post_id,
        username,
        link.location,
        link.position,
        link.target_url,
        raw,
        link.host,
        link.domain,
        link.anchor_text,
        link.kind,
        link.block,
        " ".join(link.rel),
        link.nofollow,
        link.ugc,
        link.sponsored,
        seen,
    )


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
