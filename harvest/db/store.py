"""Writing harvested pages to PostgreSQL.

A batch is two transactions:

1. hosts and registered domains of the batch are added to their dictionaries
   and their ids read back (ids already known from earlier batches come from
   a cache that only ever holds committed ids), and authors and publications
   are upserted; this one is short, because every batch shares these rows;
2. posts are upserted from a small staging table, which says which posts are
   new and which are recrawls;
3. in the same transaction, links of new posts are COPYed straight into
   ``links`` (no row of theirs can exist yet), links of recrawled posts go
   through a staging table and one set-based upsert, and links a recrawl no
   longer finds are marked lost. Lines are formatted while the server is
   already storing the ones before them.

Every step is idempotent, so a batch that fails half way (connection lost,
server restarted) is run again from the start: nothing is lost and nothing is
written twice. Concurrent writers are safe: the posts upsert serializes them
per post, and dictionary and people upserts take their locks in sorted order.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from harvest.db import summaries
from harvest.items import ArticlePage, PostGone, ProfilePage

# COPY text format escapes: backslash first, then the separators.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]").search
_NULL = "\\N"
_BOOL = {True: "t", False: "f"}


def copy_field(value: object) -> str:
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


class _Lines:
    """A file-like view of an iterable of COPY lines, read a block at a time.

    psycopg2 releases the GIL while it sends a block, so the server parses one
    block while Python formats the next: the two halves of a COPY run on two
    cores instead of one after the other.
    """

    def __init__(self, lines: Iterable[str], first: str, block: int = 2000) -> None:
        self._lines = iter(lines)
        self._first: str | None = first
        self._block = block
        self.count = 0

    def read(self, size: int = -1) -> str:
        chunk = list(islice(self._lines, self._block))
        if self._first is not None:
            chunk.insert(0, self._first)
            self._first = None
        self.count += len(chunk)
        return "".join(chunk)

    def readline(self, size: int = -1) -> str:  # psycopg2 only checks it exists
        raise io.UnsupportedOperation


def copy_text(cur: Any, table: str, columns: Sequence[str], lines: Iterable[str]) -> int:
    """COPY text-format lines into ``table`` as they are produced; returns how many."""
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return 0
    reader = _Lines(lines, first)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", reader)
    return reader.count


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
    links_new: int = 0  # of links, rows added
    links_seen: int = 0  # of links, rows a recrawl found again
    previews: int = 0  # recrawls whose body was not whole: nothing marked lost from them
    gone: int = 0  # posts recorded deleted or suspended


class HostIds:
    """Dictionary ids whose rows are committed: host -> (host_id, domain_id), domain -> id.

    Ids never change once committed (dictionary rows are never deleted), so a
    process may keep them; ids read inside a transaction join only after it
    commits, because a rolled-back insert would leave ids that do not exist.
    """

    def __init__(self, limit: int = 500_000) -> None:
        self.limit = limit
        self._ids: dict[str, tuple[int, int]] = {}
        self._domains: dict[str, int] = {}

    def get(self, host: str) -> tuple[int, int] | None:
        return self._ids.get(host)

    def lookup(
        self, hosts: Iterable[str], fresh: dict[str, tuple[int, int]]
    ) -> dict[str, tuple[int, int]]:
        """Ids of ``hosts``, from ``fresh`` or the cache; every host must be in one."""
        known = self._ids
        out = {}
        for host in hosts:
            found = fresh.get(host) or known.get(host)
            if found is None:
                raise LookupError(f"no id for host {host!r}")
            out[host] = found
        return out

    def domain(self, domain: str) -> int | None:
        return self._domains.get(domain)

    def commit(self, fresh: dict[str, tuple[int, int]], domains: dict[str, int]) -> None:
        if len(self._ids) + len(fresh) > self.limit:
            self._ids.clear()  # simple and bounded; the next batches refill it
        if len(self._domains) + len(domains) > self.limit:
            self._domains.clear()
        self._ids.update(fresh)
        self._domains.update(domains)


# ON CONFLICT DO NOTHING rather than an anti-join: a conflict costs one index
# probe, where NOT EXISTS made the planner hash the whole dictionary on every
# batch while it was small. Identity values burnt by conflicts are gaps in
# bigint keys, which nothing relies on. Sorted input takes locks in one order,
# so concurrent writers cannot deadlock here.
_DOMAINS_SQL = """
INSERT INTO domains (domain)
SELECT d FROM unnest(%(domains)s::text[]) AS d ORDER BY 1
ON CONFLICT (domain) DO NOTHING;

SELECT domain, domain_id FROM domains WHERE domain = ANY(%(domains)s::text[]);
"""

_HOSTS_SQL = """
INSERT INTO hosts (host, domain_id)
SELECT * FROM unnest(%(hosts)s::text[], %(domain_ids)s::bigint[]) ORDER BY 1
ON CONFLICT (host) DO NOTHING;

