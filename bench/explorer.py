"""The explorer's pages on a harvest bench/query.py built (10^7 links: --keep,
then this with its URL), each page's server time beside the time of its
queries called directly (the baseline: what the database alone costs).

Starts `harvest serve` on a free port of 127.0.0.1 as the read-only role
(made here with `harvest db grant-readonly` if missing: the one thing this
writes), asks every page --rounds times and reports the median of the
Server-Timing each answer carries, and the largest.

    .venv/bin/python bench/explorer.py DATABASE_URL [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harvest.db import explore, queries
from harvest.db.connection import connect
from harvest.db.report_numbers import Filters, report_numbers
from harvest.db.roles import grant_readonly

BIN = Path(sys.executable).parent


def _pick(conn: Any) -> dict[str, str]:
    """The largest of each thing (the slowest pages), and one of the many small."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT d.domain FROM domain_totals t JOIN domains d USING (domain_id) "
            "ORDER BY t.links DESC LIMIT 1"
        )
        top = cur.fetchone()[0]
        cur.execute(
            "SELECT d.domain FROM domain_totals t JOIN domains d USING (domain_id) "
            "WHERE t.links BETWEEN 5 AND 50 ORDER BY t.domain_id LIMIT 1"
        )
        small = cur.fetchone()[0]
        cur.execute(
            "SELECT p.medium_id, a.username FROM posts p JOIN authors a USING (author_id) "
            "ORDER BY p.post_id LIMIT 1"
        )
        post, author = cur.fetchone()
        cur.execute(
            "SELECT coalesce(pub.slug, pub.key) FROM posts p JOIN publications pub "
            "USING (publication_id) GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        publication = cur.fetchone()[0]
        cur.execute(
            "SELECT tag FROM tag_stats WHERE tag <> '' GROUP BY 1 ORDER BY sum(links) DESC LIMIT 1"
        )
        tag = cur.fetchone()[0]
    return {
        "top": top,
        "small": small,
        "post": post,
        "author": author,
        "publication": publication,
        "tag": tag,
    }


def _deep_token(conn: Any, domain: str) -> str:
    """The token of a page some 10,000 rows into the domain's backlinks."""
    after = None
    for _ in range(400):
        page = queries.backlinks(conn, domain, limit=25, after=after)
        after = page.after
    assert after is not None
    return after


def _pages(picked: dict[str, str], deep: str) -> dict[str, str]:
    top, small = picked["top"], picked["small"]
    return {
        "home": "/",
        "domain_backlinks": f"/domain/{top}",
        "domain_backlinks_deep": f"/domain/{top}?after={deep}",
        "domain_backlinks_filtered": f"/domain/{top}?placement=author_bio&rel=dofollow",
        "domain_anchors": f"/domain/{top}?view=anchors",
        "domain_targets": f"/domain/{top}?view=targets",
        "domain_authors": f"/domain/{top}?view=authors",
        "domain_publications": f"/domain/{top}?view=publications",
        "domain_months": f"/domain/{top}?view=months",
        "small_domain_anchors": f"/domain/{small}?view=anchors",
        "post": f"/post/{picked['post']}",
        "author": f"/author/{picked['author']}",
        "publication": f"/publication/{picked['publication']}",
        "tag": f"/tag/{picked['tag']}",
        "search": "/search?q=dom",
        # competitors of middling size (a few thousand links each), and one of the
        # largest three (a million links to read)
        "intersect": "/intersect?with=site50.example,site51.example,site52.example"
        "&not=site53.example",
        "intersect_largest": "/intersect?with=site2.example,site3.example&not=site1.example",
        "export_csv": f"/domain/{top}?format=csv&table=backlinks&n=500",
    }


def _baseline(conn: Any, name: str, picked: dict[str, str], deep: str) -> None:
    """The queries behind a page, called in process: what the database costs."""
    top = explore.find_target(conn, picked["top"])
    assert top is not None
    none = queries.LinkFilters()
    calls: dict[str, Callable[[], object]] = {
        "home": lambda: (
            report_numbers(conn, Filters(), top=1),
            queries.top_domains(conn, limit=26),
        ),
        "domain_backlinks": lambda: queries.backlinks(conn, picked["top"], limit=25),
        "domain_backlinks_deep": lambda: queries.backlinks(
            conn, picked["top"], limit=25, after=deep
        ),
        "domain_anchors": lambda: explore.grouped(conn, top, "anchors", none, limit=26),
        "domain_targets": lambda: explore.grouped(conn, top, "targets", none, limit=26),
        "domain_authors": lambda: explore.grouped(conn, top, "authors", none, limit=26),
        "domain_publications": lambda: explore.grouped(conn, top, "publications", none, limit=26),
        "domain_months": lambda: explore.months(conn, top, none),
    }
    if name in calls:
        calls[name]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dsn", metavar="DATABASE_URL")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    conn = connect(args.dsn)
    conn.autocommit = True
    grant_readonly(conn, "harvest_reader")
    picked = _pick(conn)
    deep = _deep_token(conn, picked["top"])
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM links")
        links = cur.fetchone()[0]
    print(f"{links:,} links; most linked domain {picked['top']}", flush=True)
    env = {**os.environ, "DATABASE_URL": args.dsn}
    env.pop("HARVEST_PGDATA", None)
    server = subprocess.Popen(
        [str(BIN / "harvest"), "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"on (http://\S+?/)", line)
        assert found, line
        base = found.group(1).rstrip("/").replace("localhost", "127.0.0.1")
        # the largest domains are grouped ahead, in the background: pages are
        # timed once that is done, and how long it took is a figure of its own
        started = time.monotonic()
        warmed = server.stdout.readline()
        warm_s = time.monotonic() - started
        print(f"serve: {warmed.strip()} (waited {warm_s:.0f} s)", flush=True)
        figures: dict[str, float] = {}
        for name, path in _pages(picked, deep).items():
            server_ms, direct_ms, ready_s = [], [], []
            for _ in range(args.rounds):
                asked = time.perf_counter()
                with urllib.request.urlopen(base + path, timeout=120) as resp:
                    body = resp.read()
                    timing = resp.headers["Server-Timing"]
                server_ms.append(float(timing.split("dur=")[1]))
                # a page worked out in the background refreshes until it is ready
                while b'http-equiv="refresh"' in body:
                    time.sleep(0.1)
                    with urllib.request.urlopen(base + path, timeout=120) as resp:
                        body = resp.read()
                ready_s.append(time.perf_counter() - asked)
                started = time.perf_counter()
                _baseline(conn, name, picked, deep)
                direct_ms.append((time.perf_counter() - started) * 1000)
            figures[name] = statistics.median(server_ms)
            direct = statistics.median(direct_ms)
            shown = f", its queries alone {direct:.0f} ms" if direct > 0.5 else ""
            if max(ready_s) > 0.5:
                shown += f", the answer ready after {max(ready_s):.1f} s at most"
            print(
                f"{name:28} {figures[name]:7.1f} ms server (median of {args.rounds}, "
                f"max {max(server_ms):.0f}){shown}",
                flush=True,
            )
        slowest = max(figures, key=lambda k: figures[k])
        print(
            "RESULT "
            + " ".join(f"{k}_ms={v:.0f}" for k, v in figures.items())
            + f" slowest={slowest} slowest_ms={figures[slowest]:.0f} warm_s={warm_s:.0f}",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
        conn.close()


if __name__ == "__main__":
    main()
