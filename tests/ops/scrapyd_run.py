"""scrapyd started as deploy/README says, for the tests that need a real one."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
Creds = tuple[str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, auth: Creds | None = None) -> Any:
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def sourced(path: Path) -> dict[str, str]:
    """The credentials file as ``set -a; . FILE; set +a`` puts it in a shell's environment."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return dict(pairs)


@pytest.fixture
def scrapyd(tmp_path: Path, db_dsn: str) -> Iterator[tuple[str, dict[str, str], Creds]]:
    """scrapyd started as deploy/README says, with the credentials harvest makes at set-up.

    Yields its URL, an environment with no SCRAPYD_USERNAME/PASSWORD (harvest's
    commands find the credentials file) and the generated credentials.
    """
    port = free_port()
    conf = tmp_path / "scrapyd.conf"
    conf.write_text(
        (ROOT / "deploy" / "scrapyd.conf")
        .read_text()
        .replace("http_port         = 6800", f"http_port         = {port}")
    )
    url = f"http://127.0.0.1:{port}"
    creds_file = tmp_path / "config" / "scrapyd.env"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYD_")}
    env.update(HARVEST_SCRAPYD_CREDENTIALS=str(creds_file), SCRAPYD_URL=url, DATABASE_URL=db_dsn)
    made = subprocess.run(
        [str(BIN / "harvest"), "scrapyd", "--credentials"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert made.stdout.strip() == str(creds_file)
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    generated = sourced(creds_file)
    creds = (generated["SCRAPYD_USERNAME"], generated["SCRAPYD_PASSWORD"])
    assert len(creds[1]) >= 32
    log_file = (tmp_path / "scrapyd.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "harvest"), "scrapyd", "--config", str(conf), "--dir", str(tmp_path / "run")],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            get(f"{url}/daemonstatus.json", creds)
            break
        except (urllib.error.URLError, ConnectionError):
            assert proc.poll() is None, "scrapyd exited"
            assert time.monotonic() < deadline, "scrapyd did not come up"
            time.sleep(0.3)
    yield url, env, creds
    proc.terminate()
    proc.wait(timeout=20)
    log_file.close()
