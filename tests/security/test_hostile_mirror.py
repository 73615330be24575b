"""A hostile mirror: its pages attack the crawler's browser, its redirects point at
other hosts and ports, its listings name post-like URLs on them. Not one request
may reach any host but the mirror (real Chromium, real PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from harvest.sim.server import Canary, SimServer
from tests.sim.crawl import crawl_report, finish, start_crawl

pytestmark = pytest.mark.slow


def test_no_request_reaches_another_host_or_port(db_dsn: str) -> None:
    with Canary() as canary, SimServer(seed=1, size=24) as sim:
        sim.canary = canary.url
        manifest = sim.manifest()
        seo = manifest["tags"]["seo"]
        moved = next(
            p for p in seo if manifest["posts"][p]["url"].startswith("https://medium.com/")
        )
        path = "/" + manifest["posts"][moved]["url"].split("/", 3)[3]
        # one article redirects to the canary, as if to scrapyd's API on this machine
        sim.redirects[path] = f"{canary.url}/addversion.json"
        err = finish(
            start_crawl(
                sim.url,
                db_dsn,
                ["tags=seo"],
                {"HARVEST_SCROLL_PAUSE_MS": "300", "HARVEST_SCROLL_WAIT_MS": "1500"},
            ),
            status=3,  # the redirected article was not harvested, and says so
        )
        hits = list(canary.hits)
    assert hits == [], hits
    # the browser did meet the attacks, and aborted them
    assert "'harvest/browser/aborted/offsite'" in err
    assert "'harvest/browser/aborted/websocket'" in err or "websocket" not in err
    report = crawl_report(db_dsn)
    failed = {f["url"]: f for f in report["failures"]}
    assert failed[manifest["posts"][moved]["url"]]["reason"].startswith(
        f"redirected to {canary.url}/addversion.json"
    )
    # the listing's trap cards made neither posts nor fetches
    assert "trap-aaaaaaaaaaaa" not in err.replace("'", "")


def test_a_host_that_trickles_bytes_is_given_up_at_the_download_timeout(db_dsn: str) -> None:
    from harvest.sim.server import Faults

    # Every article arrives a byte every 0.2 s: it would take hours to finish.
    with SimServer(seed=1, size=6, faults=Faults(trickle=r"-[0-9a-f]{12}$")) as sim:
        manifest = sim.manifest()
        post = sorted(manifest["posts"])[0]
        started = time.monotonic()
        err = finish(
            start_crawl(
                sim.url,
                db_dsn,
                [f"urls={manifest['posts'][post]['url']}"],
                {"DOWNLOAD_TIMEOUT": "2", "RETRY_TIMES": "1", "HARVEST_BROWSER": "0"},
            ),
            timeout=120,
            status=3,
        )
        took = time.monotonic() - started
    # two tries of two seconds each, and the process's own start and end
    assert took < 40, took
    report = crawl_report(db_dsn)
    (failed,) = report["failures"]
    assert "TimeoutError" in failed["reason"] or "timed out" in failed["reason"].lower(), failed
    assert "crawl finished with failures (exit status 3)" in err
