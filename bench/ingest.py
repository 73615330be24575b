"""Link rows per second into PostgreSQL: harvest's pipeline beside two baselines.

All three write the same synthetic link rows (pages of ~20 outbound links,
target domains drawn from a Zipf-like distribution, as on Medium) into a fresh
database each round:

* pipeline: PostgresPipeline end to end (buffering, COPY into staging, set-based
  upserts into the indexed schema, lost-link marking, commit per batch, and
  the fold that makes the summaries exact when the crawl ends);
* writes:   the same with every fold left for later (the store's write path
  alone, as a crawl's batches feel it), then that fold timed apart (fold);
* per_row:  what a naive pipeline does, one INSERT (post, host, link upserts)
  and one COMMIT per link row, into the same indexed schema;
* copy:     a bare COPY of the rows into an unindexed table, the ceiling.

The per-row baseline is timed on a slice of the rows (it is slow) and reported
as a rate. Uses DATABASE_URL when set, else an embedded server in a temp dir.
Medians over --rounds.

    .venv/bin/python bench/ingest.py [--pages 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scrapy import Spider
from scrapy.utils.test import get_crawler

from harvest.db import summaries
from harvest.db.connection import Embedded, connect
from harvest.db.migrate import migrate
from harvest.db.store import copy_field, copy_text
from harvest.items import ArticlePage
from harvest.links import registered_domain
from harvest.medium.records import Article, Author, Link, PageFacts, Publication
from harvest.pipelines.postgres import PostgresPipeline
from tests.pg import Server, with_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def copy_rows(cur: Any, table: str, columns: tuple[str, ...], rows: Any) -> int:
    """The baseline: plain COPY of Python tuples, no staging, no upsert."""
    lines = ("\t".join([copy_field(v) for v in row]) + "\n" for row in rows)
    return copy_text(cur, table, columns, lines)


RELS = [["noopener", "ugc", "nofollow"], ["nofollow", "noopener"], ["nofollow"], ["noopener"], []]


def synthetic_pages(n_pages: int, seed: int = 7) -> list[ArticlePage]:
    rng = random.Random(seed)
    domains = [f"site{i}.example" for i in range(20_000)]
    weights = [1 / (i + 1) for i in range(len(domains))]
    pages = []
    for i in range(n_pages):
        post_id = f"{rng.getrandbits(48):012x}"
        n_links = max(1, int(rng.gauss(20, 6)))
        chosen = rng.choices(domains, weights, k=n_links)
        links = []
        for pos, dom in enumerate(chosen):
            host = ("www." if rng.random() < 0.5 else "") + dom
            url = f"https://{host}/{rng.getrandbits(40):x}/article-{pos}?id={rng.randrange(10**6)}"
            rel = rng.choice(RELS)
            links.append(
                Link(
                    post_id=post_id,
                    target_url=url,
                    target_url_raw=url,
                    domain=registered_domain(host),
                    host=host,
                    anchor_text=f"anchor text number {pos} about {dom}",
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
            post_id,
            f"https://medium.com/@user{i % 3000}/post-{post_id}",
            None,
            Author(f"user{i % 3000}", f"User {i % 3000}"),
            Publication(f"pub{i % 200}", f"Pub {i % 200}", None) if i % 3 else None,
            f"Post number {i}",
            "2024-05-01T10:00:00Z",
            ["seo", f"tag{i % 50}"],
            PageFacts(access="public", complete=True),
        )
        pages.append(ArticlePage(art, links, T0))
    return pages


class Databases:
    def __init__(self) -> None:
        self.embedded: Embedded | None = None
        # Taken out of the environment: the pipeline prefers DATABASE_URL over
        # its settings, and each round must write into its own fresh database.
        external = os.environ.pop("DATABASE_URL", None)
        if external:
            self.admin = with_database(external, "postgres")
        else:
            self.embedded = Embedded(Path(tempfile.mkdtemp(prefix="harvest-bench-")) / "pg")
            self.admin = with_database(self.embedded.start(), "postgres")
        self.server = Server(self.admin, self.embedded)

    def fresh(self) -> tuple[str, str]:
        name = f"harvest_bench_{uuid.uuid4().hex[:8]}"
        dsn = self.server.create(name)
        c = connect(dsn)
        migrate(c)
        c.close()
        return name, dsn

    def drop(self, name: str) -> None:
        self.server.drop(name)

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.close()


def run_pipeline(
    dsn: str, pages: list[ArticlePage], settings: dict[str, Any] | None = None
) -> float:
    crawler = get_crawler(
        Spider, {"HARVEST_DATABASE_URL": dsn, "HARVEST_DB_MIGRATE": False, **(settings or {})}
    )
    crawler.spider = Spider(name="bench")
    crawler.stats.open_spider(crawler.spider)
    pipeline = PostgresPipeline.from_crawler(crawler)

    async def go() -> None:
        await pipeline.open_spider()
        for page in pages:
            await pipeline.process_item(page)
        await pipeline.close_spider()

    start = time.perf_counter()
    asyncio.run(go())
    elapsed = time.perf_counter() - start
    links = sum(len(p.links) for p in pages)
    stored = crawler.stats.get_value("harvest/db/links")
    assert stored == links, (stored, links)
    return links / elapsed


def run_writes(dsn: str, pages: list[ArticlePage], folds: list[float]) -> float:
    """The pipeline's rate with its folds left for later; the rate of the one
    fold that then makes the summaries exact goes to ``folds``."""
    with (
        mock.patch.object(summaries, "fold", return_value=0),
        mock.patch.object(summaries, "try_fold", return_value=0),
    ):
        rate = run_pipeline(dsn, pages)
    links = sum(len(p.links) for p in pages)
    conn = connect(dsn)
    start = time.perf_counter()
    summaries.fold(conn)
    folds.append(links / (time.perf_counter() - start))
    conn.close()
    return rate


PER_ROW_SQL = """
WITH a AS (
    INSERT INTO authors (username, name, first_seen, last_seen) VALUES (%(user)s, %(name)s, %(at)s, %(at)s)
    ON CONFLICT (username) DO UPDATE SET last_seen = EXCLUDED.last_seen RETURNING author_id
), p AS (
    INSERT INTO posts (medium_id, url, author_id, title, first_crawled_at, last_crawled_at)
    SELECT %(post)s, %(url)s, author_id, %(title)s, %(at)s, %(at)s FROM a
    ON CONFLICT (medium_id) DO UPDATE SET last_crawled_at = EXCLUDED.last_crawled_at RETURNING post_id
), d AS (
    INSERT INTO domains (domain) VALUES (%(domain)s)
    ON CONFLICT (domain) DO UPDATE SET domain = EXCLUDED.domain RETURNING domain_id
), h AS (
    INSERT INTO hosts (host, domain_id) SELECT %(host)s, domain_id FROM d
    ON CONFLICT (host) DO UPDATE SET host = EXCLUDED.host RETURNING host_id, domain_id
), r AS (
    INSERT INTO rels (rel) VALUES (%(rel)s)
    ON CONFLICT (rel) DO UPDATE SET rel = EXCLUDED.rel RETURNING rel_id
)
INSERT INTO links (post_id, location, position, target_url, host_id, domain_id,
                   anchor_text, kind, rel_id, nofollow, ugc, sponsored, first_seen, last_seen)