SELECT host, host_id, domain_id FROM hosts WHERE host = ANY(%(hosts)s::text[]);
"""


# A batch's rel values (JSON: a list of token lists, ragged as text[][] cannot
# be) added to the dictionary, then read back in a statement of its own, which
# sees a row a concurrent writer added and committed meanwhile.
_RELS_SQL = """
WITH wanted AS (
    SELECT ARRAY(SELECT jsonb_array_elements_text(r)) AS rel
    FROM jsonb_array_elements(%(rels)s::jsonb) r
)
INSERT INTO rels (rel) SELECT rel FROM wanted ORDER BY 1 ON CONFLICT (rel) DO NOTHING;

SELECT r.rel_id, r.rel FROM rels r
WHERE r.rel IN (SELECT ARRAY(SELECT jsonb_array_elements_text(w))
                FROM jsonb_array_elements(%(rels)s::jsonb) w);
"""


def rel_ids(cur: Any, pages: Sequence[ArticlePage]) -> dict[tuple[str, ...], int]:
    """The dictionary ids of the rel values of the pages' links (migration 0016)."""
    wanted = sorted({tuple(link.rel) for page in pages for link in page.links})
    if not wanted:
        return {}
    cur.execute(_RELS_SQL, {"rels": json.dumps(wanted)})
    return {tuple(rel): rel_id for rel_id, rel in cur.fetchall()}


def dictionary_ids(
    cur: Any, hosts: dict[str, str], cache: HostIds
) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """Ids of the hosts (host -> domain) the cache lacks, adding rows where needed."""
    missing = sorted(h for h in hosts if cache.get(h) is None)
    if not missing:
        return {}, {}
    domains: dict[str, int] = {}
    unknown = sorted({hosts[h] for h in missing if cache.domain(hosts[h]) is None})
    if unknown:
        cur.execute(_DOMAINS_SQL, {"domains": unknown})
        domains = dict(cur.fetchall())

    def domain_id(domain: str) -> int:
        found = domains.get(domain) or cache.domain(domain)
        assert found is not None, domain
        return found

    cur.execute(
        _HOSTS_SQL, {"hosts": missing, "domain_ids": [domain_id(hosts[h]) for h in missing]}
    )
    fresh = {host: (hid, did) for host, hid, did in cur.fetchall()}
    return fresh, domains


# Page facts of a fetch (harvest.medium.facts, the HTTP exchange and the post's
# status) in stage_posts and posts column order.
_FACT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("access", "text"),
    ("access_markers", "text[]"),
    ("complete", "boolean"),
    ("paragraphs_seen", "integer"),
    ("paragraphs_total", "integer"),
    ("words_seen", "integer"),
    ("word_count", "integer"),
    ("robots", "text[]"),
    ("canonical_elsewhere", "boolean"),
    ("language", "text"),
    ("latest_published_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("author_followers", "bigint"),
    ("publication_followers", "bigint"),
    ("claps", "bigint"),
    ("responses", "bigint"),
    ("http_status", "integer"),
    ("redirects", "text[]"),
    ("fulfilled_by", "text"),
    ("x_robots", "text[]"),
    ("status", "text"),
)
_FACT_NAMES = tuple(name for name, _ in _FACT_COLUMNS)

_STAGE_POSTS_SQL = f"""
CREATE TEMP TABLE stage_posts (
    medium_id text, url text, canonical_url text, author_id bigint, publication_id bigint,
    title text, tags text[], published_at timestamptz, crawled_at timestamptz,
    {", ".join(f"{name} {kind}" for name, kind in _FACT_COLUMNS)}
) ON COMMIT DROP
"""
_POST_COLUMNS = (
    "medium_id",
    "url",
    "canonical_url",
    "author_id",
    "publication_id",
    "title",
    "tags",
    "published_at",
    "crawled_at",
    *_FACT_NAMES,
)
# What a history row records: the facts that change what a post's links pass.
_HISTORY_FACTS = (
    "status",
    "access",
    "complete",
    "robots",
    "x_robots",
    "canonical_url",
    "canonical_elsewhere",
    "http_status",
)

# Authors and publications come in as arrays, one element per distinct key,
# already reduced to the newest name and the first/last sighting of the batch.
# Both return the ids of every row they touch, so posts carry ids, not joins.
_AUTHORS_SQL = """
INSERT INTO authors AS a (username, name, first_seen, last_seen)
SELECT * FROM unnest(%(usernames)s::text[], %(author_names)s::text[],
                     %(author_first)s::timestamptz[], %(author_last)s::timestamptz[])
ORDER BY 1
ON CONFLICT (username) DO UPDATE SET
    name = CASE WHEN EXCLUDED.last_seen >= a.last_seen
                THEN coalesce(EXCLUDED.name, a.name) ELSE coalesce(a.name, EXCLUDED.name) END,
    first_seen = least(a.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(a.last_seen, EXCLUDED.last_seen)
RETURNING username, author_id
"""

