"""A run is alive while its process holds the run's lock; a dead one is shown died by
readers at once and marked died for good by the next crawl (real PostgreSQL)."""

from __future__ import annotations

import json

from harvest.db.connection import connect
from harvest.db.queries import crawl_report, stats
from harvest.db.store import hold_run, mark_dead_runs, record_progress, start_run
from tests.pg import rows


def _status(dsn: str, run_id: int) -> tuple[str, str]:
    conn = connect(dsn)
    try:
        info, _ = crawl_report(conn, run_id)
        listed = {r["run_id"]: r["status"] for r in stats(conn)["runs"]}
    finally:
        conn.close()
    assert info is not None
    assert listed[run_id] == info["status"]
    return info["status"], info["reason"] or ""


def test_a_run_is_alive_while_its_connection_is(db_dsn: str) -> None:
    holder = connect(db_dsn)
    run_id = start_run(holder, "medium", {})
    record_progress(holder, run_id, {"harvest/db/pages": 7})
    assert _status(db_dsn, run_id) == ("running", "")
    other = connect(db_dsn)
    assert mark_dead_runs(other) == []  # alive: not marked
    holder.close()  # the process dies: its connection, and the lock, go with it
    status, reason = _status(db_dsn, run_id)
    assert status == "died" and "last progress at" in reason
    # readers did not write: the row still says running until a crawl marks it
    assert rows(other, "SELECT status FROM crawl_runs WHERE run_id = %s", (run_id,)) == [
        ("running",)
    ]
    assert mark_dead_runs(other) == [run_id]
    ((status, counts, reason),) = rows(
        other, "SELECT status, counts, reason FROM crawl_runs WHERE run_id = %s", (run_id,)
    )
    counts = counts if isinstance(counts, dict) else json.loads(counts)
    assert status == "died" and counts["harvest/db/pages"] == 7  # how far it got
    assert "died" in reason
    # a crawl whose connection was lost, not its process, holds its run again
    again = connect(db_dsn)
    hold_run(again, run_id)
    assert _status(db_dsn, run_id) == ("running", "")
    again.close()
    other.close()


def test_two_runs_are_told_apart(db_dsn: str) -> None:
    a, b = connect(db_dsn), connect(db_dsn)
    run_a, run_b = start_run(a, "medium", {}), start_run(b, "medium", {})
    a.close()
    assert _status(db_dsn, run_a)[0] == "died"
    assert _status(db_dsn, run_b)[0] == "running"
    b.close()
