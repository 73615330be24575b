"""The crawl's progress: drawn in place in a terminal, under the log, and written
into the log at the end; a log line each time anywhere else."""

from __future__ import annotations

import io
import logging
import os
import sys

import pytest

from harvest.crawl.progress import StatusLine
from harvest.sim.server import SimServer
from tests.sim.crawl import ROOT
from tests.terminal import run_in_terminal

CLEAR = "\r\x1b[K"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_record_clears_the_status_line_before_it_is_written() -> None:
    stream = Terminal()
    handler = logging.StreamHandler(stream)
    status = StatusLine(stream)
    handler.addFilter(status)
    logger = logging.getLogger("harvest.test.progress")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        status.show("progress: 10 pages fetched")
        logger.warning("a host slowed down")
        status.show("progress: 20 pages fetched")
        status.clear()
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == (
        f"{CLEAR}progress: 10 pages fetched{CLEAR}a host slowed down\n"
        f"{CLEAR}progress: 20 pages fetched{CLEAR}"
    )


def test_no_status_line_where_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert StatusLine.on_terminal() is None


@pytest.mark.slow
def test_a_crawl_in_a_terminal_draws_its_progress_in_place(db_dsn: str) -> None:
    with SimServer(seed=3, size=20) as sim:
        env = {**os.environ, "DATABASE_URL": db_dsn}
        env.pop("HARVEST_PGDATA", None)
        cmd = [sys.executable, "-m", "scrapy", "crawl", "medium", "-a", "tags=seo,python"]
        for key, value in {
            "MEDIUM_BASE_URL": sim.url,
            "AUTOTHROTTLE_ENABLED": "0",
            "HARVEST_BROWSER": "0",
            "HARVEST_PROGRESS_INTERVAL": "0.2",
            "DOWNLOAD_DELAY": "0.05",
            "LOG_LEVEL": "INFO",
        }.items():
            cmd += ["-s", f"{key}={value}"]
        status, shown = run_in_terminal(cmd, cwd=ROOT, env=env)
        assert status == 0, shown[-3000:]
    # drawn in place while it ran, then once into the log
    assert f"{CLEAR}progress: " in shown
    assert shown.count("[harvest.crawl.progress] INFO: progress: ") == 1