_PUBLICATIONS_SQL = """
INSERT INTO publications AS p (key, slug, name, domain, first_seen, last_seen)
SELECT * FROM unnest(%(pub_keys)s::text[], %(pub_slugs)s::text[], %(pub_names)s::text[],
                     %(pub_domains)s::text[], %(pub_first)s::timestamptz[],
                     %(pub_last)s::timestamptz[])
ORDER BY 1
ON CONFLICT (key) DO UPDATE SET
    slug = coalesce(EXCLUDED.slug, p.slug),
    name = coalesce(EXCLUDED.name, p.name),
    domain = coalesce(EXCLUDED.domain, p.domain),
    first_seen = least(p.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(p.last_seen, EXCLUDED.last_seen)
RETURNING key, publication_id
"""

# Facts follow the newest fetch; status_at moves only when the status changes.
_NEWEST = "EXCLUDED.facts_at >= coalesce(p.facts_at, '-infinity')"
_FACT_UPDATES = ",\n    ".join(
    f"{name} = CASE WHEN {_NEWEST} THEN EXCLUDED.{name} ELSE p.{name} END" for name in _FACT_NAMES
)
_HISTORY_NEW = ", ".join(f"s.{name}" for name in _HISTORY_FACTS)
_HISTORY_OLD = ", ".join(f"o.{name}" for name in _HISTORY_FACTS)

# One statement: the stored facts as they were (a data-modifying CTE's siblings
# see the rows before it), the upsert, and a history row for every post whose
# newest fetch changed what its page says. RETURNING (xmax <> 0) tells an
# updated row (a recrawl) from an inserted one.
_POSTS_SQL = f"""
WITH old AS (
    SELECT p.medium_id, p.facts_at, {", ".join(f"p.{n}" for n in _HISTORY_FACTS)}
    FROM posts p JOIN stage_posts s USING (medium_id)
), up AS (
INSERT INTO posts AS p (medium_id, url, canonical_url, author_id, publication_id, title, tags,
                        first_published_at, first_crawled_at, last_crawled_at, last_run_id,
                        {", ".join(_FACT_NAMES)}, status_at, facts_at)
SELECT s.medium_id, s.url, s.canonical_url, s.author_id, s.publication_id, s.title, s.tags,
       s.published_at, s.crawled_at, s.crawled_at, %(run_id)s,
       {", ".join(f"s.{n}" for n in _FACT_NAMES)}, s.crawled_at, s.crawled_at
FROM stage_posts s
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
    last_run_id = coalesce(EXCLUDED.last_run_id, p.last_run_id),
    {_FACT_UPDATES},
    status_at = CASE WHEN {_NEWEST} AND EXCLUDED.status IS DISTINCT FROM p.status
                     THEN EXCLUDED.facts_at ELSE coalesce(p.status_at, EXCLUDED.facts_at) END,
    facts_at = greatest(p.facts_at, EXCLUDED.facts_at)
RETURNING p.medium_id, p.post_id, (p.xmax <> 0) AS recrawl
), history AS (
INSERT INTO post_history (post_id, at, run_id, {", ".join(_HISTORY_FACTS)})
SELECT up.post_id, s.crawled_at, %(run_id)s, {_HISTORY_NEW}
FROM up JOIN stage_posts s USING (medium_id) LEFT JOIN old o USING (medium_id)
WHERE o.medium_id IS NULL
   OR (s.crawled_at > coalesce(o.facts_at, '-infinity')
       AND ({_HISTORY_NEW}) IS DISTINCT FROM ({_HISTORY_OLD}))
ON CONFLICT (post_id, at) DO NOTHING
)
SELECT medium_id, post_id, recrawl FROM up
"""

