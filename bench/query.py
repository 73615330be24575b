"""The analyst's commands on a synthetic harvest of --rows links (10^7 by default).

Builds a harvest in a fresh database: 200,000 registered domains with two hosts
each, one post per 20 links (by 50,000 authors, in 2,000 publications, two tags
each out of 307), and --rows link rows whose target domains follow a power law
(a few domains get most links, as on Medium), with Medium's rel mix, author bio
and link-card placements, lost links, deleted, noindexed and cross-posted
posts. The rows go in the way a restore does (indexes and summary triggers off),
then the indexes and the summaries are built, and each is timed.

Then it times, against that database:
- `harvest backlinks` for random domains (uniform over the dictionary) and hosts,
  in process (the query and fetch of one page), for p50/p95/p99;
- every analyst command as a user runs it, one whole process each (startup
  included): backlinks of the most linked domain (first page and a deep one),
  top-domains, stats, report, report --domain (the most linked), report --tag
  (a small tag and the largest), report --publication (the largest), report
  --since the first of the month before last (from the summaries) and the same
  window a day later (a scan: the baseline);
- the store: batches of new posts written with the summaries maintained, and
  the same with the summary triggers off (the price of exact summaries).

Needs about 517 bytes of disk per link (251 for links and its indexes, 237 for
the summaries at 10^7, the rest posts and dictionaries), plus ~300 while the
summaries are recounted (the recount's temporary space at its peak, measured
at 10^7 by bench/recount.py before 0021): 10^8 rows ask for ~82 GB, and the
script says so and stops where the database's disk has less. On 2 cores it takes about 12 minutes per 10^7 rows. Uses
DATABASE_URL when set, else an embedded server.

    .venv/bin/python bench/query.py [--rows 10000000] [--queries 2000] [--rounds 3] [--keep | --reuse URL]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg2
from ingest import Databases

from harvest.db import queries, summaries, summary_defs
from harvest.db.connection import connect
from harvest.db.store import write_batch
from harvest.items import ArticlePage
from harvest.medium.records import Article, Author, Link, PageFacts, Publication

DOMAINS = 200_000
AUTHORS = 50_000
PUBLICATIONS = 2_000
LINKS_PER_POST = 20
HARVEST = Path(sys.executable).with_name("harvest")

LOAD_SQL = """
INSERT INTO rels (rel) VALUES ('{noopener}'), ('{sponsored}'), ('{noopener,ugc,nofollow}');
INSERT INTO domains (domain) OVERRIDING SYSTEM VALUE
SELECT 'site' || g || '.example' FROM generate_series(1, %(domains)s) g;
INSERT INTO hosts (host_id, host, domain_id) OVERRIDING SYSTEM VALUE
SELECT g, CASE WHEN g %% 2 = 0 THEN 'www.' ELSE '' END || 'site' || ((g + 1) / 2) || '.example',
       (g + 1) / 2
FROM generate_series(1, 2 * %(domains)s) g;
INSERT INTO authors (author_id, username, name, first_seen, last_seen) OVERRIDING SYSTEM VALUE
SELECT g, 'user' || g, 'User ' || g, now(), now() FROM generate_series(1, %(authors)s) g;
INSERT INTO publications (publication_id, key, slug, name, first_seen, last_seen)
OVERRIDING SYSTEM VALUE
SELECT g, 'pub' || g, 'pub' || g, 'Publication ' || g, now(), now()
FROM generate_series(1, %(publications)s) g;
-- A third of the posts in no publication; the rest spread log-uniformly
-- (a few big publications, a long tail). Two tags per post: one of 300, one of 7.
INSERT INTO posts (post_id, medium_id, url, author_id, publication_id, title, tags,
                   first_published_at, first_crawled_at, last_crawled_at,
                   status, robots, canonical_elsewhere, complete, facts_at) OVERRIDING SYSTEM VALUE