SELECT p.post_id, %(loc)s, %(pos)s, %(target)s, h.host_id, h.domain_id,
       %(text)s, 'text', r.rel_id, %(nofollow)s, %(ugc)s, %(sponsored)s, %(at)s, %(at)s
FROM p, h, r
ON CONFLICT (post_id, location, position, (url_key(target_url))) DO UPDATE SET last_seen = EXCLUDED.last_seen
"""


def run_per_row(dsn: str, pages: list[ArticlePage], max_rows: int) -> float:
    conn = connect(dsn)
    n = 0
    start = time.perf_counter()
    with conn.cursor() as cur:
        for page in pages:
            art = page.article
            for link in page.links:
                cur.execute(
                    PER_ROW_SQL,
                    {
                        "user": art.author.username if art.author else None,
                        "name": art.author.name if art.author else None,
                        "at": page.fetched_at,
                        "post": art.post_id,
                        "url": art.url,
                        "title": art.title,
                        "domain": link.domain,
                        "host": link.host,
                        "loc": link.location,
                        "pos": link.position,
                        "target": link.target_url,
                        "text": link.anchor_text,
                        "rel": link.rel,
                        "nofollow": link.nofollow,
                        "ugc": link.ugc,
                        "sponsored": link.sponsored,
                    },
                )
                conn.commit()
                n += 1
                if n >= max_rows:
                    break
            if n >= max_rows:
                break
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def run_copy(dsn: str, pages: list[ArticlePage]) -> float:
    conn = connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("""CREATE UNLOGGED TABLE IF NOT EXISTS raw_links (
            post text, location text, position int, target_url text, host text, domain text,
            anchor_text text, rel text, nofollow bool, ugc bool, sponsored bool, seen timestamptz)""")
        cur.execute("ALTER TABLE raw_links SET LOGGED")
    rows = (
        (
            p.article.post_id,
            l.location,
            l.position,
            l.target_url,
            l.host,
            l.domain,
            l.anchor_text,
            " ".join(l.rel),
            l.nofollow,
            l.ugc,
            l.sponsored,
            p.fetched_at,
        )
        for p in pages
        for l in p.links
    )
    start = time.perf_counter()
    with conn, conn.cursor() as cur:
        n = copy_rows(
            cur,
            "raw_links",
            (
                "post",
                "location",
                "position",
                "target_url",
                "host",
                "domain",
                "anchor_text",
                "rel",
                "nofollow",
                "ugc",
                "sponsored",
                "seen",
            ),
            rows,
        )
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-row-rows", type=int, default=5_000)
    args = parser.parse_args()

    pages = synthetic_pages(args.pages)
    total = sum(len(p.links) for p in pages)
    print(f"{args.pages} pages, {total} link rows, {args.rounds} rounds")
    dbs = Databases()
    results: dict[str, list[float]] = {
        "pipeline": [],
        "writes": [],
        "per_row": [],
        "copy": [],
        "fold": [],
    }
    try:
        for r in range(args.rounds):
            runs: tuple[tuple[str, Callable[[str], float]], ...] = (
                ("copy", lambda dsn: run_copy(dsn, pages)),
                ("pipeline", lambda dsn: run_pipeline(dsn, pages)),
                ("writes", lambda dsn: run_writes(dsn, pages, results["fold"])),
                ("per_row", lambda dsn: run_per_row(dsn, pages, args.per_row_rows)),
            )
            for name, fn in runs:
                db, dsn = dbs.fresh()
                # CREATE DATABASE and the migrations leave WAL to flush and a
                # dropped database's checkpoint behind; none of it is the
                # subject's work, so each run starts on a settled server.
                time.sleep(0.5)
                try:
                    rate = fn(dsn)
                finally:
                    dbs.drop(db)
                results[name].append(rate)
                print(f"round {r + 1}: {name:8} {rate:12,.0f} rows/s", flush=True)
    finally:
        dbs.close()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"median: pipeline {med['pipeline']:,.0f}  writes {med['writes']:,.0f} (then the fold "
        f"{med['fold']:,.0f})  per_row {med['per_row']:,.0f}  copy {med['copy']:,.0f} rows/s"
    )
    print(
        f"RESULT rows_per_s={med['pipeline']:.0f} per_row_rows_per_s={med['per_row']:.0f} "
        f"copy_rows_per_s={med['copy']:.0f} vs_per_row={med['pipeline'] / med['per_row']:.1f} "
        f"vs_copy={med['pipeline'] / med['copy']:.2f} "
        f"writes_rows_per_s={med['writes']:.0f} writes_vs_copy={med['writes'] / med['copy']:.2f} "
        f"fold_rows_per_s={med['fold']:.0f}"
    )


if __name__ == "__main__":
    main()
