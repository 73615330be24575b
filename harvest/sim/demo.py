"""The demo (``harvest demo``): crawl a local simulated Medium into the embedded
PostgreSQL, and check it.

Starts the simulator (:mod:`harvest.sim`) on 127.0.0.1, runs `scrapy crawl medium` on
two of its tags with the browser scrolling the listings, checks that the
database holds exactly the posts and links the simulator's manifest gives for
those tags, then prints `harvest top-domains` and `harvest stats` and writes
the audit report to .demo/report.html. The data stays in .demo/pgdata; the
embedded server stops when the demo ends.

    .venv/bin/harvest demo [--size 60] [--tags seo,programming]
                           [--challenge REGEX] [--data DIR]

(``deploy/demo.py``, the README's command, runs this.)

It exits 0 when the crawl stored everything; otherwise with the crawl's own exit
status (see README: What a crawl tells you) after listing the pages it could
not harvest, or 1 when the stored data differ from the manifest. --challenge
makes the simulator answer paths matching REGEX with Cloudflare challenges.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from harvest.db import connection as dbconn

# Where the demo's data goes by default: the checkout's .demo/, or the current
# directory's when harvest runs from an installed package.
_CHECKOUT = Path(__file__).resolve().parents[2]
ROOT = _CHECKOUT if (_CHECKOUT / "scrapy.cfg").exists() else Path.cwd()

Links = Counter[tuple[str, str, str]]


def stored(pgdata: Path) -> tuple[set[str], Links]:
    """The posts, and the live links as (post, target, location), in the demo's database."""
    embedded = dbconn.Embedded(pgdata)
    conn = dbconn.connect(embedded.start())
    try:
        from harvest.db.queries import stored_posts_and_links

        posts, rows = stored_posts_and_links(conn)
        links = Counter(rows)
    finally:
        conn.close()
        embedded.close()
    return posts, links


def expected(manifest: dict[str, Any], tags: list[str]) -> tuple[set[str], Links]:
    posts = {pid for tag in tags for pid in manifest["tags"].get(tag, [])}
    links = Counter(
        (pid, link["target_url"], link["location"])
        for pid in posts
        for link in manifest["posts"][pid]["links"]
    )
    return posts, links


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=60, help="posts in the simulated Medium")
    parser.add_argument("--tags", default="seo,programming", help="the tags to crawl")
    parser.add_argument("--challenge", help="challenge the simulator's paths matching this")
    parser.add_argument("--data", default=str(ROOT / ".demo"), help="where the data goes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    data = Path(args.data).resolve()
    tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HARVEST_DATABASE_URL")}
    env["HARVEST_PGDATA"] = str(data / "pgdata")
    env["HARVEST_UNPARSED_DIR"] = str(data / "unparsed")
    # Here, not at the top: `harvest --help` builds this command's parser and
    # would pay for the simulator's imports (~40 ms) on every command.
    from harvest.sim.server import Faults, SimServer

    faults = Faults(challenge=args.challenge) if args.challenge else None
    with SimServer(seed=7, size=args.size, faults=faults) as sim:
        print(f"simulated Medium with {args.size} posts at {sim.url}", flush=True)
        manifest = sim.manifest()
        crawl = [
            str(bin_dir / "scrapy"),
            "crawl",
            "medium",
            "-a",
            f"tags={','.join(tags)}",
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
        status = subprocess.run(crawl, cwd=ROOT, env=env, check=False).returncode

    def harvest(*command: str) -> None:
        print(f"\n$ harvest {' '.join(command)}", flush=True)
        subprocess.run([str(bin_dir / "harvest"), *command], cwd=ROOT, env=env, check=False)

    if status != 0:
        failures = subprocess.run(
            [str(bin_dir / "harvest"), "crawl-report", "--format", "json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"\nthe crawl did not harvest everything (exit status {status}):")
        if failures.returncode == 0:
            for failure in json.loads(failures.stdout)["failures"]:
                print(f"  {failure['kind']} {failure['url']}: {failure['reason']}")
        else:
            print(failures.stderr.strip())
        return status
    got_posts, got_links = stored(data / "pgdata")
    want_posts, want_links = expected(manifest, tags)
    if (got_posts, got_links) != (want_posts, want_links):
        print(
            f"\ncheck FAILED: stored {len(got_posts)} posts and {got_links.total()} links; the "
            f"simulator holds {len(want_posts)} posts and {want_links.total()} links for "
            f"{', '.join(tags)} (missing posts: {sorted(want_posts - got_posts)[:5]}, "
            f"extra posts: {sorted(got_posts - want_posts)[:5]})"
        )
        return 1
    print(
        f"\ncheck: the database holds exactly the simulator's {len(want_posts)} posts and "
        f"{want_links.total()} links for {', '.join(tags)}"
    )
    report = data / "report.html"
    harvest("top-domains", "--limit", "10")
    harvest("stats")
    harvest("report", "-o", str(report))
    print(f"\nthe nofollow audit: open {report}")
    # The demo keeps its own database so that it never mixes with a real harvest.
    print(
        f"the demo's data stays in its own database: HARVEST_PGDATA={data / 'pgdata'} "
        f"{bin_dir / 'harvest'} stats"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
