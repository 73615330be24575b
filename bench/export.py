"""Memory of `harvest export`: flat whatever the number of rows.

Loads synthetic link rows (bench/query.py's generator) in steps and, after
each, runs `harvest export links` to CSV and Parquet, recording rows/s and the
peak RSS of the export process; a naive export that fetches every row at once
(psycopg2's fetchall, then csv) runs beside it as the baseline.

    .venv/bin/python bench/export.py [--steps 1000000,3000000,10000000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import Databases  # noqa: E402
from query import LINKS_SQL, LOAD_SQL  # noqa: E402

from harvest.db.connection import connect  # noqa: E402

NAIVE = """
import csv, sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute("SELECT l.*, d.domain FROM links l JOIN domains d USING (domain_id)")
rows = cur.fetchall()
with open(sys.argv[2], "w", newline="") as fh:
    csv.writer(fh).writerows(rows)
"""


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of a command (GNU time's maximum resident set)."""
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", report.name, *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        return elapsed, int(report.read().strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1000000,3000000,10000000")
    args = parser.parse_args()
    steps = [int(x) for x in args.steps.split(",")]
    dbs = Databases()
    name, dsn = dbs.fresh()
    env = {**os.environ, "DATABASE_URL": dsn}
    harvest = str(Path(sys.executable).parent / "harvest")
    out = Path(tempfile.mkdtemp(prefix="harvest-export-"))
    results = []
    try:
        conn = connect(dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT setseed(0.42)")
            cur.execute(LOAD_SQL)
        loaded = 0
        for target in steps:
            with conn.cursor() as cur:
                for lo in range(loaded + 1, target + 1, 1_000_000):
                    cur.execute(LINKS_SQL, {"lo": lo, "hi": min(target, lo + 999_999)})
                cur.execute("ANALYZE links")
            loaded = target
            csv_s, csv_mb = measured(
                [harvest, "export", "links", "--format", "csv", "-o", str(out / "l.csv")], env
            )
            pq_s, pq_mb = measured(
                [harvest, "export", "links", "--format", "parquet", "-o", str(out / "l.parquet")],
                env,
            )
            _, naive_mb = measured([sys.executable, "-c", NAIVE, dsn, str(out / "n.csv")], env)
            results.append((target, csv_mb, pq_mb, naive_mb))
            print(
                f"{target:>11,} rows: csv {target / csv_s:8,.0f} rows/s {csv_mb:6.0f} MB | "
                f"parquet {target / pq_s:8,.0f} rows/s {pq_mb:6.0f} MB | "
                f"fetchall {naive_mb:6.0f} MB",
                flush=True,
            )
        conn.close()
    finally:
        dbs.drop(name)
        dbs.close()
        for f in out.iterdir():
            f.unlink()
        out.rmdir()
    first, last = results[0], results[-1]
    print(
        f"RESULT rows={last[0]} csv_peak_rss_mb={last[1]:.0f} parquet_peak_rss_mb={last[2]:.0f} "
        f"fetchall_peak_rss_mb={last[3]:.0f} csv_rss_growth={last[1] / first[1]:.2f}"
    )


if __name__ == "__main__":
    main()