# A link's URL key, url_key(target_url), is in the unique index only (0022).
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
    "rel_id",
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
# RETURNING (xmax = 0) tells a row added from one found again.
_RECRAWL_SQL = """
WITH upserted AS (
INSERT INTO links AS l (post_id, location, position, target_url, target_url_raw,
                        host_id, domain_id, anchor_text, kind, block, rel_id, nofollow, ugc,
                        sponsored, first_seen, last_seen)
SELECT post_id, location, position, target_url, target_url_raw, host_id, domain_id,
       anchor_text, kind, block, rel_id, nofollow, ugc, sponsored, first_seen, last_seen
FROM stage_links
ORDER BY post_id, location, position, url_key(target_url)
ON CONFLICT (post_id, location, position, (url_key(target_url))) DO UPDATE SET
    target_url_raw = CASE WHEN EXCLUDED.last_seen >= l.last_seen
                          THEN EXCLUDED.target_url_raw ELSE l.target_url_raw END,
    anchor_text = CASE WHEN EXCLUDED.last_seen >= l.last_seen
                       THEN EXCLUDED.anchor_text ELSE l.anchor_text END,
    kind = CASE WHEN EXCLUDED.last_seen >= l.last_seen THEN EXCLUDED.kind ELSE l.kind END,
    block = CASE WHEN EXCLUDED.last_seen >= l.last_seen THEN EXCLUDED.block ELSE l.block END,
    rel_id = CASE WHEN EXCLUDED.last_seen >= l.last_seen THEN EXCLUDED.rel_id ELSE l.rel_id END,
    nofollow = CASE WHEN EXCLUDED.last_seen >= l.last_seen
                    THEN EXCLUDED.nofollow ELSE l.nofollow END,
    ugc = CASE WHEN EXCLUDED.last_seen >= l.last_seen THEN EXCLUDED.ugc ELSE l.ugc END,
    sponsored = CASE WHEN EXCLUDED.last_seen >= l.last_seen
                     THEN EXCLUDED.sponsored ELSE l.sponsored END,
    first_seen = least(l.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(l.last_seen, EXCLUDED.last_seen),
    lost_at = CASE WHEN l.lost_at IS NOT NULL AND EXCLUDED.last_seen < l.lost_at
                   THEN l.lost_at END
RETURNING (l.xmax = 0) AS added
)
SELECT count(*) FILTER (WHERE added), count(*) FILTER (WHERE NOT added) FROM upserted
"""

# A link the newest fetch of its post no longer has is lost (kept, not deleted),
# but only when that fetch holds the whole body: a member-only preview lacks the
# links below its cut, and they are not lost for that.
_LOST_SQL = """
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
ORDER BY author_id, position, url_key(target_url)
ON CONFLICT (author_id, position, (url_key(target_url))) DO UPDATE SET
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


# Marks (or unmarks) the statements that insert only new posts' links, for the
# summaries' insert trigger; local to the transaction, so a failure resets it.
_FRESH_POSTS_SQL = "SELECT set_config('harvest.fresh_posts', %s, true)"


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


def _text_array(values: Sequence[str]) -> str:
    """A text[] literal, COPY-escaped; elements are quoted so any character survives."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return _esc("{" + ",".join(quoted) + "}")


def _rel_literal(rel: list[str]) -> str:
    """``_text_array`` of rel tokens, cached: a crawl sees a handful of distinct rels."""
    key = tuple(rel)
    found = _REL_LITERALS.get(key)
    if found is None:
        found = _text_array(rel)
        if len(_REL_LITERALS) < 10_000:
            _REL_LITERALS[key] = found
    return found


def write_batch(
    conn: Any,
    pages: Sequence[ArticlePage],
    profiles: Sequence[ProfilePage] = (),
    run_id: int | None = None,
    host_ids: HostIds | None = None,
    *,
    fold: bool = True,
) -> BatchResult:
    """Store one batch on ``conn`` in two transactions (see the module docstring),
    then, unless ``fold`` is false, fold the summaries in a third: a caller that
    folds on its own schedule (the crawl's store) passes False."""
    result = BatchResult()
    pages_, result.duplicate_pages = _latest_per_key(pages, lambda p: p.article.post_id)
    profiles_, dup_profiles = _latest_per_key(profiles, lambda p: p.username)
    result.duplicate_pages += dup_profiles
    cache = host_ids if host_ids is not None else HostIds()

    hosts = _batch_hosts((*pages_, *profiles_))
    # Dictionaries and people first, in a short transaction of their own: rows
    # there are shared by every batch, and a concurrent writer touching the same
    # host or author waits for the holder's commit. Committed here, that wait is
    # milliseconds instead of a whole batch, so writers run side by side. If the
    # batch fails later, these rows are still right and the replay finds them.
    with conn, conn.cursor() as cur:
        fresh, domains = dictionary_ids(cur, hosts, cache)
        rels = rel_ids(cur, pages_)
        authors, publications = _write_people(cur, pages_, profiles_)
    # Taken before the cache learns the fresh ids: learning may empty it.
    ids = cache.lookup(hosts, fresh)
    cache.commit(fresh, domains)

    with conn, conn.cursor() as cur:
        posts: dict[str, tuple[int, bool]] = {}
        if pages_:
            cur.execute(_STAGE_POSTS_SQL)
            copy_text(cur, "stage_posts", _POST_COLUMNS, _post_lines(pages_, authors, publications))
            cur.execute(_POSTS_SQL, {"run_id": run_id})
            posts = {mid: (pid, recrawl) for mid, pid, recrawl in cur.fetchall()}

        fresh_posts: list[tuple[int, ArticlePage]] = []
        recrawled: list[tuple[int, ArticlePage]] = []
        for page in pages_:
            post_id, recrawl = posts[page.article.post_id]
            (recrawled if recrawl else fresh_posts).append((post_id, page))
        result.new_posts = len(fresh_posts)
        result.recrawled_posts = len(recrawled)
        # New posts: no row of theirs can exist, so COPY goes straight in, and
        # the summaries' log takes them by reference (migration 0024): the
        # fold counts them from links.
        cur.execute(_FRESH_POSTS_SQL, ("on",))
        result.links = copy_text(
            cur, "links", _LINK_COLUMNS, _link_lines(fresh_posts, ids, result, rels)
        )
        cur.execute(_FRESH_POSTS_SQL, ("off",))
        result.links_new = result.links
        if recrawled:
            _write_recrawled(cur, recrawled, ids, rels, result)
        if profiles_:
            result.links += _write_profiles(cur, profiles_, ids, authors)
    result.pages = len(pages_)
    result.profiles = len(profiles_)
    if fold:
        summaries.fold(conn)
    return result


