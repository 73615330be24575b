"""Memory of `harvest export`: flat whatever the number of rows; and, with
--reuse, its speed beside PostgreSQL's own COPY.

Loads synthetic link rows (bench/query.py's generator) in steps and, after
each, runs `harvest export links` to CSV and Parquet, recording rows/s and the
peak RSS of the export process; a naive export that fetches every row at once
(psycopg2's fetchall, then csv) runs beside it as the baseline.

    .venv/bin/python bench/export.py [--steps 1000000,3000000,10000000]

With --reuse URL (a harvest bench/query.py built and kept), every live backlink
of the most linked domain is written --rounds times each way, one process
each, start-up included: `harvest backlinks D --all --format csv`, `harvest
export links --domain D` as CSV and as JSON Lines, and the baseline, COPY
(SELECT the same rows, in the same order) TO STDOUT as CSV, which is as fast as
the database can give them.

    .venv/bin/python bench/export.py --reuse URL [--rounds 3]
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


COPY_BASELINE = """
import sys, psycopg2
sys.path.insert(0, sys.argv[4])
from harvest.db.queries import EVERY_BACKLINK_SQL
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
sql = cur.mogrify(EVERY_BACKLINK_SQL, {"domain": sys.argv[2]}).decode()
with open(sys.argv[3], "w") as fh:
    cur.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", fh)
"""


def speed(dsn: str, rounds: int) -> None:
    """Every backlink of the most linked domain, harvest's ways and COPY's."""
    import statistics

    conn = connect(dsn)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT d.domain, t.links FROM domain_totals t JOIN domains d USING (domain_id) "
            "ORDER BY t.links DESC LIMIT 1"
        )
        domain, rows = cur.fetchone()
    conn.close()
    env = {**os.environ, "DATABASE_URL": dsn}
    harvest = str(Path(sys.executable).parent / "harvest")
    out = Path(tempfile.mkdtemp(prefix="harvest-export-"))
    ways = {
        "copy": [sys.executable, "-c", COPY_BASELINE, dsn, domain, str(out / "c.csv"), str(ROOT)],
        "backlinks_csv": [
            "sh", "-c", '"$0" backlinks "$1" --all --format csv > "$2"',
            harvest, domain, str(out / "b.csv"),
        ],
        "export_csv": [
            harvest, "export", "links", "--domain", domain, "--format", "csv", "-o",
            str(out / "e.csv"),
        ],
        "export_jsonl": [
            harvest, "export", "links", "--domain", domain, "--format", "jsonl", "-o",
            str(out / "e.jsonl"),
        ],
    }  # fmt: skip
    took: dict[str, list[float]] = {k: [] for k in ways}
    peak: dict[str, float] = {}
    try:
        for _ in range(rounds):
            for way, cmd in ways.items():
                seconds, mb = measured(cmd, env)
                took[way].append(seconds)
                peak[way] = max(peak.get(way, 0.0), mb)
    finally:
        for f in out.iterdir():
            f.unlink()
        out.rmdir()
    rate = {k: rows / statistics.median(v) for k, v in took.items()}
    for way in ways:
        print(
            f"{way:14} {statistics.median(took[way]):6.2f} s  {rate[way]:9,.0f} rows/s "
            f"({rate[way] / rate['copy']:.2f}x COPY), peak {peak[way]:.0f} MB",
            flush=True,
        )
    print(
        f"RESULT rows={rows} copy_rows_per_s={rate['copy']:.0f} "
        f"backlinks_csv_rows_per_s={rate['backlinks_csv']:.0f} "
        f"export_csv_rows_per_s={rate['export_csv']:.0f} "
        f"export_jsonl_rows_per_s={rate['export_jsonl']:.0f} "
        f"backlinks_csv_ratio={rate['backlinks_csv'] / rate['copy']:.2f} "
        f"export_csv_ratio={rate['export_csv'] / rate['copy']:.2f} "
        f"export_csv_peak_rss_mb={peak['export_csv']:.0f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1000000,3000000,10000000")
    parser.add_argument("--reuse", metavar="DATABASE_URL")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.reuse:
        speed(args.reuse, args.rounds)
        return
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