SELECT g, lpad(to_hex(g), 12, '0'), 'https://medium.com/p/' || lpad(to_hex(g), 12, '0'),
       1 + g %% %(authors)s,
       CASE WHEN g %% 3 = 0 THEN NULL
            ELSE least(%(publications)s, floor(power(%(publications)s, random()))::int) END,
       'Post ' || g, ARRAY['tag' || (g %% 300), 'tag' || (300 + g %% 7)],
       timestamptz '2015-01-01' + (g %% 4300) * interval '1 day', now(), now(),
       CASE WHEN g %% 50 = 0 THEN 'deleted' ELSE 'live' END,
       CASE WHEN g %% 40 = 0 THEN '{noindex}'::text[] ELSE '{}' END,
       g %% 30 = 0, true, now()
FROM generate_series(1, %(posts)s) g;
"""

# (%% is a literal % where psycopg2 fills in parameters.)
# Power-law domain choice: floor(DOMAINS ** random()) is log-uniform, so domain 1
# gets as many links as domains 2-3 together, and so on (Zipf-like). Rel mix as
# the real pages show: most links ugc nofollow, one in seven followed, a few
# sponsored; one in twenty an author-bio link, one in thirteen a link card, one
# in fifty lost. Harvest first saw each post's links when it first crawled the
# post, over 900 days in post order (as rows go into a real harvest), and one
# link in eleven on a recrawl up to two months later.
LINKS_SQL = """
INSERT INTO links (post_id, location, position, target_url, target_url_raw, host_id, domain_id,
                   anchor_text, kind, block, rel_id, nofollow, ugc, sponsored, first_seen, last_seen,
                   lost_at)
SELECT 1 + (g - 1) / 20, CASE WHEN g %% 20 = 19 THEN 'author_bio' ELSE 'body' END, g %% 20,
       'https://site' || d || '.example/' || md5(g::text), NULL,
       2 * d - (g %% 2), d, 'anchor ' || g,
       CASE WHEN g %% 13 = 0 THEN 'link_card' ELSE 'text' END, 'paragraph',
       CASE WHEN g %% 7 = 0 THEN (SELECT rel_id FROM rels WHERE rel = '{noopener}')
            WHEN g %% 97 = 0 THEN (SELECT rel_id FROM rels WHERE rel = '{sponsored}')
            ELSE (SELECT rel_id FROM rels WHERE rel = '{noopener,ugc,nofollow}') END,
       g %% 7 <> 0 AND g %% 97 <> 0, g %% 7 <> 0 AND g %% 97 <> 0, g %% 7 <> 0 AND g %% 97 = 0,
       -- (the fraction first: posts x 900 days overflows an interval at 10^8)
       least(now(), now() - ((%(posts)s - (g - 1) / 20)::float8 / %(posts)s) * interval '900 days'
                    + CASE WHEN g %% 11 = 0 THEN (g %% 60) * interval '1 day' ELSE interval '0' END),
       now(),
       CASE WHEN g %% 50 = 0 THEN now() END
FROM (SELECT g, least(%(domains)s, floor(power(%(domains)s, random()))::int) AS d
      FROM generate_series(%(lo)s, %(hi)s) g) s
