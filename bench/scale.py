"""Scale-out: one harvest worker against two sharing a Redis frontier.

The same simulated Medium article pages (tests/sim, rendered to disk, served
by nginx when installed) are crawled twice: by one worker, then by two workers
on one Redis job (scrapy-redis scheduler and seen-set, harvest's frontier),
each time into a fresh database. Throughput is pages stored per second of
wall time, from launching the workers until the database holds every page.

    .venv/bin/python bench/scale.py [--pages 10000] [--concurrency 16] [--rounds 3]

One and two workers alternate, --rounds times each, and the medians are
reported: on this shared machine a run's rate moves by up to 25 % with the
neighbours' load, so one run of each can give any speedup from 1.2 to 2.1.

Needs Redis (HARVEST_REDIS_URL, default redis://127.0.0.1:6379/14) and
PostgreSQL (DATABASE_URL, else an embedded one started here).

Workers parse in their own process by default here (--parse-workers 0), so
that N workers are N processes on N cores: the figure is how the shared
frontier scales. A lone worker on a machine of two or more cores is better
off with its parse child (HARVEST_PARSE_WORKERS, default 1 there), which
`--parse-workers 1` measures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg2  # noqa: E402
import redis  # noqa: E402
from crawl import StaticServer, crawl_settings, render_site  # noqa: E402

from harvest.db import connection as dbconn  # noqa: E402
from tests.pg import Server  # noqa: E402


class StoredPosts:
    """Counts stored posts over one connection (a new one per poll costs the
    server a process start, taken from the workers' two cores)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: Any = None

    def __call__(self) -> int:
        try:
            if self.conn is None:
                self.conn = psycopg2.connect(self.dsn)
                self.conn.autocommit = True
            with self.conn.cursor() as cur:
                cur.execute("SELECT to_regclass('posts') IS NOT NULL")
                if not cur.fetchone()[0]:
                    return 0
                cur.execute("SELECT count(*) FROM posts")
                return int(cur.fetchone()[0])
        except psycopg2.Error:
            self.close()
            return 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run(
    workers: int,
    urls_file: Path,
    base: str,
    server_dsn: str,
    redis_url: str,
    conc: int,
    pages: int,
    parse_workers: int,
) -> tuple[float, float]:
    job = f"bench{uuid.uuid4().hex[:8]}"
    db = Server(server_dsn, None)
    dsn = db.create(f"harvest_{job}")
    env = {**os.environ, "DATABASE_URL": dsn}
    common = crawl_settings(
        conc,
        MEDIUM_BASE_URL=base,
        HARVEST_BROWSER=0,
        HARVEST_REDIS_URL=redis_url,
        HARVEST_REDIS_JOB=job,
        HARVEST_REDIS_IDLE_SECONDS=1,
        HARVEST_PARSE_WORKERS=parse_workers,
    )
    scrapy = str(Path(sys.executable).parent / "scrapy")
    # The database schema first, so that workers do not race to create it.
    subprocess.run(
        [str(Path(sys.executable).parent / "harvest"), "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                scrapy,
                "crawl",
                "medium",
                *(["-a", f"urls_file={urls_file}", "-a", "recrawl=1"] if i == 0 else []),
                *common,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    stored = StoredPosts(dsn)
    # Two clocks: wall time from launch (what a scheduled job takes), and the
    # steady rate from the first stored page on (what capacity planning needs:
    # process start-up, ~2-3 s here, is paid once per job, not per page).
    first: tuple[float, int] | None = None
    while (count := stored()) < pages:
        if first is None and count > 0:
            first = (time.perf_counter(), count)
        for p in procs:
            if p.poll() is not None and p.returncode != 0:
                raise RuntimeError(p.stderr.read()[-3000:] if p.stderr else "worker failed")
        if all(p.poll() is not None for p in procs):
            raise RuntimeError(f"workers ended with {stored()} of {pages} posts stored")
        time.sleep(0.1)
    ended = time.perf_counter()
    stored.close()
    elapsed = ended - started
    if first is None:
        first = (started, 0)
    steady = (pages - first[1]) / (ended - first[0])
    for i, p in enumerate(procs):
        _, err = p.communicate(timeout=120)
        got = dict(
            re.findall(
                r"'(scheduler/dequeued/redis|elapsed_time_seconds|"
                r"harvest/frontier/duplicates)': ([\d.]+)",
                err,
            )
        )
        print(f"  worker {i}: {got}", flush=True)
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"harvest:{job}:*"):
        client.delete(key)
    db.drop(f"harvest_{job}")
    return pages / elapsed, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternate runs; medians reported")
    parser.add_argument(
        "--parse-workers", type=int, default=0, help="HARVEST_PARSE_WORKERS of each worker"
    )
    args = parser.parse_args()
    redis_url = os.environ.get("HARVEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    work = Path(tempfile.mkdtemp(prefix="harvest-bench-scale-"))
    work.chmod(0o755)
    embedded = None
    server_dsn = os.environ.get("DATABASE_URL")
    if not server_dsn:
        embedded = dbconn.resolve(None, work / "pgdata")
        server_dsn = embedded.dsn
    urls = render_site(args.pages, work / "site")
    (work / "urls.txt").write_text("\n".join(urls))
    one: list[tuple[float, float]] = []
    two: list[tuple[float, float]] = []
    with StaticServer(work / "site") as server:
        print(f"{args.pages} pages served by {server.kind}", flush=True)
        for _ in range(args.rounds):
            for workers, rates in ((1, one), (2, two)):
                rates.append(
                    run(
                        workers,
                        work / "urls.txt",
                        server.url,
                        server_dsn,
                        redis_url,
                        args.concurrency,
                        args.pages,
                        args.parse_workers,
                    )
                )
                wall, steady = rates[-1]
                print(
                    f"{workers} worker(s): {steady:6.0f} pages/s steady, {wall:6.0f} from launch",
                    flush=True,
                )
    if embedded is not None:
        dbconn.Embedded(work / "pgdata").stop()
    shutil.rmtree(work, ignore_errors=True)

    median = statistics.median_high  # a measured run, never an average of two
    a, b = median([r[1] for r in one]), median([r[1] for r in two])
    wa, wb = median([r[0] for r in one]), median([r[0] for r in two])
    print(
        f"RESULT one_worker_pages_per_s={a:.0f} two_workers_pages_per_s={b:.0f} speedup={b / a:.2f}"
        f" one_worker_wall_pages_per_s={wa:.0f} two_workers_wall_pages_per_s={wb:.0f}"
        f" speedup_wall={wb / wa:.2f}"
    )


if __name__ == "__main__":
    main()
