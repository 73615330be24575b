"""Faults, crashes and restarts lose nothing (real PostgreSQL, the simulator's fault knobs).

Run alone with `pytest -m faults`; each test prints its figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harvest.crawl.unparsed import UnparsedStore
from harvest.db.connection import Embedded, connect
from harvest.sim.server import Faults, SimServer
from tests.pg import rows, scalar
from tests.sim.crawl import (
    crawl_report,
    finish,
    manifest_links,
    start_crawl,
    stored_links,
    whole_range,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PAGES = ROOT / "tests" / "medium" / "pages"


def crawl(
    sim: SimServer, dsn: str, *args: str, env: dict[str, str] | None = None, **settings: Any
) -> subprocess.Popen[str]:
    return start_crawl(sim.url, dsn, args, {"HARVEST_BROWSER": "0", **settings}, env)


def compare(dsn: str, manifest: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(posts expected, posts stored, links expected, links stored, duplicate rows)."""
    conn = connect(dsn)
    posts = {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
    links = stored_links(conn)
    conn.close()
    want = manifest_links(manifest)
    stored = set(links) & want
    assert not set(links) - want, sorted(set(links) - want)[:5]
    return (
        len(manifest["posts"]),
        len(posts & set(manifest["posts"])),
        len(want),
        len(stored),
        (len(links) - len(set(links))),
    )


def test_ten_percent_faulty_responses(db_dsn: str) -> None:
    faults = Faults(
        rate=0.1,
        kinds=("429", "503", "reset", "timeout", "truncate"),
        retry_after=1,
        timeout_seconds=4,
        seed=11,
    )
    with SimServer(seed=6, size=60, faults=faults) as sim:
        manifest = sim.manifest()
        # Random 429s add up to breaker strikes; its pauses are another test's subject.
        err = finish(
            crawl(
                sim,
                db_dsn,
                whole_range(manifest),
                DOWNLOAD_TIMEOUT="2",
                HARVEST_BREAKER_COOLDOWN="1",
            )
        )
    want_posts, got_posts, want_links, got_links, dups = compare(db_dsn, manifest)
    print(
        f"10% faults: posts {got_posts}/{want_posts}, links {got_links}/{want_links}, "
        f"duplicates {dups}"
    )
    assert got_posts >= 0.999 * want_posts and got_links >= 0.999 * want_links
    assert dups == 0
    conn = connect(db_dsn)
    counts = rows(conn, "SELECT counts FROM crawl_runs")[0][0]
    conn.close()
    # the faults happened and were retried, as the run row records
    assert counts.get("retry/count", 0) >= 3, counts
    assert "'retry/count'" in err


def test_final_failures_and_unparsed_pages_are_recorded_and_kept(
    db_dsn: str, tmp_path: Path
) -> None:
    kept = tmp_path / "unparsed"
    with SimServer(seed=6, size=4) as sim:
        first = next(iter(sim.manifest()["posts"].values()))["url"]
        missing = "https://medium.com/no-such-publication"
        # an article that answers 404 is a deleted post: recorded, not a failure
        deleted = "https://medium.com/@nobody/gone-0123456789ab"
        not_an_article = "https://medium.com/_sim/manifest.json"
        finish(
            crawl(
                sim,
                db_dsn,
                f"urls={first},{missing},{deleted},{not_an_article}",
                HARVEST_UNPARSED_DIR=str(kept),
                ROBOTSTXT_OBEY="0",
            ),
            status=3,  # finished_with_failures: one page failed, one unparsed
        )
    data = crawl_report(db_dsn)
    failures = {(f["kind"], f["url"]): f for f in data["failures"]}
    assert failures[("failed", missing)]["reason"] == "HTTP 404"
    unparsed = failures[("unparsed", not_an_article)]
    assert unparsed["raw_path"] and Path(unparsed["raw_path"]).exists()
    assert data["counts"]["harvest/requests/failed"] == 1
    assert data["counts"]["harvest/pages/unparsed"] == 1
    assert data["counts"]["harvest/posts/gone/deleted"] == 1
    conn = connect(db_dsn)
    assert rows(conn, "SELECT status, http_status FROM posts WHERE medium_id = '0123456789ab'") == [
        ("deleted", 404)
    ]
    conn.close()
    print(f"recorded: {sorted(failures)}")

    # After a parser update the kept pages are parsed again: here a real
    # article stands for a page that the parser has learnt to read.
    store = UnparsedStore(kept)
    real = (PAGES / "article_2022_jakobulbrich_flag-attributes_postlight.html").read_bytes()
    store.save(
        "https://medium.com/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1",
        real,
        "test",
    )
    env = {**os.environ, "DATABASE_URL": db_dsn}
    out = subprocess.run(
        [str(BIN / "harvest"), "reparse", str(kept)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("reparsed and stored 1 pages; 1 still not recognized"), out
    conn = connect(db_dsn)
    assert scalar(conn, "SELECT count(*) FROM posts WHERE medium_id = 'ac4ec8aee7d1'") == 1
    # stored as of its fetch, not of the reparse
    fetched = json.loads(next(kept.joinpath("reparsed").glob("*.json")).read_text())["fetched_at"]
    assert scalar(
        conn,
        "SELECT min(first_seen) = %s::timestamptz FROM links l JOIN posts p USING (post_id) "
        "WHERE p.medium_id = 'ac4ec8aee7d1'",
        (fetched,),
    )
    conn.close()
    assert (kept / "reparsed").is_dir()


def test_postgres_restarted_mid_crawl() -> None:
    import shutil
    import tempfile

    # A short path: the server's Unix socket lives in it.
    root = Path(tempfile.mkdtemp(prefix="hpg"))
    embedded = Embedded(root / "data")
    dsn = embedded.start(keep_running=True)
    try:
        faults = Faults(rate=1.0, kinds=("slow",), slow_seconds=0.3, seed=2)
        with SimServer(seed=7, size=40, faults=faults) as sim:
            manifest = sim.manifest()
            proc = crawl(
                sim,
                dsn,
                whole_range(manifest),
                HARVEST_DB_FLUSH_INTERVAL="0.3",
                CONCURRENT_REQUESTS="4",
            )
            restarted = threading.Event()

            def bounce() -> None:
                deadline = time.monotonic() + 60
                while sum(1 for p in sim.requests if "-" in p) < 10:
                    if time.monotonic() > deadline:
                        return
                    time.sleep(0.1)
                embedded.stop()
                time.sleep(2)  # batches fail and wait meanwhile
                embedded.restart()
                restarted.set()

            threading.Thread(target=bounce, daemon=True).start()
            err = finish(proc)
        # The crawl's log tail goes with every failure: this test depends on
        # timing, and a rare failure is only worth something with it.
        assert restarted.is_set(), err[-4000:]
        want_posts, got_posts, want_links, got_links, dups = compare(dsn, manifest)
        print(
            f"PostgreSQL restart: posts {got_posts}/{want_posts}, links {got_links}/{want_links}, "
            f"duplicates {dups}"
        )
        assert (got_posts, got_links, dups) == (want_posts, want_links, 0), err[-4000:]
        assert "harvest/db/retries" in err, err[-4000:]
    finally:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)


def _chromium_pids(parent: int) -> list[int]:
    import psutil

    try:
        children = psutil.Process(parent).children(recursive=True)
    except psutil.Error:
        return []
    return [p.pid for p in children if "chrom" in (p.name() or "").lower()]


def test_chromium_crash_on_a_listing_page(db_dsn: str) -> None:
    from harvest.sim.render import BATCH

    with SimServer(seed=1, size=24) as sim:
        manifest = sim.manifest()
        seo = manifest["tags"]["seo"]
        proc = crawl(sim, db_dsn, "tags=seo", HARVEST_BROWSER="1", HARVEST_SCROLL_PAUSE_MS="1500")
        killed: list[int] = []
        deadline = time.monotonic() + 90
        while not killed and proc.poll() is None and time.monotonic() < deadline:
            pids = _chromium_pids(proc.pid)
            if pids:
                time.sleep(2.0)  # the listing is loaded and being scrolled
                for pid in _chromium_pids(proc.pid):
                    try:
                        os.kill(pid, 9)
                        killed.append(pid)
                    except ProcessLookupError:
                        pass
            time.sleep(0.1)
        finish(proc)
    assert killed, "Chromium never started"
    conn = connect(db_dsn)
    posts = {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
    failures = rows(conn, "SELECT kind, url, reason FROM crawl_failures")
    conn.close()
    print(
        f"Chromium killed ({len(killed)} processes): {len(posts)}/{len(seo)} posts, "
        f"failures recorded: {failures}"
    )
    # The server HTML's first batch is never lost; the rest arrives if the
    # browser came back in time, otherwise the failure is on record.
    assert len(posts) >= BATCH and posts <= set(seo)
    assert len(posts) == len(seo) or failures


def test_no_secret_in_the_crawl_log(db_dsn: str) -> None:
    if not os.environ.get("DATABASE_URL"):
        pytest.skip("needs a server that accepts a password in the DSN (DATABASE_URL, trust auth)")
    from psycopg2.extensions import parse_dsn

    parts = parse_dsn(db_dsn)
    if parts.get("host", "").startswith("/"):
        pytest.skip("socket connection")
    secret = "Sup3r-S3cret-Passw0rd"
    url = f"postgresql://{parts.get('user', 'postgres')}:{secret}@{parts['host']}:{parts.get('port', 5432)}/{parts['dbname']}"
    try:
        connect(url).close()
    except Exception:
        pytest.skip("the server checks passwords")
    with SimServer(seed=6, size=3) as sim:
        manifest = sim.manifest()
        err = finish(crawl(sim, url, whole_range(manifest), LOG_LEVEL="DEBUG"))
    assert "storing links in" in err
    assert secret not in err
