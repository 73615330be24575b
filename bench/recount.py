"""What `harvest db check` and its `--repair` cost on an existing harvest
(bench/query.py --keep): time, and the temporary disk space they take at their
peak (the database's size, its sessions' temporary tables included, plus the
server's temporary files, polled every half second from a second connection).

The recount reads the links range by range (harvest.db.summaries.RANGE_LINKS
links a range); --per-range changes it. --rebuild also replaces every summary
by its recount (as --repair does), then checks again. --baseline first checks
the way it went before the domain pass read one spill of the facets; --jit
with the statements compiled (PostgreSQL's JIT).

    .venv/bin/python bench/recount.py URL [--per-range 2000000] [--rebuild] [--baseline] [--jit]
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harvest.db import summaries
from harvest.db.connection import connect

_SPACE = (
    "SELECT pg_database_size(current_database()) "
    "+ (SELECT coalesce(sum(size), 0) FROM pg_ls_tmpdir())"
)


class Peak:
    """The largest database-plus-temporary-files size seen while it runs."""

    def __init__(self, dsn: str) -> None:
        self.conn = connect(dsn)
        self.conn.autocommit = True
        self.base = self._size()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _size(self) -> int:
        with self.conn.cursor() as cur:
            cur.execute(_SPACE)
            return int(cur.fetchone()[0])

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, self._size())

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._size())
        self.conn.close()


def timed_check(
    conn: Any,
    args: argparse.Namespace,
    figures: dict[str, float],
    name: str,
    what: str,
    knob: str | None,
    value: Any,
) -> None:
    """A check, with ``summaries.<knob>`` set to ``value`` for its while; its
    seconds and temporary space go into ``figures`` under ``name``."""
    before = getattr(summaries, knob) if knob else None
    if knob:
        setattr(summaries, knob, value)
    try:
        with Peak(args.dsn) as peak:
            result = summaries.check(conn, per_range=args.per_range)
    finally:
        if knob:
            setattr(summaries, knob, before)
    figures[f"{name}_s"] = result.seconds
    figures[f"{name}_temp_bytes"] = peak.peak - peak.base
    print(
        f"{what}: {result.seconds:,.0f} s, {sum(result.differing.values())} rows differ, "
        f"temporary space at its peak {(peak.peak - peak.base) / 2**30:.2f} GiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--per-range", type=int, default=summaries.RANGE_LINKS)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--skip-check", action="store_true", help="rebuild without checking first")
    parser.add_argument(
        "--jit",
        action="store_true",
        help="first check with the recount's statements compiled (PostgreSQL's JIT), "
        "side by side with the check as it stands",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="first check as before the spill (each range of domains read from links), "
        "side by side with the check as it stands",
    )
    args = parser.parse_args()

    conn = connect(args.dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM links")
        links = int(cur.fetchone()[0])
    conn.commit()
    figures: dict[str, float] = {"links": links}
    for wanted, name, what, knob, value in (
        (args.jit, "check_jit", "check with JIT", "RECOUNT_JIT", True),
        (args.baseline, "check_unspilled", "check without the spill", "SPILLED", ()),
        (not args.skip_check, "check", "check", None, None),
    ):
        if wanted:
            timed_check(conn, args, figures, name, what, knob, value)
    if args.rebuild:
        with Peak(args.dsn) as peak:
            took = summaries.rebuild(conn, per_range=args.per_range)
        figures["rebuild_s"] = took
        figures["rebuild_temp_bytes"] = peak.peak - peak.base
        print(f"rebuild: {took:,.0f} s, temporary space {(peak.peak - peak.base) / 2**30:.2f} GiB")
        print(f"RESULT {' '.join(f'{k}={v:.0f}' for k, v in figures.items())}", flush=True)
        again = summaries.check(conn, per_range=args.per_range)
        assert again.agree, again.differing
        print("the check after the rebuild agrees")
    conn.close()
    temp = max(figures.get("check_temp_bytes", 0), figures.get("rebuild_temp_bytes", 0))
    per_link = temp / max(1, links)
    print(
        "RESULT "
        + " ".join(f"{k}={v:.0f}" for k, v in figures.items())
        + f" temp_bytes_per_link={per_link:.0f}"
    )


if __name__ == "__main__":
    main()