"""


# Disk per link row, measured at 10^7 (deploy/README.md, "Capacity model"):
# the whole database (its summaries grow more slowly than links, so this
# overstates them at 10^8); and the recount's temporary space at its peak
# (bench/recount.py at 10^7: 3.64 GiB for db check), which is one spill of
# the facets of up to summaries.SPILL_LINKS links and the rest, a range's
# statement and what it adds up over the ranges.
BYTES_PER_ROW = 494
SPILL_BYTES_PER_LINK = 145
RECOUNT_OTHER_BYTES = 2_500_000_000


def disk_needed(rows: int) -> int:
    spilled = min(rows, summaries.SPILL_LINKS) * SPILL_BYTES_PER_LINK
    return rows * BYTES_PER_ROW + spilled + RECOUNT_OTHER_BYTES


def disk_free(dsn: str) -> tuple[str, int] | None:
    """The free bytes where the server keeps its data, if it is on this machine."""
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('data_directory')")
            folder = cur.fetchone()[0]
    except psycopg2.Error:  # a role that may not read it: no check then
        return None
    finally:
        conn.close()
    try:
        return folder, shutil.disk_usage(folder).free
    except OSError:  # a server on another machine
        return None


def room_for(dsn: str, rows: int) -> str | None:
    """Why a harvest of ``rows`` links cannot be built here, or None if it can."""
    need = disk_needed(rows)
    free = disk_free(dsn)
    if free is None or free[1] >= need:
        return None
    return (
        f"{rows:,} rows need about {need / 1e9:.0f} GB on the database's disk "
        f"({BYTES_PER_ROW} bytes per link and the recount's temporary tables); "
        f"{free[0]} has {free[1] / 1e9:.0f} GB free (--no-disk-check to try anyway)"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def build(dsn: str, rows: int) -> dict[str, float]:
    conn = connect(dsn)
    conn.autocommit = True
    took: dict[str, float] = {}
    posts = (rows + LINKS_PER_POST - 1) // LINKS_PER_POST
    with conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET work_mem = '256MB'")
        cur.execute("SELECT setseed(0.42)")
        t0 = time.perf_counter()
        cur.execute(
            LOAD_SQL,
            {
                "domains": DOMAINS,
                "authors": AUTHORS,
                "publications": PUBLICATIONS,
                "posts": posts,
            },
        )
        for table, column in (
            ("domains", "domain_id"),
            ("hosts", "host_id"),
            ("authors", "author_id"),
            ("publications", "publication_id"),
            ("posts", "post_id"),
        ):
            # explicit ids leave the identity behind; the store's inserts need it ahead
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"(SELECT max({column}) FROM {table}))"
            )
        # Bulk load first, index and summarise after: the way a restore goes.
        cur.execute("ALTER TABLE links DISABLE TRIGGER USER")
        cur.execute("DROP INDEX links_key")
        cur.execute("DROP INDEX links_domain_page_idx")
        step = 2_000_000
        for lo in range(1, rows + 1, step):
            cur.execute(
                LINKS_SQL,
                {
                    "domains": DOMAINS,
                    "posts": posts,
                    "lo": lo,
                    "hi": min(rows, lo + step - 1),
                },
            )
            print(f"loaded {min(rows, lo + step - 1):,} rows", flush=True)
        took["load_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute(
            "CREATE UNIQUE INDEX links_key ON links "
            "(post_id, location, position, url_key(target_url))"
        )
        cur.execute("CREATE INDEX links_domain_page_idx ON links (domain_id, host_id, post_id)")
        took["index_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.autocommit = False
        summaries.rebuild(conn)
        conn.autocommit = True
        cur.execute("ALTER TABLE links ENABLE TRIGGER USER")
        took["summaries_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute("VACUUM ANALYZE")
        took["vacuum_s"] = time.perf_counter() - t0
    conn.close()
    took.update(sizes(dsn))
    return took


def sizes(dsn: str) -> dict[str, float]:
    """The harvest's rows and bytes: links' heap and indexes, and the summaries."""
    conn = connect(dsn)
    with conn.cursor() as cur:
        cur.execute(
            """SELECT pg_relation_size('links'), pg_indexes_size('links'),
                      (SELECT sum(pg_total_relation_size(t::regclass))::bigint
                       FROM unnest(%s::text[]) t),
                      (SELECT count(*) FROM links), pg_database_size(current_database())""",
            (list(summaries.TABLES),),
        )
        heap, indexes, summary_bytes, n, everything = cur.fetchone()
    conn.close()
    return {
        "heap": heap,
        "indexes": indexes,
        "summaries": summary_bytes,
        "rows": n,
        "database": everything,
    }


def largest_small_domain(dsn: str) -> str:
    conn = connect(dsn)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT d.domain FROM domain_totals t JOIN domains d USING (domain_id) "
            f"WHERE NOT ({summary_defs.large('t')}) ORDER BY t.links + t.lost DESC LIMIT 1"
        )
        domain = str(cur.fetchone()[0])
    conn.close()
    return domain


def synthetic_pages(n: int, first: int, at: datetime) -> list[ArticlePage]:
    """n new posts of 20 links each, into the existing dictionary's domains."""
    rng = random.Random(first)
    pages = []
    for k in range(n):
        pid = f"f{first + k:011x}"
        links = []
        for pos in range(LINKS_PER_POST):
            d = min(DOMAINS, int(DOMAINS ** rng.random()))
            host = f"site{d}.example"
            rel = ["noopener"] if pos % 7 == 0 else ["noopener", "ugc", "nofollow"]
            links.append(
                Link(
                    post_id=None,
                    target_url=f"https://{host}/{pid}/{pos}",
                    target_url_raw=f"https://{host}/{pid}/{pos}",
                    domain=host,
                    host=host,
                    anchor_text="a",
                    kind="text",
                    rel=rel,
                    nofollow="nofollow" in rel,
                    ugc="ugc" in rel,
                    sponsored=False,
                    location="body",
                    position=pos,
                    block="paragraph",
                )
            )
        art = Article(
            post_id=pid,
            url=f"https://medium.com/p/{pid}",
            canonical_url=None,
            author=Author(f"user{rng.randint(1, AUTHORS)}", None),
            publication=Publication(f"pub{rng.randint(1, PUBLICATIONS)}", None, None),
            title="t",
            published_at="2025-03-01T00:00:00Z",
            tags=["tag1", "tag301"],
            facts=PageFacts(access="public", complete=True),
        )
        pages.append(ArticlePage(article=art, links=links, fetched_at=at))
    return pages


