"""The demo: crawl a local simulated Medium into the embedded PostgreSQL.

Starts the simulator (tests/sim) on 127.0.0.1, runs `scrapy crawl medium` on
two of its tags with the browser scrolling the listings, then prints
`harvest top-domains` and `harvest stats`, and writes the audit report to
.demo/report.html. The data stays in .demo/pgdata;
the embedded server stops when the demo ends.

    .venv/bin/python deploy/demo.py [--size 60] [--tags seo,programming]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sim.server import SimServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=60, help="posts in the simulated Medium")
    parser.add_argument("--tags", default="seo,programming")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["HARVEST_PGDATA"] = str(ROOT / ".demo" / "pgdata")
    with SimServer(seed=7, size=args.size) as sim:
        print(f"simulated Medium with {args.size} posts at {sim.url}", flush=True)
        crawl = [
            str(bin_dir / "scrapy"),
            "crawl",
            "medium",
            "-a",
            f"tags={args.tags}",
            "-a",
            "recrawl=1",
            "-s",
            f"MEDIUM_BASE_URL={sim.url}",
            "-s",
            "AUTOTHROTTLE_ENABLED=0",
            "-s",
            "LOG_LEVEL=WARNING",
        ]
        print("$ " + " ".join(crawl[1:]), flush=True)
        subprocess.run(crawl, cwd=ROOT, env=env, check=True)
    report = ROOT / ".demo" / "report.html"
    for command in (
        ["top-domains", "--limit", "10"],
        ["stats"],
        ["report", "-o", str(report.relative_to(ROOT))],
    ):
        print(f"\n$ harvest {' '.join(command)}", flush=True)
        subprocess.run([str(bin_dir / "harvest"), *command], cwd=ROOT, env=env, check=True)
    print(f"\nthe nofollow audit: open {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
