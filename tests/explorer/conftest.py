"""A harvest to explore: months of crawls written by the store, one hostile post,
the read-only role, and ``harvest serve`` on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from harvest.db.connection import connect
from harvest.db.roles import grant_readonly
from harvest.db.store import write_batch
from tests.factories import T0, make_link, make_page, months_world
from tests.pg import Server

BIN = Path(sys.executable).parent
HOSTILE_ANCHOR = '<img src=x onerror="document.title=1">'


@dataclass
class Served:
    url: str
    dsn: str
    process: subprocess.Popen[str]


def build_harvest(dsn: str) -> None:
    conn = connect(dsn)
    try:
        months_world(conn, 11, posts=60)
        # a post that says hostile things in its links
        hostile = [
            make_link("https://github.com/hostile", 0, text=HOSTILE_ANCHOR),
            make_link("https://evil.example/x", 1, text="<script>document.title=2</script>"),
        ]
        write_batch(conn, [make_page("0fadedbeef01", hostile, T0 + timedelta(days=3))])
        # The role is the server's, not the database's: workers sharing one
        # server (DATABASE_URL) take turns granting it.
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(31031)")
        try:
            grant_readonly(conn, "harvest_reader")
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(31031)")
            conn.commit()
    finally:
        conn.close()


def start(dsn: str, *args: str, env: dict[str, str] | None = None) -> Served:
    env = {**os.environ, "DATABASE_URL": dsn, **(env or {})}
    env.pop("HARVEST_PGDATA", None)
    process = subprocess.Popen(
        [str(BIN / "harvest"), "serve", "--port", "0", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"on (http://\S+?/)", line)
    if found is None:
        process.kill()
        said = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"harvest serve did not start: {line}{said}")
    url = found.group(1).replace("localhost", "127.0.0.1")
    return Served(url, dsn, process)


def stop(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        served.process.kill()


@pytest.fixture(scope="module")
def harvested(pg_server: Server) -> Iterator[str]:
    name = f"harvest_explore_{os.getpid()}_{random.randrange(10**6)}"
    dsn = pg_server.create(name, pg_server.template)
    build_harvest(dsn)
    yield dsn
    pg_server.drop(name)


@pytest.fixture(scope="module")
def served(harvested: str) -> Iterator[Served]:
    running = start(harvested)
    time.sleep(0.1)
    yield running
    stop(running)
