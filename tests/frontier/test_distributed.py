"""Distributed mode: several workers share one Redis frontier (real Redis, real PostgreSQL).

Needs the Redis named by HARVEST_TEST_REDIS_URL (default redis://127.0.0.1:6379);
each test works in a Redis database and job name of its own and clears them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from harvest.crawl.walk_cursors import RedisWalks, WalkCursor
from harvest.db.connection import connect
from harvest.frontier import Frontier, FrontierConfig
from harvest.sim.server import Faults, SimServer
from tests.frontier.conftest import spider_settings
from tests.pg import rows
from tests.sim.crawl import finish, manifest_links, start_crawl, stored_links, whole_range

ROOT = Path(__file__).resolve().parents[2]


def worker(sim: SimServer, dsn: str, job: tuple[str, str], *args: str, **settings: Any) -> Any:
    return start_crawl(
        sim.url,
        dsn,
        args,
        {
            "HARVEST_BROWSER": "0",
            "HARVEST_REDIS_URL": job[0],
            "HARVEST_REDIS_JOB": job[1],
            "HARVEST_REDIS_IDLE_SECONDS": "1",
            "HARVEST_REDIS_HEARTBEAT_TTL": "3",
            **settings,
        },
    )


def stored(dsn: str) -> tuple[set[str], set[tuple[Any, ...]], int]:
    conn = connect(dsn)
    posts = {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
    links = set(stored_links(conn))
    link_rows = rows(conn, "SELECT count(*) FROM links")[0][0]
    conn.close()
    return posts, links, link_rows


def expected(manifest: dict[str, Any]) -> tuple[set[str], set[tuple[Any, ...]]]:
    return set(manifest["posts"]), manifest_links(manifest)


def stats_of(*logs: str) -> str:
    """The stats each worker dumped at the end: what a failed assertion shows."""
    return "\n".join(log[log.rfind("Dumping Scrapy stats") :][:4000] for log in logs)


def page_fetches(sim: SimServer) -> dict[str, int]:
    return {p: n for p, n in sim.requests.items() if p != "/robots.txt"}


@pytest.mark.slow
def test_two_workers_store_the_manifest_and_fetch_each_page_once(
    db_dsn: str, job: tuple[str, str]
) -> None:
    # Pages take a moment, as real ones do, so that both workers get a share.
    faults = Faults(rate=1.0, kinds=("slow",), slow_seconds=0.2, seed=1)
    with SimServer(seed=2, size=40, faults=faults) as sim:
        manifest = sim.manifest()
        first = worker(sim, db_dsn, job, whole_range(manifest))
        second = worker(sim, db_dsn, job)  # no arguments: takes the job's from Redis
        err1, err2 = finish(first), finish(second)
        fetches = page_fetches(sim)
    want_posts, want_links = expected(manifest)
    posts, links, link_rows = stored(db_dsn)
    assert posts == want_posts, stats_of(err1, err2)
    assert links == want_links and link_rows == len(want_links)  # no duplicate rows
    assert max(fetches.values()) == 1, {p: n for p, n in fetches.items() if n > 1}
    # both took part
    assert "scheduler/dequeued/redis" in err1 and "scheduler/dequeued/redis" in err2
    print(f"two workers: {len(posts)}/{len(want_posts)} posts, {link_rows}/{len(want_links)} links")


@pytest.mark.slow
@pytest.mark.parametrize("when", ["at-once", "after-heartbeat-lapsed", "side-by-side"])
def test_a_killed_worker_loses_nothing(db_dsn: str, job: tuple[str, str], when: str) -> None:
    # Every page is slow on its first fetch, so the victim dies with requests
    # in hand and items not yet stored. The survivor starts after the death
    # (at once, or once the victim's heartbeat lapsed), or shares the queue
    # with the victim from the start.
    faults = Faults(rate=1.0, kinds=("slow",), slow_seconds=0.4, seed=1)
    with SimServer(seed=3, size=40, faults=faults) as sim:
        manifest = sim.manifest()
        victim = worker(sim, db_dsn, job, whole_range(manifest), HARVEST_DB_FLUSH_INTERVAL="30")
        survivor = None

        def articles_under_way(n: int) -> None:
            deadline = time.monotonic() + 60
            while sum(1 for p in sim.requests if "-" in p) < n:
                assert time.monotonic() < deadline, "the workers never got going"
                time.sleep(0.1)

        articles_under_way(8)  # the victim's: it holds requests from here on
        if when == "side-by-side":
            survivor = worker(sim, db_dsn, job)
            articles_under_way(16)  # both under way
        victim.send_signal(signal.SIGKILL)
        victim.communicate()
        if when == "after-heartbeat-lapsed":
            # The survivor then finds the orphans when it opens, not when idle.
            time.sleep(3.5)
        err = finish(survivor or worker(sim, db_dsn, job))
    want_posts, want_links = expected(manifest)
    posts, links, link_rows = stored(db_dsn)
    assert posts == want_posts, (sorted(want_posts - posts), stats_of(err))
    assert links == want_links and link_rows == len(want_links)
    assert "harvest/frontier/reclaimed" in err
    conn = connect(db_dsn)
    statuses = rows(conn, "SELECT run_status(status, run_id) FROM crawl_runs ORDER BY run_id")
    conn.close()
    # the dead worker's run reads as died; the survivor's finished
    assert sorted(s for (s,) in statuses) == ["died", "finished"], statuses
    print(f"after a SIGKILL: {len(posts)}/{len(want_posts)} posts, {link_rows} links stored")


def test_enqueue_cli_and_frontier_bookkeeping(job: tuple[str, str]) -> None:
    url, name = job

    def enqueue(argument: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "harvest"), "enqueue", "--job", name, argument],
            env={**os.environ, "HARVEST_REDIS_URL": url},
            capture_output=True,
            text=True,
            check=False,
        )

    proc = enqueue("tags=seo")
    assert proc.returncode == 0, proc.stderr
    config = FrontierConfig(url=url, job=name, idle_seconds=0, heartbeat_ttl=1)
    frontier = Frontier(config)
    assert frontier.job_args() == {"tags": "seo"}
    assert frontier.claim_seeding() and not frontier.claim_seeding()
    bad = enqueue("depth=x")
    assert bad.returncode == 2 and "depth" in bad.stderr
    # a held request of a worker whose heartbeat lapsed goes back to the queue
    frontier.server.lpush(frontier.queue_key, b"{}")
    frontier.heartbeat()
    assert len(frontier.exchange(4)) == 1 and frontier.queued() == 0
    other = Frontier(config)
    assert other.reclaim_orphans() == 0  # the holder is alive
    frontier.server.delete(frontier.alive_key)
    assert other.reclaim_orphans() == 1 and other.queued() == 1


def test_a_response_is_held_until_the_requests_it_made_are_queued(
    job: tuple[str, str],
) -> None:
    # Scrapy hands a callback's outputs on to the scheduler only after the
    # callback's generator has ended; a worker killed in that gap must not
    # have released the response while its new requests were nowhere.
    import asyncio

    from scrapy import Request, signals
    from scrapy.http import HtmlResponse

    from harvest.frontier.tokens import PARENT, TOKEN, FrontierTokens

    url, name = job
    frontier = Frontier(FrontierConfig(url=url, job=name, idle_seconds=0, heartbeat_ttl=5))
    frontier.server.lpush(frontier.queue_key, b"{}")
    [(token, _)] = frontier.exchange(1)

    from scrapy.utils.test import get_crawler

    crawler = get_crawler(settings_dict={"HARVEST_REDIS_URL": url})

    class Spider:  # stands for the spider object
        pass

    spider: Any = Spider()
    spider.frontier = frontier
    crawler.spider = spider
    mw = FrontierTokens.from_crawler(crawler)
    response = HtmlResponse(
        "https://medium.com/x",
        body=b"",
        request=Request("https://medium.com/x", meta={TOKEN: token}),
    )

    async def callback_output() -> AsyncIterator[Request]:
        yield Request("https://medium.com/a-0123456789ab")
        yield Request("https://medium.com/b-0123456789ab")

    async def run_callback() -> list[Any]:
        return [out async for out in mw.process_spider_output(response, callback_output())]

    made = asyncio.run(run_callback())
    frontier.flush_releases()
    assert frontier.server.hexists(frontier.held_key, token), (
        "released before its requests were queued"
    )
    for request in made:  # what the engine does with each: signal, then queue
        assert request.meta[PARENT] == token
        crawler.signals.send_catch_log(signal=signals.request_scheduled, request=request)
        assert PARENT not in request.meta
        frontier.push(None, b"{}")
        frontier.flush_releases()
        assert frontier.server.hexists(frontier.held_key, token) == (request is not made[-1])
    assert frontier.queued() == 2


def test_a_worker_started_before_its_job_takes_the_arguments_with_the_first_request(
    job: tuple[str, str],
) -> None:
    # A worker started without arguments looks for the job's when it starts;
    # if the first worker has not stored them yet, it finds none, and must
    # take them before it handles a page of the job (seen once in CI: the
    # second worker fetched the sitemap index with no date range, found no
    # day in range, and the job ended with nothing stored).
    from scrapy.utils.test import get_crawler

    from harvest.crawl.spider import MediumSpider
    from harvest.frontier import schema
    from harvest.frontier.scheduler import FrontierScheduler

    settings = spider_settings(job)
    crawler = get_crawler(MediumSpider, settings)
    late = MediumSpider.from_crawler(crawler)
    assert not late.args.has_target
    scheduler = FrontierScheduler.from_crawler(crawler)
    scheduler.open(late)
    try:
        first = MediumSpider.from_crawler(
            get_crawler(MediumSpider, settings), sitemap="2024-01-01..2024-01-03"
        )
        assert first.frontier is not None
        first.frontier.push(
            None, schema.encode(first.request_for("listing", "https://medium.com/x"), first)
        )
        first.frontier.flush_releases()
        assert scheduler.next_request() is not None
        adopted: Any = late.args  # taken from Redis by next_request()
        assert adopted.has_target
        assert late.harvest_arguments == first.harvest_arguments
    finally:
        scheduler.close("finished")


@pytest.mark.slow
def test_a_graphql_walk_killed_with_its_worker_goes_on_in_another(
    db_dsn: str, job: tuple[str, str]
) -> None:
    # Each page of the walk is slow once, so the victim dies mid-walk.
    faults = Faults(rate=1.0, kinds=("slow",), slow_seconds=0.3, seed=1)
    with SimServer(seed=3, size=90, faults=faults) as sim:
        want = {p.post_id for p in sim.world.tagged("seo")}
        pages = -(-len(want) // 3)
        args = ("tags=seo", "history=all", "page_size=3")
        victim = worker(sim, db_dsn, job, *args, AUTOTHROTTLE_ENABLED="0")
        deadline = time.monotonic() + 60
        while len(sim.graphql_requests) < 3:
            assert time.monotonic() < deadline, "the walk never got going"
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.communicate()
        asked = len(sim.graphql_requests)
        assert asked < pages
        err = finish(worker(sim, db_dsn, job, AUTOTHROTTLE_ENABLED="0"))
        total = len(sim.graphql_requests)
    posts, _, _ = stored(db_dsn)
    assert posts == want, (sorted(want - posts), stats_of(err))
    # The survivor asks again, at the walk's cursor, each walk entry the victim
    # held: the page in flight, and the page whose next request it had not yet
    # queued. Two asks at most; the cursor takes one answer each.
    assert total <= pages + 2, (asked, total, pages)
    assert "pages answered twice" in err or total <= pages + 1
    print(f"walk across a SIGKILL: {total} requests for {pages} pages, {len(posts)} posts")


def test_a_new_pass_over_a_job_starts_its_walks_over(job: tuple[str, str]) -> None:
    url, name = job
    frontier = Frontier(FrontierConfig(url=url, job=name, idle_seconds=0, heartbeat_ttl=5))
    walks = RedisWalks(frontier.server, frontier.walks_key)
    walk = "https://medium.com/tag/seo/archive"
    assert walks.advance(walk, None, WalkCursor(after=None, pages=3, done=True), [])
    assert walks.get(walk) is not None
    frontier.reset_seen()  # what `harvest enqueue` does for a finished job
    assert walks.get(walk) is None
