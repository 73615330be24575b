"""No console into the crawler unless asked, no secret in its log, owner-only files."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from harvest.sim.server import Faults, SimServer
from tests.sim.crawl import finish, start_crawl

ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_no_telnet_console_and_no_password_in_the_log(db_dsn: str, tmp_path: Path) -> None:
    log_file = tmp_path / "crawl.log"
    # slow pages keep the crawl running while the ports are looked at
    with SimServer(seed=1, size=4, faults=Faults(rate=1.0, kinds=("slow",), slow_seconds=2)) as sim:
        url = sim.manifest()["posts"][sorted(sim.manifest()["posts"])[0]]["url"]
        proc = start_crawl(
            sim.url, db_dsn, [f"urls={url}"], {"HARVEST_BROWSER": "0", "LOG_FILE": str(log_file)}
        )
        import time

        time.sleep(1.5)
        telnet_open = any(_listening(p) for p in range(6023, 6074))
        finish(proc)
    assert not telnet_open
    text = log_file.read_text()
    assert "Telnet Password" not in text and "Telnet console listening" not in text
    assert "Remote control HTTP server" not in text
    # the log is the operator's alone: it holds URLs and page text
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


@pytest.mark.slow
def test_a_telnet_console_asked_for_keeps_its_password_out_of_the_log(
    db_dsn: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with SimServer(seed=1, size=4) as sim:
        url = sim.manifest()["posts"][sorted(sim.manifest()["posts"])[0]]["url"]
        err = finish(
            start_crawl(
                sim.url,
                db_dsn,
                [f"urls={url}"],
                {"HARVEST_BROWSER": "0", "TELNETCONSOLE_ENABLED": "1"},
                env={"HOME": str(home), "XDG_DATA_HOME": str(home / "data")},
            )
        )
    password_file = home / "data" / "harvest" / "telnet-password"
    password = password_file.read_text().strip()
    assert len(password) == 32 and password not in err
    assert "Telnet Password" not in err
    assert f"the telnet console's password is in {password_file}" in err
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


def test_kept_pages_are_owner_only(tmp_path: Path) -> None:
    from harvest.crawl.unparsed import UnparsedStore

    store = UnparsedStore(tmp_path / "kept")
    path = store.save("https://medium.com/x", b"<html>", "test")
    assert stat.S_IMODE((tmp_path / "kept").stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_scrapy_crawl_sets_an_owner_only_umask() -> None:
    code = (
        "import os, sys; sys.argv = ['scrapy', 'crawl']; "
        "from harvest.crawl.commands.crawl import Command; c = Command(); "
        "import argparse\n"
        "try:\n    c.run([], argparse.Namespace(spargs={}))\n"
        "except Exception: pass\n"
        "print(oct(os.umask(0)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("0o77")
    assert os.umask(0o022) is not None  # this process is untouched