def store_rate(dsn: str, batches: int, mode: str, first: int) -> float:
    """Links per second that write_batch stores, 50 new posts per batch. ``mode``:
    "off" (summary triggers off), "each" (a fold after every batch) or "later"
    (the crawl's store: batches only append facets, one fold at the end, timed)."""
    on = mode != "off"
    conn = connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(f"ALTER TABLE links {'ENABLE' if on else 'DISABLE'} TRIGGER USER")
        cur.execute(f"ALTER TABLE posts {'ENABLE' if on else 'DISABLE'} TRIGGER USER")
    at = datetime.now(UTC)
    work = [synthetic_pages(50, first + 50 * b, at) for b in range(batches)]
    t0 = time.perf_counter()
    for pages in work:
        write_batch(conn, pages, fold=mode == "each")
    if mode == "later":
        summaries.fold(conn)
    took = time.perf_counter() - t0
    with conn, conn.cursor() as cur:
        if not on:
            # what the summaries never counted goes, so that a kept harvest
            # stays exact (bench/recount.py checks it)
            cur.execute(
                "DELETE FROM links WHERE post_id IN (SELECT post_id FROM posts "
                "WHERE medium_id = ANY (%s))",
                ([p.article.post_id for pages in work for p in pages],),
            )
        cur.execute("ALTER TABLE links ENABLE TRIGGER USER")
        cur.execute("ALTER TABLE posts ENABLE TRIGGER USER")
    conn.close()
    return batches * 50 * LINKS_PER_POST / took


