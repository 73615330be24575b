"""A crawl killed with SIGKILL at any moment, then run again with the same command,
ends with exactly the simulator's posts stored, and says "finished" (exit 0) only then.

Scrapy's JOBDIR keeps a seen-set that names requests as they are scheduled, so a
crawl that died used to resume with every post it had found and not fetched
dropped as "seen" (harvest.crawl.resume). The kills land at moments picked by
what the crawl has done: a walk's first page recorded and nothing stored yet,
a third of the posts stored with a store batch pending, and twice in a row.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harvest.db.connection import connect
from harvest.db.queries import crawl_report
from harvest.sim.server import Faults, SimServer
from tests.pg import rows
from tests.sim.crawl import finish, start_crawl, whole_range

pytestmark = [pytest.mark.faults, pytest.mark.slow]
TAGS = ("ai", "design", "travel")


def _stored(dsn: str) -> set[str]:
    conn = connect(dsn)
    try:
        return {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
    finally:
        conn.close()


def _kill_when(
    proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the crawl ended before the kill: {proc.stderr}"
        assert time.monotonic() < deadline, "the moment to kill never came"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def _walk_lines(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines())
    except FileNotFoundError:
        return 0


def _tagged(manifest: dict[str, Any]) -> set[str]:
    return {p for p, v in manifest["posts"].items() if set(v["tags"]) & set(TAGS)}


def _followed(manifest: dict[str, Any]) -> set[str]:
    tagged = _tagged(manifest)
    authors = {manifest["posts"][p]["author"] for p in tagged}
    return tagged | {p for p, v in manifest["posts"].items() if v["author"] in authors}


CASES: dict[str, tuple[list[str], Callable[[dict[str, Any]], set[str]]]] = {
    "walks": ([f"tags={','.join(TAGS)}", "history=all"], _tagged),
    "walks-follow-authors": (
        [f"tags={','.join(TAGS)}", "history=all", "follow=authors", "depth=1"],
        _followed,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("moment", ["walk-recorded", "third-stored", "twice"])
def test_a_crawl_killed_at_any_moment_resumes_to_the_last_post(
    db_dsn: str, tmp_path: Path, case: str, moment: str
) -> None:
    args, expected = CASES[case]
    job = tmp_path / "job"
    settings = {
        "JOBDIR": str(job),
        "HARVEST_BROWSER": "0",
        # batches wait: a kill finds items scraped and not yet stored
        "HARVEST_DB_FLUSH_INTERVAL": "1",
    }
    # every article is a little slow, so that a kill finds work in every state
    faults = Faults(rate=1.0, kinds=("slow",), slow_seconds=0.2, seed=1)
    with SimServer(seed=3, size=600, faults=faults) as sim:
        manifest = sim.manifest()
        want = expected(manifest)
        assert len(want) > 100
        first = start_crawl(sim.url, db_dsn, args, settings)
        walks = job / "harvest-walks.jsonl"
        if moment == "walk-recorded":
            _kill_when(first, lambda: _walk_lines(walks) >= 1)
        else:
            _kill_when(first, lambda: len(_stored(db_dsn)) >= len(want) // 3)
        # readers see the dead run as dead at once (nothing wrote that yet)
        conn = connect(db_dsn)
        try:
            info, _ = crawl_report(conn, "last")
        finally:
            conn.close()
        assert info is not None and info["status"] == "died", info
        if moment == "twice":
            # killed again as soon as the resumed crawl stores anything
            so_far = len(_stored(db_dsn))
            again = start_crawl(sim.url, db_dsn, args, settings)
            _kill_when(again, lambda: len(_stored(db_dsn)) > so_far)
        before = len(_stored(db_dsn))
        err = finish(start_crawl(sim.url, db_dsn, args, settings), timeout=300)
    stored = _stored(db_dsn)
    assert stored >= want, (len(want - stored), sorted(want - stored)[:5], err[-3000:])
    conn = connect(db_dsn)
    try:
        statuses = [r[0] for r in rows(conn, "SELECT status FROM crawl_runs ORDER BY run_id")]
    finally:
        conn.close()
    # the dead runs were marked for good by the crawl that resumed them
    assert statuses == ["died"] * (len(statuses) - 1) + ["finished"], statuses
    assert before < len(want), "the kill came after everything was stored"
    assert "the last crawl of" in err and "died" in err
    assert "crawl finished (exit status 0)" in err
    print(f"{case}/{moment}: {before} stored before the last run, {len(stored)}/{len(want)} after")


def test_the_summary_is_the_last_thing_a_default_crawl_prints(db_dsn: str) -> None:
    with SimServer(seed=3, size=30) as sim:
        manifest = sim.manifest()
        # at INFO, the project's default log level (harvest/settings.py)
        proc = start_crawl(sim.url, db_dsn, [whole_range(manifest)], {"HARVEST_BROWSER": "0"})
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    lines = err.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("crawl finished"))
    summary = lines[start:]
    # Scrapy's stats dump and closing lines came before it; after it, nothing
    assert "Dumping Scrapy stats" in err[: err.index("crawl finished")]
    assert summary[-1].startswith("  next: harvest crawl-report "), summary
    assert all(line.startswith("  ") for line in summary[1:]), summary


@pytest.mark.parametrize("stop", ["SIGKILL", "Ctrl-C"])
def test_a_stopped_sitemap_crawl_fetches_what_its_listings_named(
    db_dsn: str, tmp_path: Path, stop: str
) -> None:
    settings = {"JOBDIR": str(tmp_path / "job"), "HARVEST_BROWSER": "0"}
    faults = Faults(rate=1.0, kinds=("slow",), slow_seconds=0.05, seed=1)
    with SimServer(seed=3, size=300, faults=faults) as sim:
        manifest = sim.manifest()
        want = set(manifest["posts"])
        args = [whole_range(manifest)]
        first = start_crawl(sim.url, db_dsn, args, settings)
        deadline = time.monotonic() + 120
        while len(_stored(db_dsn)) < len(want) // 3:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        # SIGKILL: a death. Ctrl-C: Scrapy closes and keeps its queue.
        first.send_signal(signal.SIGKILL if stop == "SIGKILL" else signal.SIGINT)
        _, stopped = first.communicate(timeout=120)
        before = len(_stored(db_dsn))
        err = finish(start_crawl(sim.url, db_dsn, args, settings), timeout=300)
    assert _stored(db_dsn) == want
    assert before < len(want)
    if stop == "SIGKILL":
        assert "'harvest/posts/stored_before_resume'" in err
        return
    # the summary said what happened and how to go on, last; Scrapy's own resume held
    tail = stopped.rstrip().splitlines()
    assert tail[-1].startswith("  resume: scrapy crawl medium -a sitemap="), tail[-12:]
    assert any("interrupted" in line for line in tail[-12:]), tail[-12:]
    assert not (tmp_path / "job" / "harvest-running.json").exists()
    assert "died" not in err
