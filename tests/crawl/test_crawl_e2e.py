"""End to end: `scrapy crawl medium` against the simulator, real Chromium, real PostgreSQL.

Every crawl runs as its own process, as scrapyd would run it, with the
database in DATABASE_URL (a fresh one per test) and MEDIUM_BASE_URL pointing
at the simulator. The stored rows are compared with the simulator's manifest.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvest.db.connection import connect
from harvest.sim.render import BATCH
from harvest.sim.server import SimServer
from tests.pg import rows, scalar
from tests.sim.crawl import LINK_FIELDS, finish, manifest_links, start_crawl, stored_links

# Every test here runs a crawl (or scrapyd) in a process of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SIZE = 24  # the "seo" tag then lists 11 posts: two batches arrive only on scroll


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with SimServer(seed=1, size=SIZE) as server:
        yield server


def crawl(
    sim: SimServer, dsn: str, *args: str, settings: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    merged = {
        "HARVEST_SCROLL_PAUSE_MS": "250",
        "HARVEST_SCROLL_WAIT_MS": "1000",
        **(settings or {}),
    }
    err = finish(start_crawl(sim.url, dsn, args, merged))
    return subprocess.CompletedProcess([], 0, "", err)


FIELDS = (*LINK_FIELDS, "kind")


def live_links(conn: Any) -> set[tuple[Any, ...]]:
    return set(stored_links(conn, FIELDS, live_only=True))


def expected_links(manifest: dict[str, Any], post_ids: list[str]) -> set[tuple[Any, ...]]:
    return manifest_links(manifest, FIELDS, post_ids)


def test_tag_crawl_stores_exactly_the_manifest_including_scrolled_posts(
    sim: SimServer, db_dsn: str
) -> None:
    manifest = sim.manifest()
    seo = manifest["tags"]["seo"]
    assert len(seo) > 2 * BATCH  # the third batch only comes after two scrolls
    proc = crawl(sim, db_dsn, "tags=seo")
    conn = connect(db_dsn)
    assert {r[0] for r in rows(conn, "SELECT medium_id FROM posts")} == set(seo)
    got, want = live_links(conn), expected_links(manifest, seo)
    assert got == want, (sorted(got - want)[:5], sorted(want - got)[:5])
    # no chrome, no recirculation, no Medium-internal target slipped in
    assert (
        scalar(
            conn,
            "SELECT count(*) FROM hosts WHERE host LIKE '%%medium.com' OR host IN "
            "('play.google.com', 'itunes.apple.com', 'speechify.com', 'me.dm', 'rsci.app.link')",
        )
        == 0
    )
    run = rows(
        conn,
        "SELECT spider, status, arguments->'tags', counts->>'harvest/db/pages' FROM crawl_runs",
    )
    assert run == [("medium", "finished", ["seo"], str(len(seo)))]
    # facts of each post came through
    facts = {
        r[0]: r[1:]
        for r in rows(
            conn,
            """
        SELECT p.medium_id, p.canonical_url, a.username, p.tags, p.first_published_at
        FROM posts p JOIN authors a USING (author_id)""",
        )
    }
    for pid in seo:
        post = manifest["posts"][pid]
        url, author, tags, published = facts[pid]
        assert (url, author, tags) == (post["url"], post["author"], post["tags"])
        assert published.isoformat().replace("+00:00", "Z") == post["published_at"]
    assert "harvest/browser/scrolls" in proc.stderr
    # one driver, started on the first listing page, though two schemes are registered
    assert proc.stderr.count("starting the Playwright driver") == 1
    conn.close()


def test_without_the_browser_only_the_first_batch_is_found(sim: SimServer, db_dsn: str) -> None:
    crawl(sim, db_dsn, "tags=seo", settings={"HARVEST_BROWSER": "0"})
    conn = connect(db_dsn)
    assert scalar(conn, "SELECT count(*) FROM posts") == BATCH
    conn.close()


def test_recrawl_adds_no_duplicates_and_marks_removed_links_lost(
    sim: SimServer, db_dsn: str
) -> None:
    manifest = sim.manifest()
    seo = manifest["tags"]["seo"]
    crawl(sim, db_dsn, "tags=seo")
    conn = connect(db_dsn)
    first_count = scalar(conn, "SELECT count(*) FROM links")
    # without recrawl, posts harvested within recrawl_days are skipped
    proc = crawl(sim, db_dsn, "tags=seo")
    assert "'harvest/posts/skipped_recent': 11" in proc.stderr
    assert scalar(conn, "SELECT count(*) FROM links") == first_count
    # the pages change: one link removed and one added in every post
    sim.variant = 1
    crawl(sim, db_dsn, "tags=seo", "recrawl=1")
    v1 = sim.manifest()
    assert live_links(conn) == expected_links(v1, seo)
    assert scalar(conn, "SELECT count(*) FROM links") == first_count + len(seo)  # the added ones
    assert scalar(conn, "SELECT count(*) FROM links WHERE lost_at IS NOT NULL") == len(seo)
    lost = {r[0] for r in rows(conn, "SELECT anchor_text FROM links WHERE lost_at IS NOT NULL")}
    assert lost == {"removed later"}
    assert scalar(conn, "SELECT count(*) FROM crawl_runs") == 3
    conn.close()


def test_profile_feed_and_snowball(sim: SimServer, db_dsn: str) -> None:
    manifest = sim.manifest()
    user = next(u for u, a in manifest["authors"].items() if a["bio_links"])
    crawl(sim, db_dsn, f"users=@{user}", "feeds=1")
    conn = connect(db_dsn)
    assert {r[0] for r in rows(conn, "SELECT medium_id FROM posts")} == set(
        manifest["authors"][user]["posts"]
    )
    bio = rows(
        conn,
        "SELECT target_url FROM author_links JOIN authors USING (author_id) WHERE username = %s",
        (user,),
    )
    assert {r[0] for r in bio} == set(manifest["authors"][user]["bio_links"])
    conn.close()


def test_sitemap_date_range(sim: SimServer, db_dsn: str) -> None:
    manifest = sim.manifest()
    days = sorted({p["published_at"][:10] for p in manifest["posts"].values()})
    first, last = days[2], days[6]
    want = {pid for pid, p in manifest["posts"].items() if first <= p["published_at"][:10] <= last}
    proc = crawl(sim, db_dsn, f"sitemap={first}..{last}")
    conn = connect(db_dsn)
    assert {r[0] for r in rows(conn, "SELECT medium_id FROM posts")} == want
    conn.close()
    # sitemaps and articles are plain HTTP: the Playwright driver never starts
    assert "starting the Playwright driver" not in proc.stderr


def test_max_posts_and_follow(sim: SimServer, db_dsn: str) -> None:
    crawl(sim, db_dsn, "tags=marketing", "follow=authors", "depth=1", "max_posts=3")
    conn = connect(db_dsn)
    assert scalar(conn, "SELECT count(*) FROM posts") == 3
    conn.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["max_posts=many"], "-a max_posts='many': must be a whole number"),
        (["tags=+++"], "has no letters or digits to make a tag slug of"),
        ([], "nothing to crawl"),
        (["tags=seo", "sitemap=2024-02-01..2024-01-01"], "ends before it starts"),
        (["tags=seo", "follow=comments"], "is not one of authors, tags"),
        (["tags=seo", "colour=red"], "unknown argument(s) colour"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(args: list[str], message: str) -> None:
    cmd = [sys.executable, "-m", "scrapy", "crawl", "medium", "-s", "HARVEST_DB_ENABLED=0"]
    for arg in args:
        cmd += ["-a", arg]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_rate_limited_pages_are_retried_after_the_time_asked(db_dsn: str) -> None:
    from harvest.sim.server import Faults

    with SimServer(
        seed=1, size=SIZE, faults=Faults(rate=0.4, kinds=("429", "503"), retry_after=1, seed=3)
    ) as sim:
        manifest = sim.manifest()
        # Three bursts trip the breaker, whose pause (60 s by default, tested
        # in test_honest_crawls) is not what this test is about.
        proc = crawl(sim, db_dsn, "tags=seo", settings={"HARVEST_BREAKER_COOLDOWN": "2"})
    conn = connect(db_dsn)
    seo = manifest["tags"]["seo"]
    assert live_links(conn) == expected_links(manifest, seo)
    assert "harvest/retry_after/waits" in proc.stderr
    conn.close()
