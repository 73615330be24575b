"""A real scrapyd with auth: deploy the egg with scrapyd-client, schedule a crawl, check the rows."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harvest.db.connection import connect
from harvest.ops.schedule import Scrapyd
from harvest.sim.server import SimServer, refused_url
from tests.ops.scrapyd_run import Creds, get, sourced
from tests.pg import rows
from tests.sim.crawl import manifest_links, stored_links

# Every test here runs a crawl (or scrapyd) in a process of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USER, PASSWORD = "harvest-ci", "s3cret-for-the-test"


def test_unauthenticated_requests_are_refused(
    scrapyd: tuple[str, dict[str, str], Creds],
) -> None:
    url, _, creds = scrapyd
    for endpoint in ("daemonstatus.json", "listprojects.json", "schedule.json", "addversion.json"):
        for auth in (None, (creds[0], "wrong"), (USER, PASSWORD)):
            with pytest.raises(urllib.error.HTTPError) as info:
                get(f"{url}/{endpoint}", auth=auth)
            assert info.value.code == 401


def test_deploy_schedule_and_crawl_into_postgres(
    scrapyd: tuple[str, dict[str, str], Creds], db_dsn: str, tmp_path: Path
) -> None:
    url, env, creds = scrapyd
    # Build the egg from a clean copy of the project, as a deploy from a checkout would.
    src = tmp_path / "src"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    # scrapyd-deploy reads the generated credentials from its environment, as
    # deploy/README has it: set -a; . "$(harvest scrapyd --credentials)"; set +a
    deploy = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "--version", "r1"],
        check=False,
        cwd=src,
        env={**env, **sourced(Path(env["HARVEST_SCRAPYD_CREDENTIALS"]))},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert get(f"{url}/listspiders.json?project=harvest", creds)["spiders"] == ["medium"]

    with SimServer(seed=4, size=12) as sim:
        manifest = sim.manifest()
        days = sorted(p["published_at"][:10] for p in manifest["posts"].values())
        schedule = tmp_path / "schedule.toml"
        schedule.write_text(
            f"""
[scrapyd]
url = "${{SCRAPYD_URL}}"
project = "harvest"