def command_ms(dsn: str, args: list[str], rounds: int) -> tuple[float, int]:
    """Median wall time of one whole `harvest ...` process, and its output's bytes."""
    env = {**os.environ, "DATABASE_URL": dsn}
    times, size = [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        done = subprocess.run([str(HARVEST), *args], env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - t0) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"harvest {' '.join(args)} failed: {done.stderr.decode()[-500:]}")
        size = len(done.stdout)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each command (median)")
    parser.add_argument("--batches", type=int, default=20, help="store batches per mode")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument(
        "--reuse",
        metavar="DATABASE_URL",
        help="time the commands on a harvest an earlier --keep run built (its migrations "
        "brought up to date first); nothing is built or dropped",
    )
    parser.add_argument(
        "--no-disk-check",
        action="store_true",
        help="build even where the database's disk looks too small",
    )
    args = parser.parse_args()

    dbs = Databases()
    if not args.reuse and not args.no_disk_check:
        short = room_for(dbs.admin, args.rows)
        if short:
            dbs.close()
            raise SystemExit(f"bench/query.py: {short}")
    name, dsn = ("", args.reuse) if args.reuse else dbs.fresh()
    try:
        if args.reuse:
            subprocess.run(
                [str(HARVEST), "db", "migrate"],
                env={**os.environ, "DATABASE_URL": dsn},
                check=True,
                capture_output=True,
            )
            built = sizes(dsn)
            print(f"reusing {dsn}", flush=True)
        else:
            built = build(dsn, args.rows)
        rows = int(built["rows"])
        per_link = (built["heap"] + built["indexes"]) / rows
        if not args.reuse:
            print(
                f"{rows:,} link rows: load {built['load_s']:.0f}s "
                f"({rows / built['load_s']:,.0f} rows/s), "
                f"indexes {built['index_s']:.0f}s, summaries {built['summaries_s']:.0f}s, "
                f"vacuum analyze {built['vacuum_s']:.0f}s",
                flush=True,
            )
        print(
            f"links {built['heap'] / 2**30:.2f} GiB + "
            f"indexes {built['indexes'] / 2**30:.2f} GiB = {per_link:.0f} bytes/link; "
            f"summaries {built['summaries'] / 2**30:.2f} GiB "
            f"({built['summaries'] / rows:.0f} bytes/link); the whole database "
            f"{built['database'] / 2**30:.2f} GiB ({built['database'] / rows:.0f} bytes/link)",
            flush=True,
        )

        rng = random.Random(args.seed)
        conn = connect(dsn)
        conn.set_session(readonly=True)

        def timed(target: str, after: str | None = None) -> tuple[float, int, str | None]:
            t0 = time.perf_counter()
            page = queries.backlinks(conn, target, after=after)
            conn.rollback()
            return (time.perf_counter() - t0) * 1000, len(list(page.rows)), page.after

        for _ in range(200):  # warm the caches the way a running service has them
            timed(f"site{rng.randint(1, DOMAINS)}.example")
        by_domain = [timed(f"site{rng.randint(1, DOMAINS)}.example") for _ in range(args.queries)]
        by_host = [
            timed(f"www.site{rng.randint(1, DOMAINS)}.example") for _ in range(args.queries // 4)
        ]
        lat = [ms for ms, _, _ in by_domain]
        host_lat = [ms for ms, _, _ in by_host]
        print(
            f"backlinks by domain (first page of 50), {len(lat)} queries: p50 "
            f"{percentile(lat, 0.5):.2f} ms, p95 {percentile(lat, 0.95):.2f} ms, p99 "
            f"{percentile(lat, 0.99):.2f} ms; by host p50 {percentile(host_lat, 0.5):.2f} ms, "
            f"p95 {percentile(host_lat, 0.95):.2f} ms",
            flush=True,
        )
        # page 200 of the most linked domain: keyset paging costs the same at any depth
        after = None
        for _ in range(200):
            _, _, after = timed("site1.example", after)
        deep = statistics.median(timed("site1.example", after)[0] for _ in range(20))
        first = statistics.median(timed("site1.example")[0] for _ in range(20))
        conn.close()
        print(f"site1.example in process: first page {first:.2f} ms, page 201 {deep:.2f} ms")

        out = Path(tempfile.mkdtemp(prefix="harvest-query-"))
        small = largest_small_domain(dsn)
        today = datetime.now(UTC).date()
        since = (today.replace(day=1) - timedelta(days=40)).replace(day=1)
        commands = {
            "top_backlinks": ["backlinks", "site1.example"],
            "top_backlinks_deep": ["backlinks", "site1.example", "--after", str(after)],
            "top_domains": ["top-domains"],
            "stats": ["stats"],
            "report": ["report", "-o", "-"],
            "report_domain": ["report", "--domain", "site1.example", "-o", "-"],
            # the most linked domain the summaries keep no rows by year for:
            # its report counts them from its links (summary_defs.LARGE_DOMAIN)
            "report_domain_small": ["report", "--domain", small, "-o", "-"],
            "report_tag": ["report", "--tag", "tag1", "-o", "-"],
            # tag301 is on one post in seven: the largest tag
            "report_tag_large": ["report", "--tag", "tag301", "-o", "-"],
            # pub1 is the largest publication of the power law
            "report_publication": ["report", "--publication", "pub1", "-o", "-"],
            # the links first seen in the last two months and this one (0009's
            # tables), and the same window a day later, which only a scan answers
            "report_since": ["report", "--since", since.isoformat(), "-o", "-"],
            "report_since_scan": [
                "report",
                "--since",
                (since + timedelta(days=1)).isoformat(),
                "-o",
                "-",
            ],
            "version": ["--version"],
        }
        results: dict[str, float] = {}
        for key, argv in commands.items():
            # the scan is the baseline, and at 10^7 rows it takes tens of seconds
            ms, size = command_ms(dsn, argv, 1 if key == "report_since_scan" else args.rounds)
            results[key] = ms
            print(
                f"harvest {' '.join(argv)}: {ms:.0f} ms (median of {args.rounds}), "
                f"{size / 1024:.0f} KB out",
                flush=True,
            )
        del out

        # New posts each time: on a reused harvest the first run's would be recrawls.
        base = int(time.time()) * 1000 if args.reuse else 0
        with_summaries = store_rate(dsn, args.batches, "later", base + 1)
        each = store_rate(dsn, args.batches, "each", base + 2 * 10**8)
        without = store_rate(dsn, args.batches, "off", base + 10**9)
        print(
            f"store, 50 new posts x 20 links per batch into {rows:,} rows: "
            f"{with_summaries:,.0f} links/s with summaries folded at the end, "
            f"{each:,.0f} folding each batch, {without:,.0f} links/s without "
            f"({with_summaries / without:.2f}x, {each / without:.2f}x)",
            flush=True,
        )
        checked_at = datetime.now(UTC) - timedelta(seconds=0)
        print(f"finished {checked_at:%Y-%m-%d %H:%M} UTC", flush=True)
        print(
            f"RESULT rows={rows} p95_ms={percentile(lat, 0.95):.2f} "
            f"top_backlinks_ms={results['top_backlinks']:.0f} "
            f"top_domains_ms={results['top_domains']:.0f} stats_ms={results['stats']:.0f} "
            f"report_ms={results['report']:.0f} report_domain_ms={results['report_domain']:.0f} "
            f"report_domain_small_ms={results['report_domain_small']:.0f} "
            f"report_tag_ms={results['report_tag']:.0f} "
            f"report_tag_large_ms={results['report_tag_large']:.0f} "
            f"report_publication_ms={results['report_publication']:.0f} "
            f"report_since_ms={results['report_since']:.0f} "
            f"report_since_scan_ms={results['report_since_scan']:.0f} "
            f"startup_ms={results['version']:.0f} "
            f"bytes_per_link={per_link:.0f} "
            f"db_bytes_per_link={built['database'] / rows:.0f} "
            f"store_links_per_s={with_summaries:.0f} "
            f"store_ratio={with_summaries / without:.2f} "
            f"store_each_ratio={each / without:.2f}"
        )
        if args.keep:
            print(f"kept: DATABASE_URL={dsn}")
    finally:
        if not args.keep and not args.reuse:
            dbs.drop(name)
        dbs.close()


if __name__ == "__main__":
    main()
