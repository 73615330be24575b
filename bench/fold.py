"""Where a fold's time goes, on an existing harvest (bench/query.py --keep).

Stores --batches batches of 50 new posts x 20 links without folding, then
folds them --rounds times, each fold rolled back so that every round folds the
same facets into the same summaries, and prints the median milliseconds of the
fold and of each summary function in it (PostgreSQL's function statistics,
track_functions = 'pl', which needs a superuser). The new posts stay, folded
once at the end, so the harvest stays exact.

    .venv/bin/python bench/fold.py URL [--batches 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from query import synthetic_pages

from harvest.db import summaries
from harvest.db.connection import connect
from harvest.db.store import write_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    conn = connect(args.dsn)
    first = int(time.time()) * 1000 + 5 * 10**8
    at = datetime.now(UTC)
    for b in range(args.batches):
        write_batch(conn, synthetic_pages(50, first + 50 * b, at), fold=False)
    facets = summaries.pending(conn)
    conn.rollback()
    took: list[float] = []
    by_function: dict[str, list[float]] = defaultdict(list)
    conn.autocommit = False
    for _ in range(args.rounds):
        with conn.cursor() as cur:
            cur.execute("SET track_functions = 'pl'")
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            t0 = time.perf_counter()
            cur.execute("SELECT summaries_fold()")
            took.append((time.perf_counter() - t0) * 1000)
            cur.execute(
                "SELECT funcname, self_time FROM pg_stat_xact_user_functions "
                "WHERE funcname LIKE 'summaries%' ORDER BY 2 DESC"
            )
            for name, ms in cur.fetchall():
                by_function[name].append(float(ms))
        conn.rollback()
    conn.autocommit = True
    summaries.fold(conn)
    conn.close()

    print(f"{facets:,} pending facets from {args.batches * 50 * 20:,} new links")
    print(f"fold: {statistics.median(took):,.0f} ms (median of {args.rounds})")
    for name, values in sorted(by_function.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {name:28} {statistics.median(values):8,.0f} ms self")
    print(f"RESULT facets={facets} fold_ms={statistics.median(took):.0f}")


if __name__ == "__main__":
    main()
