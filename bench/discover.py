"""Posts discovered per request and per second: GraphQL walks against scrolling the tag page.

Both list the same simulated tag (the simulator's world of --size posts; at
5,000 the tag "seo" has ~2,000 posts over 2015-2026) without fetching a post
(``-a articles=0``), each as a whole ``scrapy crawl medium`` process (start-up
included), against the simulator on 127.0.0.1 (its Python server, in this
process: the dynamic GraphQL answers cannot come from a static server):

* graphql: ``-a history=all`` (TagArchiveFeedQuery, 20 a page, cursor by cursor);
* browser: the tag page in Chromium, scrolled as a crawl without history does
  (HARVEST_SCROLL_* defaults, at most -a scroll=50 scrolls), the way harvest
  listed tags before GraphQL.

Requests are what the simulator answered for the listing (GraphQL POSTs; for
the browser, the page, its scroll batches and the server HTML fetch before
it). Completeness is posts found over the tag's posts. Figures are medians
over --rounds, alternating the order.

    .venv/bin/python bench/discover.py [--size 5000] [--tag seo] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harvest.sim.server import SimServer  # noqa: E402


def run(sim: SimServer, tag: str, path: str, out: Path) -> dict[str, Any]:
    """One crawl of ``path`` ("graphql" or "browser"); what it found and asked."""
    feed = out / f"{path}-{time.monotonic_ns()}.jsonl"
    args = [f"tags={tag}", "articles=0"]
    settings = {
        "MEDIUM_BASE_URL": sim.url,
        "HARVEST_DB_ENABLED": "0",
        "AUTOTHROTTLE_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
        "FEEDS": json.dumps({str(feed): {"format": "jsonlines"}}),
    }
    if path == "graphql":
        args.append("history=all")
        settings["HARVEST_BROWSER"] = "0"
    cmd = [sys.executable, "-m", "scrapy", "crawl", "medium"]
    for arg in args:
        cmd += ["-a", arg]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    before_gql = len(sim.graphql_requests)
    before = dict(sim.requests)
    started = time.monotonic()
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
    )
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{path} crawl failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    found = set()
    for line in feed.read_text().splitlines():
        item = json.loads(line)
        if "post_id" in item and "walk" not in item:
            found.add(item["post_id"])
    if path == "graphql":
        requests = len(sim.graphql_requests) - before_gql
    else:
        requests = sum(
            n - before.get(p, 0)
            for p, n in sim.requests.items()
            if p.startswith((f"/tag/{tag}", f"/_sim/tag/{tag}/"))
        )
    return {"posts": len(found), "ids": found, "seconds": elapsed, "requests": requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--tag", default="seo")
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    with SimServer(seed=1, size=opts.size) as sim, tempfile.TemporaryDirectory() as tmp:
        truth = {p.post_id for p in sim.world.tagged(opts.tag)}
        years = sorted({p.published.year for p in sim.world.tagged(opts.tag)})
        print(
            f"tag {opts.tag}: {len(truth)} posts, {years[0]}-{years[-1]}, in a world of "
            f"{opts.size} posts (simulator on {sim.url}, Python server)",
            flush=True,
        )
        results: dict[str, list[dict[str, Any]]] = {"graphql": [], "browser": []}
        for r in range(opts.rounds):
            order = ("graphql", "browser") if r % 2 == 0 else ("browser", "graphql")
            for path in order:
                res = run(sim, opts.tag, path, Path(tmp))
                res["complete"] = len(res["ids"] & truth) / len(truth)
                res["extra"] = len(res["ids"] - truth)
                results[path].append(res)
                print(
                    f"round {r + 1} {path:8s}: {res['posts']} posts ({res['complete']:.3f} of "
                    f"the tag, {res['extra']} not of it) in {res['requests']} requests, "
                    f"{res['seconds']:.1f} s",
                    flush=True,
                )

    def med(path: str, key: str) -> float:
        return statistics.median(float(x[key]) for x in results[path])

    rate = {p: med(p, "posts") / med(p, "seconds") for p in results}
    per_request = med("graphql", "posts") / max(1.0, med("graphql", "requests"))
    browser_per_request = med("browser", "posts") / max(1.0, med("browser", "requests"))
    print(
        f"graphql: {rate['graphql']:.0f} posts/s, {per_request:.1f} posts/request; "
        f"browser: {rate['browser']:.1f} posts/s, {browser_per_request:.1f} posts/request, "
        f"completeness {med('browser', 'complete'):.3f}",
        flush=True,
    )
    print(
        f"RESULT graphql_posts_per_s={rate['graphql']:.0f} "
        f"browser_posts_per_s={rate['browser']:.1f} "
        f"speedup={rate['graphql'] / rate['browser']:.1f} "
        f"graphql_posts_per_request={per_request:.1f} "
        f"completeness={med('graphql', 'complete'):.3f}"
    )


if __name__ == "__main__":
    main()
