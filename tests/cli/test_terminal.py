"""Tables as a person sees them, in a real pseudo-terminal of 80 and 200
columns, and whole when the output is a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvest.db.connection import connect
from tests.factories import random_world
from tests.terminal import run_in_terminal

BIN = Path(sys.executable).parent
LONG_FAILURE = "https://medium.com/@blocked/always-challenged-" + "x" * 90 + "-0123456789ab"


@pytest.fixture(scope="module")
def harvested(pg_server: object) -> Iterator[str]:
    from tests.pg import Server

    assert isinstance(pg_server, Server)
    name = f"harvest_terminal_{os.getpid()}"
    dsn = pg_server.create(name, pg_server.template)
    conn = connect(dsn)
    random_world(conn, 5, posts=30)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO crawl_runs (spider, status, reason) VALUES ('medium', 'blocked', "
            "'challenged') RETURNING run_id"
        )
        run_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO crawl_failures (run_id, url, kind, reason, at) "
            "VALUES (%s, %s, 'failed', 'blocked: a challenge page', now())",
            (run_id, LONG_FAILURE),
        )
    conn.close()
    yield dsn
    pg_server.drop(name)


def in_terminal(dsn: str, columns: int, *argv: str) -> list[str]:
    """What ``harvest argv`` shows in a terminal ``columns`` wide (stdout only)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["DATABASE_URL"] = dsn
    status, shown = run_in_terminal([str(BIN / "harvest"), *argv], columns, log=False, env=env)
    assert status == 0, shown
    return shown.replace("\r\n", "\n").splitlines()


def table_rows(lines: list[str]) -> list[str]:
    """The header, rule and rows of the (first) table."""
    end = next(i for i, line in enumerate(lines) if line.startswith("("))
    return lines[:end]


def test_backlinks_fit_80_columns_with_urls_shortened_in_the_middle(harvested: str) -> None:
    lines = table_rows(in_terminal(harvested, 80, "backlinks", "github.com", "--limit", "10"))
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].split()[:2] == ["target_url", "post_url"] and "reason" in lines[0]
    urls = [line.split()[0] for line in lines[2:]]
    assert urls and all(u.startswith("https://") for u in urls)
    assert all("github.com" in u for u in urls)  # the host is kept, not cut to https://b…


def test_at_200_columns_nothing_that_fits_is_cut(harvested: str) -> None:
    lines = table_rows(in_terminal(harvested, 200, "backlinks", "github.com", "--limit", "10"))
    assert all(len(line) <= 200 for line in lines)
    assert not any("…" in line for line in lines)
    assert any(len(line.split()[1]) > 30 for line in lines[2:])  # post URLs whole


def test_top_domains_keep_the_domain_whole(harvested: str) -> None:
    lines = table_rows(in_terminal(harvested, 80, "top-domains"))
    domains = [line.split()[0] for line in lines[2:]]
    assert "github.com" in domains and "…" not in "".join(domains)
    assert all(len(line) <= 80 for line in lines)


def test_crawl_report_shows_the_failed_url_whole_in_a_terminal_and_a_pipe(harvested: str) -> None:
    shown = "\n".join(in_terminal(harvested, 80, "crawl-report", "last"))
    assert LONG_FAILURE in shown
    piped = subprocess.run(
        [str(BIN / "harvest"), "crawl-report", "last"],
        env={**os.environ, "DATABASE_URL": harvested, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert LONG_FAILURE in piped.stdout and "…" not in piped.stdout
