"""Honest crawls against a hostile Medium: real Scrapy, real Chromium, real PostgreSQL.

Each crawl is `scrapy crawl medium` in its own process against the simulator,
and is judged by what a cron job or scrapyd sees: its exit status, its log,
its run row and `harvest crawl-report`.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harvest.db.connection import connect
from harvest.sim.server import DNS_FAIL_URL, Faults, SimServer, refused_url
from tests.pg import rows
from tests.sim.crawl import crawl_report, finish, manifest_links, start_crawl, stored_links

# Every test here runs a crawl (or scrapyd) in a process of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def crawl(
    base_url: str,
    dsn: str,
    *args: str,
    status: int = 0,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    **settings: Any,
) -> tuple[str, float]:
    """Run a crawl to its end; returns its log and how long the process took."""
    started = time.monotonic()
    err = finish(start_crawl(base_url, dsn, args, settings, env), timeout=timeout, status=status)
    return err, time.monotonic() - started


def posts(dsn: str) -> set[str]:
    conn = connect(dsn)
    found = {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
    conn.close()
    return found


def run_row(dsn: str) -> tuple[str, str]:
    conn = connect(dsn)
    found = rows(conn, "SELECT status, reason FROM crawl_runs ORDER BY run_id DESC LIMIT 1")[0]
    conn.close()
    return found[0], found[1]


def tagged(manifest: dict[str, Any], tags: list[str] | None = None) -> set[str]:
    return {pid for tag in tags or manifest["tags"] for pid in manifest["tags"][tag]}


def urls_file(tmp_path: Path, manifest: dict[str, Any], n: int) -> tuple[Path, list[str]]:
    ids = sorted(manifest["posts"])[:n]
    path = tmp_path / "urls.txt"
    path.write_text("\n".join(manifest["posts"][pid]["url"] for pid in ids) + "\n")
    return path, ids


# -- the browser starts reliably ---------------------------------------------------------

COMBINATIONS = list(itertools.product((1, 2, 4, 8, 16, 32), (False, True)))


@pytest.mark.parametrize("run", range(20))
def test_browser_start_at_any_concurrency(run: int, db_dsn: str) -> None:
    concurrency, throttle = COMBINATIONS[run % len(COMBINATIONS)]
    with SimServer(seed=3, size=48) as sim:
        manifest = sim.manifest()
        err, _ = crawl(
            sim.url,
            db_dsn,
            f"tags={','.join(manifest['tags'])}",
            CONCURRENT_REQUESTS=str(concurrency),
            AUTOTHROTTLE_ENABLED="1" if throttle else "0",
            AUTOTHROTTLE_START_DELAY="0.1",
            HARVEST_SCROLL_PAUSE_MS="100",
            HARVEST_SCROLL_WAIT_MS="1000",
        )
    # every tag listing was scrolled in the browser, none failed, one driver start
    assert "harvest/browser/errors" not in err
    assert "start() must be awaited" not in err
    assert err.count("starting the Playwright driver") == 1
    assert posts(db_dsn) == tagged(manifest)
    assert run_row(db_dsn)[0] == "finished"


def test_every_tag_of_a_300_post_simulator_at_once_with_project_defaults(db_dsn: str) -> None:
    with SimServer(seed=5, size=300) as sim:
        manifest = sim.manifest()
        crawl(
            sim.url,
            db_dsn,
            f"tags={','.join(manifest['tags'])}",
            AUTOTHROTTLE_ENABLED="1",  # the project's default
            timeout=600,
        )
    want = tagged(manifest)
    assert posts(db_dsn) == want
    conn = connect(db_dsn)
    links = set(stored_links(conn, live_only=True))
    conn.close()
    assert links == manifest_links(manifest, post_ids=want)


# -- rate limits and blocks ---------------------------------------------------------------


BURSTS = {
    # every article's first request is answered 429, Retry-After: 2
    "every page once": Faults(rate=1.0, kinds=("429",), retry_after=2),
    # Medium's rate limiter: past 5 requests a second, everything is answered 429
    # with Retry-After: 2 until those 2 s have passed
    "rate limiter": Faults(burst_limit=5, burst_window=1.0, burst_retry_after=2, burst_once=True),
}


@pytest.mark.parametrize("burst", list(BURSTS))
def test_a_429_burst_on_50_articles_costs_about_one_retry_after(
    burst: str, db_dsn: str, tmp_path: Path
) -> None:
    settings: dict[str, Any] = {"HARVEST_BROWSER": "0", "ROBOTSTXT_OBEY": "0"}
    with SimServer(seed=8, size=60) as sim:
        path, ids = urls_file(tmp_path, sim.manifest(), 50)
        _, quiet = crawl(sim.url, db_dsn, f"urls_file={path}", **settings)
    conn = connect(db_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("TRUNCATE links, posts, crawl_runs, crawl_failures CASCADE")
    conn.close()
    with SimServer(seed=8, size=60, faults=BURSTS[burst]) as sim:
        err, limited = crawl(sim.url, db_dsn, f"urls_file={path}", **settings)
        refused = sim.answered.get(429, 0)
    print(
        f"50 articles, {burst}: {quiet:.1f} s quiet, {limited:.1f} s with the 429 burst "
        f"(Retry-After 2 s, {refused} answered 429)"
    )
    assert refused >= (50 if burst == "every page once" else 1)
    assert posts(db_dsn) == set(ids)  # nothing lost
    assert run_row(db_dsn)[0] == "finished"
    # About one Retry-After in all: no request held a slot while it waited
    # (held, 50 pages 8 at a time would wait 2 s each, 12.5 s more). The 429s
    # are 50 requests more, which cost more on a loaded machine (CI: 14.5 s
    # quiet, 20.6 s limited), so the bound grows with the quiet run.
    assert limited > 2 and limited - quiet < 6 + quiet / 4, (quiet, limited)
    # one burst, one strike (on failure, the gate's lines say which came when)
    gate_lines = [line for line in err.splitlines() if "rate limited" in line or "paused" in line]
    assert err.count("asked to wait 2 s (rate limited)") == 1, gate_lines


def challenge_path(manifest: dict[str, Any], pid: str) -> str:
    url: str = manifest["posts"][pid]["url"]
    path = "/" + url.split("/", 3)[3]
    if not url.startswith("https://medium.com/"):
        path = "/_host/" + url.split("/")[2] + path
    return "^" + path + "$"


def test_a_challenged_article_is_blocked_with_its_url_and_the_run_has_failures(
    db_dsn: str, tmp_path: Path
) -> None:
    with SimServer(seed=1, size=24) as sim:
        manifest = sim.manifest()
        seo = manifest["tags"]["seo"]
        victim = next(
            pid for pid in seo if manifest["posts"][pid]["url"].startswith("https://medium.com/")
        )
        sim.faults.challenge = challenge_path(manifest, victim)
        err, _ = crawl(
            sim.url,
            db_dsn,
            "tags=seo",
            status=3,
            HARVEST_SCROLL_PAUSE_MS="150",
            HARVEST_SCROLL_WAIT_MS="1000",
            HARVEST_UNPARSED_DIR=str(tmp_path / "unparsed"),
        )
    assert posts(db_dsn) == set(seo) - {victim}
    assert run_row(db_dsn)[0] == "finished_with_failures"
    report = crawl_report(db_dsn)
    assert report["status"] == "finished_with_failures"
    blocked = [f for f in report["failures"] if f["kind"] == "blocked"]
    assert [f["url"] for f in blocked] == [manifest["posts"][victim]["url"]]
    assert "cf-mitigated: challenge" in blocked[0]["reason"]
    # never parsed, never kept as unparsed
    assert not any(f["kind"] == "unparsed" for f in report["failures"])
    assert not (tmp_path / "unparsed").exists()
    assert "crawl finished with failures (exit status 3)" in err
    # Pages add up as posts do: the listing and every post sent, each ended once.
    counts = report["counts"]
    ends = {e: counts.get(f"harvest/pages/ended/{e}", 0) for e in ("harvested", "blocked")}
    assert ends["blocked"] == 1
    assert counts["harvest/pages/found"] == sum(
        counts.get(k, 0) for k in counts if k.startswith("harvest/pages/ended/")
    )
    assert ends["harvested"] >= len(seo) - 1 + 1  # the posts stored and the listing


def test_an_always_challenging_medium_ends_blocked_in_under_a_minute(
    db_dsn: str, tmp_path: Path
) -> None:
    with SimServer(seed=8, size=60, faults=Faults(challenge=".")) as sim:
        path, _ = urls_file(tmp_path, sim.manifest(), 50)
        err, took = crawl(
            sim.url,
            db_dsn,
            f"urls_file={path}",
            "tags=seo,marketing",
            status=4,
            HARVEST_BROWSER="0",
            AUTOTHROTTLE_ENABLED="1",
        )
        requested = sim.answered.get(403, 0)
    print(f"always challenged: ended blocked in {took:.1f} s after {requested} challenges")
    assert took < 60
    assert requested < 52  # the breaker gave up: the rest were not requested
    assert run_row(db_dsn)[0] == "blocked"
    report = crawl_report(db_dsn)
    assert {f["kind"] for f in report["failures"]} == {"blocked"}
    assert len(report["failures"]) == 52  # every page is accounted for, with its URL
    assert "the crawl gave up on" in err
    assert "crawl blocked (exit status 4)" in err


def test_challenges_after_a_few_rapid_requests_pause_then_stop_the_crawl(
    db_dsn: str, tmp_path: Path
) -> None:
    with SimServer(seed=8, size=60, faults=Faults(challenge_after=6)) as sim:
        path, ids = urls_file(tmp_path, sim.manifest(), 40)
        err, _ = crawl(
            sim.url,
            db_dsn,
            f"urls_file={path}",
            status=4,
            HARVEST_BROWSER="0",
            CONCURRENT_REQUESTS="2",
            HARVEST_BREAKER_COOLDOWN="1",
            HARVEST_BREAKER_TRIPS="1",
        )
    stored = posts(db_dsn)
    assert 0 < len(stored) < len(ids)
    report = crawl_report(db_dsn)
    assert report["status"] == "blocked"
    # every page is stored or listed as blocked: nothing lost silently
    blocked = {f["url"] for f in report["failures"] if f["kind"] == "blocked"}
    assert len(stored) + len(blocked) == len(ids)
    assert "pausing it for 1 s" in err and "the crawl gave up on" in err


# -- unreachable Medium, unreachable database, wrong input ----------------------------------


@pytest.mark.parametrize("base", ["refused", "dns"])
def test_offline_ends_non_zero_in_seconds_with_one_line_and_no_traceback(
    base: str, db_dsn: str
) -> None:
    url = refused_url() if base == "refused" else DNS_FAIL_URL
    err, took = crawl(url, db_dsn, "tags=seo", "max_posts=5", status=1)
    assert took < 30, took
    assert err.count("is unreachable") == 1
    assert "crawl failed (exit status 1): nothing was reachable" in err
    assert run_row(db_dsn) == ("failed", "nothing was reachable: every page failed to connect")


def test_database_down_at_start_fails_at_once_with_one_line() -> None:
    with SimServer(seed=1, size=4) as sim:
        dead = refused_url().replace("http://", "postgresql://postgres@") + "/harvest"
        err, took = crawl(sim.url, dead, "tags=seo", status=1)
    assert took < 20
    assert err.count("cannot reach the database") == 1
    assert "crawl failed (exit status 1): the database was unreachable" in err


@pytest.mark.parametrize(
    ("args", "settings", "message"),
    [
        (["tags=seo", "max_posts=many"], {}, "-a max_posts='many': must be a whole number"),
        (["tags=seo"], {"HARVEST_DB_WRITERS": "0"}, "HARVEST_DB_WRITERS must be at least 1"),
        (["tags=seo"], {"MEDIUM_BASE_URL": "ftp://x"}, "MEDIUM_BASE_URL must be an http(s) URL"),
    ],
)
def test_a_wrong_argument_or_setting_is_one_line_and_exit_2(
    args: list[str], settings: dict[str, str], message: str
) -> None:
    cmd = [sys.executable, "-m", "scrapy", "crawl", "medium", "-s", "HARVEST_DB_ENABLED=0"]
    for arg in args:
        cmd += ["-a", arg]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert (
        f"harvest: medium spider: {message}" in proc.stderr or f"harvest: {message}" in proc.stderr
    )
    assert "Traceback" not in proc.stderr
    assert "never retrieved" not in proc.stderr


# -- settings from the environment and -s, and -a browser=0 ---------------------------------


@pytest.mark.parametrize("how", ["env HARVEST_BROWSER=0", "-s HARVEST_BROWSER=0", "-a browser=0"])
def test_the_browser_can_be_turned_off_every_way_the_readme_says(how: str, db_dsn: str) -> None:
    env: dict[str, str] = {}
    settings: dict[str, Any] = {}
    args = ["tags=seo"]
    if how.startswith("env"):
        env["HARVEST_BROWSER"] = "0"
    elif how.startswith("-s"):
        settings["HARVEST_BROWSER"] = "0"
    else:
        args.append("browser=0")
    with SimServer(seed=1, size=24) as sim:
        manifest = sim.manifest()
        err, _ = crawl(sim.url, db_dsn, *args, env=env, **settings)
    assert "starting the Playwright driver" not in err
    stored = posts(db_dsn)
    assert stored and stored < set(manifest["tags"]["seo"])  # the server-rendered batch only


def test_parse_workers_from_the_environment(db_dsn: str) -> None:
    # one slow page, so that the crawl lasts long enough for a progress line
    with SimServer(seed=1, size=6, faults=Faults(rate=1.0, kinds=("slow",), slow_seconds=1)) as sim:
        manifest = sim.manifest()
        first = sorted(manifest["posts"])[0]
        url = manifest["posts"][first]["url"]
        err, _ = crawl(
            sim.url,
            db_dsn,
            f"urls={url}",
            env={"HARVEST_PARSE_WORKERS": "0", "HARVEST_PROGRESS_INTERVAL": "0.2"},
            HARVEST_BROWSER="0",
        )
    assert posts(db_dsn) == {first}
    assert "parsing pages in the crawler itself" in err
    assert "progress:" in err  # HARVEST_PROGRESS_INTERVAL came from the environment too