def _batch_hosts(pages: Iterable[ArticlePage | ProfilePage]) -> dict[str, str]:
    """host -> registered domain, for every link of the batch."""
    hosts: dict[str, str] = {}
    for page in pages:
        for link in page.links:
            if not link.host or not link.domain:
                # NormalizePipeline drops such links; reaching here is a caller's bug.
                raise ValueError(f"link without a host or domain: {link.target_url!r}")
            hosts[link.host] = link.domain
    return hosts


def _write_people(
    cur: Any, pages: Sequence[ArticlePage], profiles: Sequence[ProfilePage]
) -> tuple[dict[str, int], dict[str, int]]:
    """Upsert the batch's authors and publications: their ids by username and key."""
    people = _people(pages, profiles)
    authors: dict[str, int] = {}
    publications: dict[str, int] = {}
    if people["usernames"]:
        cur.execute(_AUTHORS_SQL, people)
        authors = dict(cur.fetchall())
    if people["pub_keys"]:
        cur.execute(_PUBLICATIONS_SQL, people)
        publications = dict(cur.fetchall())
    return authors, publications


def _write_recrawled(
    cur: Any,
    recrawled: Sequence[tuple[int, ArticlePage]],
    ids: dict[str, tuple[int, int]],
    rels: dict[tuple[str, ...], int],
    result: BatchResult,
) -> None:
    """Links of posts stored before: staged, merged, and the ones gone marked lost."""
    cur.execute(_STAGE_LINKS_SQL)
    result.links += copy_text(
        cur, "stage_links", _LINK_COLUMNS, _link_lines(recrawled, ids, result, rels)
    )
    cur.execute(_RECRAWL_SQL)
    added, seen = cur.fetchone()
    result.links_new += int(added)
    result.links_seen += int(seen)
    whole = [(p, page) for p, page in recrawled if page.article.facts.complete is True]
    result.previews += len(recrawled) - len(whole)
    cur.execute(
        _LOST_SQL,
        {
            "post_ids": [p for p, _ in whole],
            "fetched": [page.fetched_at for _, page in whole],
        },
    )
    row = cur.fetchone()
    result.lost = int(row[0]) if row else 0


