"""The README's main job: the demo crawls the simulator, checks itself and says what it lost."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harvest.db.connection import Embedded, connect
from harvest.sim.model import build_world
from harvest.sim.render import manifest as render_manifest
from tests.pg import rows

ROOT = Path(__file__).resolve().parents[2]
TAGS = ["seo", "programming"]

pytestmark = pytest.mark.slow


def run_demo(data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HARVEST_PGDATA")}
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "demo.py"), "--data", str(data), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_demo_stores_exactly_the_manifest_every_run(tmp_path: Path) -> None:
    # The simulator is deterministic: the demo's world, built here, is the truth.
    manifest: dict[str, Any] = render_manifest(build_world(7, 60))
    want_posts = {pid for tag in TAGS for pid in manifest["tags"][tag]}
    want_links = Counter(
        (pid, link["target_url"], link["location"])
        for pid in want_posts
        for link in manifest["posts"][pid]["links"]
    )
    for run in range(2):  # a second run recrawls the same posts: nothing changes
        proc = run_demo(tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "crawl finished (exit status 0)" in proc.stdout + proc.stderr
        assert (
            f"check: the database holds exactly the simulator's {len(want_posts)} posts and "
            f"{want_links.total()} links" in proc.stdout
        )
        assert "Traceback" not in proc.stdout + proc.stderr
        assert (tmp_path / "report.html").exists()
        # it says, in one line, how to reach its data
        assert (
            f"the demo's data stays in its own database: HARVEST_PGDATA={tmp_path / 'pgdata'} "
            in (proc.stdout)
        )
        # and checked here again, independently of the demo's own check
        embedded = Embedded(tmp_path / "pgdata")
        conn = connect(embedded.start())
        try:
            posts = {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
            links = Counter(
                rows(
                    conn,
                    "SELECT p.medium_id, l.target_url, l.location FROM links l "
                    "JOIN posts p USING (post_id) WHERE l.lost_at IS NULL",
                )
            )
            statuses = [r[0] for r in rows(conn, "SELECT status FROM crawl_runs ORDER BY run_id")]
        finally:
            conn.close()
            embedded.close()
        assert posts == want_posts, run
        assert links == want_links, run
        assert statuses == ["finished"] * (run + 1)


@pytest.mark.parametrize("what", ["listing", "article"])
def test_a_challenged_page_makes_the_demo_exit_non_zero_and_say_which(
    what: str, tmp_path: Path
) -> None:
    manifest: dict[str, Any] = render_manifest(build_world(7, 60))
    if what == "listing":
        pattern, url = "^/tag/seo$", "https://medium.com/tag/seo"
    else:
        pid = next(
            p
            for p in manifest["tags"]["programming"]
            if manifest["posts"][p]["url"].startswith("https://medium.com/")
        )
        url = manifest["posts"][pid]["url"]
        pattern = "^/" + url.split("/", 3)[3] + "$"
    proc = run_demo(tmp_path, "--challenge", pattern)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out[-3000:]
    assert "crawl finished with failures (exit status 3)" in out
    assert "the crawl did not harvest everything (exit status 3)" in out
    assert f"  blocked {url}: challenge" in out  # it names the page
    assert "Traceback" not in out
