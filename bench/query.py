"""Latency of `harvest backlinks` on a 10-million-link table.

Builds a synthetic harvest in a fresh database: 200,000 registered domains
with two hosts each, 500,000 posts by 50,000 authors, and --rows link rows
whose target domains follow a power law (a few domains get most links, as on
Medium). Then times the exact query `harvest backlinks DOMAIN` runs
(harvest.db.queries.backlinks, all rows fetched) for random domains drawn
uniformly from the dictionary, plus random hosts, and reports medians and
95th percentiles. Uses DATABASE_URL when set, else an embedded server.

    .venv/bin/python bench/query.py [--rows 10000000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import Databases

from harvest.db import queries
from harvest.db.connection import connect

DOMAINS = 200_000
POSTS = 500_000
AUTHORS = 50_000

LOAD_SQL = f"""
INSERT INTO domains (domain) OVERRIDING SYSTEM VALUE
SELECT 'site' || g || '.example' FROM generate_series(1, {DOMAINS}) g;
INSERT INTO hosts (host_id, host, domain_id) OVERRIDING SYSTEM VALUE
SELECT g, CASE WHEN g % 2 = 0 THEN 'www.' ELSE '' END || 'site' || ((g + 1) / 2) || '.example',
       (g + 1) / 2
FROM generate_series(1, {2 * DOMAINS}) g;
INSERT INTO authors (author_id, username, name, first_seen, last_seen) OVERRIDING SYSTEM VALUE
SELECT g, 'user' || g, 'User ' || g, now(), now() FROM generate_series(1, {AUTHORS}) g;
INSERT INTO posts (post_id, medium_id, url, author_id, title, tags, first_published_at,
                   first_crawled_at, last_crawled_at) OVERRIDING SYSTEM VALUE
SELECT g, lpad(to_hex(g), 12, '0'), 'https://medium.com/p/' || lpad(to_hex(g), 12, '0'),
       1 + g % {AUTHORS}, 'Post ' || g, ARRAY['tag' || (g % 300)],
       now() - (g % 3000) * interval '1 day', now(), now()
FROM generate_series(1, {POSTS}) g;
"""

# (%% is a literal % where psycopg2 fills in parameters.)
# Power-law domain choice: floor(DOMAINS ** random()) is log-uniform, so domain 1
# gets as many links as domains 2-3 together, and so on (Zipf-like).
LINKS_SQL = f"""
INSERT INTO links (post_id, location, position, target_url, target_url_raw, host_id, domain_id,
                   anchor_text, kind, block, rel, nofollow, ugc, sponsored, first_seen, last_seen)
SELECT 1 + (g / 20) %% {POSTS}, 'body', g %% 20,
       'https://site' || d || '.example/' || md5(g::text), NULL,
       2 * d - (g %% 2), d, 'anchor ' || g, 'text', 'paragraph',
       CASE WHEN g %% 7 = 0 THEN '{{noopener}}'::text[] ELSE '{{noopener,ugc,nofollow}}' END,
       g %% 7 <> 0, g %% 7 <> 0, false, now() - (g %% 900) * interval '1 day', now()
FROM (SELECT g, least({DOMAINS}, floor(power({DOMAINS}, random()))::int) AS d
      FROM generate_series(%(lo)s, %(hi)s) g) s
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    dbs = Databases()
    name, dsn = dbs.fresh()
    try:
        conn = connect(dsn)
        conn.autocommit = True
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("SELECT setseed(0.42)")
            cur.execute(LOAD_SQL)
            # Bulk load first, index after: the way a restore or a first load goes.
            cur.execute("ALTER TABLE links DROP CONSTRAINT links_pkey")
            cur.execute("DROP INDEX links_domain_host_idx")
            step = 1_000_000
            for lo in range(1, args.rows + 1, step):
                cur.execute(LINKS_SQL, {"lo": lo, "hi": min(args.rows, lo + step - 1)})
                print(f"loaded {min(args.rows, lo + step - 1):,} rows", flush=True)
            cur.execute("ALTER TABLE links ADD PRIMARY KEY (post_id, location, position, url_hash)")
            cur.execute("CREATE INDEX links_domain_host_idx ON links (domain_id, host_id)")
            cur.execute("VACUUM ANALYZE")
            cur.execute(
                "SELECT count(*), pg_size_pretty(pg_total_relation_size('links')) FROM links"
            )
            rows, size = cur.fetchone()
        print(
            f"{rows:,} link rows, {size} with indexes, built in {time.perf_counter() - started:.0f}s"
        )

        rng = random.Random(args.seed)
        conn.autocommit = False
        conn.set_session(readonly=True)

        def timed(target: str) -> tuple[float, int]:
            t0 = time.perf_counter()
            _, result = queries.backlinks(conn, target)
            conn.rollback()
            return (time.perf_counter() - t0) * 1000, len(result)

        for _ in range(200):  # warm the caches the way a running service has them
            timed(f"site{rng.randint(1, DOMAINS)}.example")
        by_domain = [timed(f"site{rng.randint(1, DOMAINS)}.example") for _ in range(args.queries)]
        by_host = [
            timed(f"www.site{rng.randint(1, DOMAINS)}.example") for _ in range(args.queries // 4)
        ]
        lat = [ms for ms, _ in by_domain]
        host_lat = [ms for ms, _ in by_host]
        sizes = [n for _, n in by_domain]
        print(
            f"backlinks by domain: {len(lat)} queries, median {statistics.median(sizes)} rows "
            f"(max {max(sizes)}), p50 {percentile(lat, 0.5):.2f} ms, p95 {percentile(lat, 0.95):.2f} ms, "
            f"p99 {percentile(lat, 0.99):.2f} ms"
        )
        print(
            f"backlinks by host:   {len(host_lat)} queries, p50 {percentile(host_lat, 0.5):.2f} ms, "
            f"p95 {percentile(host_lat, 0.95):.2f} ms"
        )
        top = [timed("site1.example")[0] for _ in range(5)]
        print(
            f"the most linked domain ({timed('site1.example')[1]:,} rows): median {statistics.median(top):.0f} ms"
        )
        conn.close()
        print(
            f"RESULT rows={rows} p50_ms={percentile(lat, 0.5):.2f} p95_ms={percentile(lat, 0.95):.2f}"
        )
    finally:
        dbs.drop(name)
        dbs.close()


if __name__ == "__main__":
    main()