def _link_lines(
    owners: Sequence[tuple[int, ArticlePage | ProfilePage]],
    ids: dict[str, tuple[int, int]],
    result: BatchResult | None = None,
    rel_id_of: dict[tuple[str, ...], int] | None = None,
) -> Iterator[str]:
    """COPY lines for the links of ``owners`` (post or author id, page), in
    _LINK_COLUMNS order for article pages (rel as its id in ``rel_id_of``) and
    _AUTHOR_LINK_COLUMNS order for profiles (which have no location, kind or
    block, and keep rel as text[]); duplicates are dropped and counted in
    ``result``.

    This loop is most of harvest's own work in a bulk load, hence its shape: one
    escape check over all of a link's text (escaping is rarely needed) instead
    of one call per field, and rel literals from a cache.
    """
    rels = _REL_LITERALS
    # A batch has a handful of rel values: each id is made a COPY field once.
    rel_fields = None if rel_id_of is None else {k: str(v) for k, v in rel_id_of.items()}
    for owner_id, page in owners:
        post = isinstance(page, ArticlePage)
        seen = page.fetched_at.isoformat()
        links = page.links
        # The parser numbers links per location, so keys repeat only in
        # hand-made or corrupted items; checking that costs one set per page.
        keys = {(link.location if post else "", link.position, link.target_url) for link in links}
        if len(keys) != len(links):
            links, dropped = _unique_links(links, by_location=post)
            if result is not None:
                result.duplicate_links += dropped
        for link in links:
            location: str = link.location
            kind: str = link.kind
            target = link.target_url
            raw = link.target_url_raw
            anchor = link.anchor_text
            block: str | None = link.block
            text = f"{location}{kind}{target}{raw}{anchor}{block or ''}"
            raw = _NULL if raw == target else raw
            block = _NULL if block is None else block
            if _NEEDS_ESCAPE(text):
                location, kind = _esc(location), _esc(kind)
                target, anchor = _esc(target), _esc(anchor)
                if raw is not _NULL:
                    raw = _esc(raw)
                if block is not _NULL:
                    block = _esc(block)
            host_id, domain_id = ids[link.host or ""]  # write_batch checked every host
            if rel_fields is not None:
                rel = rel_fields[tuple(link.rel)]
            else:
                rel = rels.get(tuple(link.rel)) or _rel_literal(link.rel)
            where = f"{owner_id}\t{location}\t" if post else f"{owner_id}\t"
            what = f"{kind}\t{block}\t" if post else ""
            yield (
                f"{where}{link.position}\t{target}\t{raw}\t{host_id}\t{domain_id}\t{anchor}\t"
                f"{what}{rel}\t{_BOOL[link.nofollow]}\t{_BOOL[link.ugc]}\t"
                f"{_BOOL[link.sponsored]}\t{seen}\t{seen}\n"
            )


def _post_lines(
    pages: Sequence[ArticlePage], authors: dict[str, int], publications: dict[str, int]
) -> Iterator[str]:
    for page in pages:
        art = page.article
        author = art.author
        key = _pub_key(art.publication)
        # In _POST_COLUMNS order; tags are a text[] literal, not a plain field.
        fields = [
            copy_field(art.post_id),
            copy_field(art.url or page.url),
            copy_field(art.canonical_url),
            copy_field(authors.get(author.username) if author and author.username else None),
            copy_field(publications.get(key) if key else None),
            copy_field(art.title),
            _text_array(art.tags),
            copy_field(art.published_at),
            copy_field(page.fetched_at),
            *_fact_fields(page),
        ]
        yield "\t".join(fields) + "\n"


def _fact_fields(page: ArticlePage) -> list[str]:
    """The page's facts as COPY fields, in _FACT_COLUMNS order."""
    f, fetch = page.article.facts, page.fetch
    return [
        copy_field(f.access),
        _text_array(f.access_markers),
        copy_field(f.complete),
        copy_field(f.paragraphs_seen),
        copy_field(f.paragraphs_total),
        copy_field(f.words_seen),
        copy_field(f.word_count),
        _text_array(f.robots),
        copy_field(f.canonical_elsewhere),
        copy_field(f.language),
        copy_field(f.latest_published_at),
        copy_field(f.updated_at),
        copy_field(f.author_followers),
        copy_field(f.publication_followers),
        copy_field(f.claps),
        copy_field(f.responses),
        copy_field(fetch.http_status),
        _text_array(fetch.redirects),
        copy_field(fetch.fulfilled_by),
        _text_array(fetch.x_robots),
        copy_field(page.status),
    ]


def _pub_key(pub: Any) -> str | None:
    return (pub.slug or pub.domain) if pub else None


def _saw_author(
    authors: dict[str, list[Any]], username: str | None, name: str | None, at: datetime
) -> None:
    """authors[username] = [name, first, last, name_at]: widened by one sighting."""
    if not username:
        return
    row = authors.get(username)
    if row is None:
        authors[username] = [name, at, at, at]
        return
    row[1] = min(row[1], at)
    row[2] = max(row[2], at)
    if name is not None and (row[0] is None or at >= row[3]):
        row[0], row[3] = name, at


def _saw_publication(pubs: dict[str, list[Any]], key: str, pub: Any, at: datetime) -> None:
    """pubs[key] = [slug, name, domain, first, last, names_at]: widened by one sighting."""
    row = pubs.get(key)
    if row is None:
        pubs[key] = [pub.slug, pub.name, pub.domain, at, at, at]
        return
    row[3] = min(row[3], at)
    row[4] = max(row[4], at)
    newer = at >= row[5]
    for i, value in enumerate((pub.slug, pub.name, pub.domain)):
        if value is not None and (row[i] is None or newer):
            row[i] = value
    if newer:
        row[5] = at