[[job]]
name = "sim-sitemap"
every = "1d"
args = {{ sitemap = "{days[0]}..{days[-1]}" }}
settings = {{ MEDIUM_BASE_URL = "{sim.url}", HARVEST_BROWSER = "0", AUTOTHROTTLE_ENABLED = "0" }}
"""
        )
        state = tmp_path / "state.json"
        cmd = [str(BIN / "harvest"), "schedule", "--file", str(schedule), "--state", str(state)]
        first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("sim-sitemap\tposted\tsim-sitemap--")
        # posted again at once: still running or not due, never stacked
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        assert second.returncode == 0, second.stderr
        assert second.stdout.split("\t")[1] in ("skipped-running", "not-due")

        deadline = time.monotonic() + 180
        while True:
            jobs = subprocess.run(
                [str(BIN / "harvest"), "jobs", "--format", "json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            listed = [json.loads(line) for line in jobs.splitlines()]
            if listed and all(j["status"] == "finished" for j in listed):
                break
            assert time.monotonic() < deadline, listed
            time.sleep(1)
    assert len(listed) == 1 and listed[0]["spider"] == "medium"
    # the job's own run row: its outcome, the exit status scrapyd saw, its log
    assert listed[0]["outcome"] == "finished" and listed[0]["exit_status"] == 0
    assert isinstance(listed[0]["run_id"], int)
    assert listed[0]["log"].startswith(url) and listed[0]["log"].endswith(".log")

    conn = connect(db_dsn)
    stored_posts = {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
    fields = ("target_url", "location", "nofollow")
    links = set(stored_links(conn, fields))
    runs = rows(conn, "SELECT spider, status FROM crawl_runs")
    conn.close()
    assert stored_posts == set(manifest["posts"])
    assert links == manifest_links(manifest, fields)
    assert runs == [("medium", "finished")]

    # A job that cannot reach Medium: scrapyd sees the crawl's own exit status,
    # and the run row says why.
    api = Scrapyd(url, *creds)
    job = api.schedule(
        "harvest",
        "medium",
        "offline",
        {"tags": "seo"},
        {"MEDIUM_BASE_URL": refused_url(), "HARVEST_BROWSER": "0"},
    )
    deadline = time.monotonic() + 120
    while not any(j["id"] == job for j in api.list_jobs("harvest")["finished"]):
        assert time.monotonic() < deadline, "the offline job did not finish"
        time.sleep(0.5)
    conn = connect(db_dsn)
    last = rows(conn, "SELECT status, reason FROM crawl_runs ORDER BY run_id DESC LIMIT 1")
    conn.close()
    assert last == [("failed", "nothing was reachable: every page failed to connect")]
    offline = next(
        json.loads(line)
        for line in subprocess.run(
            [str(BIN / "harvest"), "jobs", "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        if json.loads(line)["id"] == job
    )
    assert (offline["outcome"], offline["exit_status"]) == ("failed", 1)
    assert offline["reason"] == "nothing was reachable: every page failed to connect"
    log = (tmp_path / "scrapyd.log").read_text()
    assert "Process died: exitstatus=1" in log and "job='offline'" in log
    # scrapyd's job logs hold URLs and page text: the service user's alone
    job_logs = list((tmp_path / "run" / "logs").rglob("*.log"))
    assert job_logs and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in job_logs)


@pytest.mark.parametrize(
    ("bind", "no_auth", "ok", "why"),
    [
        ("0.0.0.0", True, False, "not loopback"),
        ("192.0.2.10", True, False, "not loopback"),
        ("0.0.0.0", False, True, ""),  # with the credentials made at set-up
        ("127.0.0.1", True, True, ""),  # no credentials, said explicitly
        ("::1", True, True, ""),
    ],
)
def test_scrapyd_refuses_to_listen_openly_without_auth(
    tmp_path: Path, bind: str, no_auth: bool, ok: bool, why: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYD_")}
    env["SCRAPYD_BIND_ADDRESS"] = bind
    env["HARVEST_SCRAPYD_CREDENTIALS"] = str(tmp_path / "creds.env")
    proc = subprocess.run(
        [
            str(BIN / "harvest"),
            "scrapyd",
            "--check",
            "--config",
            str(ROOT / "deploy/scrapyd.conf"),
            "--dir",
            str(tmp_path / "run"),
            *(["--no-auth"] if no_auth else []),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode == 0) is ok, proc.stderr
    if not ok:
        assert "refusing to start" in proc.stderr and why in proc.stderr
    assert (tmp_path / "creds.env").exists() is not no_auth


def test_credentials_in_the_config_file_are_refused(tmp_path: Path) -> None:
    conf = tmp_path / "scrapyd.conf"
    conf.write_text("[scrapyd]\nbind_address = 127.0.0.1\nusername = a\npassword = b\n")
    proc = subprocess.run(
        [str(BIN / "harvest"), "scrapyd", "--check", "--config", str(conf), "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "holds credentials" in proc.stderr


def test_a_tcp_listener_without_credentials_needs_the_flag(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYD_")}
    # a credentials file others may read is refused, not used
    creds = tmp_path / "creds.env"
    creds.write_text("SCRAPYD_USERNAME=a\nSCRAPYD_PASSWORD=b\n")
    creds.chmod(0o644)
    env["HARVEST_SCRAPYD_CREDENTIALS"] = str(creds)
    cmd = [
        str(BIN / "harvest"),
        "scrapyd",
        "--check",
        "--config",
        str(ROOT / "deploy/scrapyd.conf"),
    ]
    proc = subprocess.run(
        [*cmd, "--dir", str(tmp_path / "run")], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and "may be read by others" in proc.stderr, proc.stderr
    # another web root would drop the guard against web pages
    conf = tmp_path / "scrapyd.conf"
    conf.write_text("[scrapyd]\nwebroot = scrapyd.website.Root\n")
    creds.chmod(0o600)
    proc = subprocess.run(
        [str(BIN / "harvest"), "scrapyd", "--check", "--config", str(conf), "--dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "webroot" in proc.stderr, proc.stderr