def _people(pages: Sequence[ArticlePage], profiles: Sequence[ProfilePage]) -> dict[str, list[Any]]:
    """Authors and publications of a batch as parallel arrays for their upserts.

    One element per key: the first and last time the batch saw it, and the
    names from its newest sighting that has one.
    """
    authors: dict[str, list[Any]] = {}
    pubs: dict[str, list[Any]] = {}
    for page in pages:
        art = page.article
        if art.author is not None:
            _saw_author(authors, art.author.username, art.author.name, page.fetched_at)
        key = _pub_key(art.publication)
        if key is not None:
            _saw_publication(pubs, key, art.publication, page.fetched_at)
    for prof in profiles:
        _saw_author(authors, prof.username, prof.name, prof.fetched_at)

    names = sorted(authors)
    keys = sorted(pubs)
    return {
        "usernames": names,
        "author_names": [authors[u][0] for u in names],
        "author_first": [authors[u][1] for u in names],
        "author_last": [authors[u][2] for u in names],
        "pub_keys": keys,
        "pub_slugs": [pubs[k][0] for k in keys],
        "pub_names": [pubs[k][1] for k in keys],
        "pub_domains": [pubs[k][2] for k in keys],
        "pub_first": [pubs[k][3] for k in keys],
        "pub_last": [pubs[k][4] for k in keys],
    }


def _unique_links(links: list[Any], *, by_location: bool = True) -> tuple[list[Any], int]:
    """Links with each ((location,) position, target) once, the first kept."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for link in links:
        key = (link.location if by_location else "", link.position, link.target_url)
        if key not in seen:
            seen.add(key)
            out.append(link)
    return out, len(links) - len(out)


def _write_profiles(
    cur: Any,
    profiles: Sequence[ProfilePage],
    ids: dict[str, tuple[int, int]],
    authors: dict[str, int],
) -> int:
    """Bio links of ``profiles``; ``authors`` holds the ids the authors upsert returned."""
    cur.execute(_PROFILE_SQL)
    owners = [(authors[prof.username], prof) for prof in profiles]
    n = copy_text(cur, "stage_author_links", _AUTHOR_LINK_COLUMNS, _link_lines(owners, ids))
    cur.execute(
        _PROFILE_UPSERT_SQL,
        {
            "author_ids": [authors[p.username] for p in profiles],
            "fetched": [p.fetched_at for p in profiles],
        },
    )
    return n


# -- crawl runs ---------------------------------------------------------------------


# The advisory lock a live run holds (migration 0010, run_alive): class, run id.
RUN_LOCK_CLASS = 0x68727673


def start_run(conn: Any, spider: str, arguments: dict[str, Any]) -> int:
    """A new run, held by ``conn`` for as long as it stays open (hold_run)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO crawl_runs (spider, arguments, progress_at) "
            "VALUES (%s, %s, now()) RETURNING run_id",
            (spider, json.dumps(arguments, default=str)),
        )
        row = cur.fetchone()
        run_id = int(row[0])
        # Before the row is visible to anyone: no other process can see the run
        # without its lock and take it for dead.
        _lock_run(cur, run_id)
    return run_id


def _lock_run(cur: Any, run_id: int) -> None:
    # A server that notices a vanished client late would keep the lock: probe
    # the connection every few seconds (a killed process on the same machine
    # closes its socket at once; a machine that lost power is noticed here).
    for name, value in (
        ("tcp_keepalives_idle", 10),
        ("tcp_keepalives_interval", 5),
        ("tcp_keepalives_count", 3),
    ):
        cur.execute("SELECT set_config(%s, %s, false)", (name, str(value)))
    cur.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK_CLASS, run_id))


def hold_run(conn: Any, run_id: int) -> None:
    """Take a run's lock again on a new connection (the old one was lost): it is
    alive again, and a row marked died meanwhile is running once more."""
    with conn, conn.cursor() as cur:
        _lock_run(cur, run_id)
        cur.execute(
            "UPDATE crawl_runs SET status = 'running', finished_at = NULL, reason = NULL "
            "WHERE run_id = %s AND status = 'died'",
            (run_id,),
        )


def record_progress(conn: Any, run_id: int, counts: dict[str, Any]) -> None:
    """How far the run has got: what a dead run's row shows."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE crawl_runs SET counts = %s, progress_at = now() WHERE run_id = %s",
            (json.dumps(counts, default=str), run_id),
        )


def mark_dead_runs(conn: Any) -> list[int]:
    """Mark for good the runs whose process died (no lock held): their last
    progress stays in their counts. Called by a crawl when it opens its store."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE crawl_runs
                  SET status = 'died', finished_at = coalesce(progress_at, started_at),
                      reason = 'the crawl process died (killed, out of memory or lost) '
                               || 'before it finished; last progress at '
                               || to_char(coalesce(progress_at, started_at) AT TIME ZONE 'UTC',
                                          'YYYY-MM-DD HH24:MI:SS') || ' UTC'
                WHERE status = 'running' AND NOT run_alive(run_id)
            RETURNING run_id"""
        )
        return sorted(int(row[0]) for row in cur.fetchall())


def finish_run(
    conn: Any,
    run_id: int,
    status: str,
    counts: dict[str, Any],
    arguments: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Close a run with its status and the one-line reason for it; ``arguments``
    replace the recorded ones when given (a distributed worker may learn its
    job's arguments only after it started)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """UPDATE crawl_runs SET finished_at = now(), status = %s, counts = %s,
                                     arguments = coalesce(%s::jsonb, arguments),
                                     reason = %s
               WHERE run_id = %s""",
            (
                status,
                json.dumps(counts, default=str),
                None if arguments is None else json.dumps(arguments, default=str),
                reason,
                run_id,
            ),
        )


_GONE_SQL = f"""
WITH gone AS (
    SELECT * FROM unnest(%(ids)s::text[], %(urls)s::text[], %(statuses)s::text[],
                         %(codes)s::integer[], %(at)s::timestamptz[])
             AS g(medium_id, url, status, http_status, at)
), old AS (
    SELECT p.medium_id, p.status, p.facts_at FROM posts p JOIN gone USING (medium_id)
), up AS (
INSERT INTO posts AS p (medium_id, url, first_crawled_at, last_crawled_at, last_run_id,
                        status, http_status, status_at, facts_at)
SELECT medium_id, url, at, at, %(run_id)s, status, http_status, at, at FROM gone
ORDER BY medium_id
ON CONFLICT (medium_id) DO UPDATE SET
    last_crawled_at = greatest(p.last_crawled_at, EXCLUDED.last_crawled_at),
    last_run_id = coalesce(EXCLUDED.last_run_id, p.last_run_id),
    status = CASE WHEN {_NEWEST} THEN EXCLUDED.status ELSE p.status END,
    http_status = CASE WHEN {_NEWEST} THEN EXCLUDED.http_status ELSE p.http_status END,
    status_at = CASE WHEN {_NEWEST} AND EXCLUDED.status IS DISTINCT FROM p.status
                     THEN EXCLUDED.facts_at ELSE p.status_at END,
    facts_at = greatest(p.facts_at, EXCLUDED.facts_at)
RETURNING p.post_id, p.medium_id, p.access, p.complete, p.robots, p.x_robots,
          p.canonical_url, p.canonical_elsewhere
)
INSERT INTO post_history (post_id, at, run_id, {", ".join(_HISTORY_FACTS)})
SELECT up.post_id, g.at, %(run_id)s, g.status, up.access, up.complete, up.robots, up.x_robots,
       up.canonical_url, up.canonical_elsewhere, g.http_status
FROM up JOIN gone g USING (medium_id) LEFT JOIN old o USING (medium_id)
WHERE o.medium_id IS NULL
   OR (g.at > coalesce(o.facts_at, '-infinity') AND o.status IS DISTINCT FROM g.status)
ON CONFLICT (post_id, at) DO NOTHING
"""


def write_gone(
    conn: Any, gone: Sequence[PostGone], run_id: int | None = None, *, fold: bool = True
) -> int:
    """Record posts whose page answered 404 or 410: their status, with the date.

    Their links are left as they were: a deleted post's links are not "lost"
    from the post, the post is gone (the verdict says post_deleted).
    """
    newest: dict[str, PostGone] = {}
    for g in sorted(gone, key=lambda g: g.at):
        newest[g.post_id] = g
    latest = sorted(newest.values(), key=lambda g: g.post_id)
    if not latest:
        return 0
    with conn, conn.cursor() as cur:
        cur.execute(
            _GONE_SQL,
            {
                "ids": [g.post_id for g in latest],
                "urls": [g.url for g in latest],
                "statuses": [g.status for g in latest],
                "codes": [g.http_status for g in latest],
                "at": [g.at for g in latest],
                "run_id": run_id,
            },
        )
    if fold:
        summaries.fold(conn)
    return len(latest)


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


def write_walks(conn: Any, walks: Sequence[Any], run_id: int | None) -> int:
    """Record GraphQL walks that reached their end (harvest.items.WalkDone); a
    walk's newest mark never moves back."""
    if not walks:
        return 0
    with conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO listing_walks (walk, newest, posts, requests, walked_at, run_id) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (walk) DO UPDATE SET "
            "newest = GREATEST(listing_walks.newest, EXCLUDED.newest), "
            "posts = EXCLUDED.posts, requests = EXCLUDED.requests, "
            "walked_at = EXCLUDED.walked_at, run_id = EXCLUDED.run_id",
            [(w.walk, w.newest, w.posts, w.requests, w.at, run_id) for w in walks],
        )
    return len(walks)
