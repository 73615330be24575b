"""A crawl's outcome, decided from its counts, and the summary that says it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy.statscollectors import MemoryStatsCollector

from harvest.contract.tally import EXIT_CODES, Outcome, decide, problem_cause, summary_lines
from harvest.crawl.progress import progress_line
from harvest.items import PageProblem

STORED = {"harvest/db/run_id": 7, "harvest/db/where": "embedded PostgreSQL in /d"}


@pytest.mark.parametrize(
    ("stats", "reason", "status"),
    [
        ({**STORED, "harvest/db/pages": 10}, "finished", "finished"),
        # deliberate skips and limits are not failures
        (
            {**STORED, "harvest/db/pages": 3, "harvest/posts/skipped_recent": 5},
            "closespider_itemcount",
            "finished",
        ),
        ({**STORED, "harvest/db/pages": 1, "harvest/outcome/skipped": 4}, "finished", "finished"),
        # an empty crawl is honest: nothing was found, nothing was lost
        (STORED, "finished", "finished"),
        (
            {**STORED, "harvest/db/pages": 9, "harvest/outcome/failed": 1},
            "finished",
            "finished_with_failures",
        ),
        (
            {**STORED, "harvest/db/pages": 9, "harvest/outcome/blocked": 1},
            "finished",
            "finished_with_failures",
        ),
        (
            {**STORED, "harvest/db/pages": 9, "harvest/outcome/unparsed": 1},
            "finished",
            "finished_with_failures",
        ),
        (
            {**STORED, "harvest/db/pages": 9, "item_dropped_count": 1},
            "finished",
            "finished_with_failures",
        ),
        (
            {**STORED, "harvest/db/pages": 9, "spider_exceptions/count": 1},
            "finished",
            "finished_with_failures",
        ),
        (
            {**STORED, "harvest/db/pages": 9, "harvest/hosts/abandoned": 2},
            "finished",
            "finished_with_failures",
        ),
        ({**STORED, "harvest/outcome/blocked": 12}, "finished", "blocked"),
        (
            {**STORED, "harvest/db/pages": 40, "harvest/hosts/gave_up": 1},
            "finished",
            "blocked",
        ),
        (
            {**STORED, "harvest/outcome/failed": 2, "harvest/outcome/failed/unreachable": 2},
            "finished",
            "failed",
        ),
        # some pages of a reachable Medium failed: not "nothing was reachable"
        (
            {
                **STORED,
                "harvest/outcome/failed": 2,
                "harvest/outcome/failed/unreachable": 1,
            },
            "finished",
            "finished_with_failures",
        ),
        ({}, "database_unavailable", "failed"),
        ({**STORED, "harvest/db/pages": 9, "harvest/db/pages_not_stored": 3}, "finished", "failed"),
        ({**STORED, "harvest/db/pages": 9}, "shutdown", "failed"),
        # without the database the scraped items count
        ({"harvest/outcome/pages": 4}, "finished", "finished"),
    ],
)
def test_decide(stats: dict[str, Any], reason: str, status: str) -> None:
    outcome = decide(stats, reason)
    assert outcome.status == status, outcome
    assert outcome.exit_code == EXIT_CODES[status]


def test_exit_codes_are_distinct_and_only_finished_is_zero() -> None:
    assert EXIT_CODES["finished"] == 0
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
    assert 2 not in EXIT_CODES.values()  # Scrapy's usage error


def test_summary_says_what_where_and_what_next() -> None:
    stats = {
        **STORED,
        "harvest/db/pages": 27,
        "harvest/db/profiles": 2,
        "harvest/db/posts_new": 20,
        "harvest/db/posts_recrawled": 5,
        "harvest/db/links": 412,
        "harvest/db/links_new": 380,
        "harvest/db/links_seen": 32,
        "harvest/db/links_lost": 4,
        "harvest/posts/skipped_recent": 3,
        "harvest/outcome/skipped": 1,
        "harvest/outcome/skipped/robots.txt": 1,
        "harvest/outcome/failed": 2,
        "harvest/outcome/failed/HTTP 404": 1,
        "harvest/outcome/failed/unreachable": 1,
        "harvest/outcome/blocked": 1,
        "harvest/outcome/blocked/challenge": 1,
    }
    outcome = decide(stats, "finished")
    text = "\n".join(summary_lines(stats, outcome, ["medium.com paused 1× for 2 s in all"]))
    assert text.splitlines()[0] == (
        "crawl finished with failures (exit status 3): 3 pages not harvested: 2 failed, 1 blocked"
    )
    for part in (
        "harvested: 29 pages (25 posts: 20 new, 5 recrawled; 2 profiles)",
        "links: 412 stored (380 new, 32 seen again), 4 lost",
        "skipped: 3 harvested recently, 1 by robots.txt",
        "failed 2 (HTTP 404 ×1, unreachable ×1); blocked 1 (challenge ×1)",
        "host: medium.com paused 1× for 2 s in all",
        "data: embedded PostgreSQL in /d (run 7)",
        "next: harvest crawl-report 7",
    ):
        assert part in text, (part, text)


def test_summary_of_a_crawl_that_could_not_reach_its_database_is_one_line() -> None:
    stats = {"harvest/db/unavailable": True}
    lines = summary_lines(stats, decide(stats, "database_unavailable"))
    assert lines == [
        "crawl failed (exit status 1): the database was unreachable when the crawl started"
    ]


def test_problem_cause() -> None:
    assert problem_cause(PageProblem("u", "failed", "HTTP 404", cause="HTTP 404")) == "HTTP 404"
    assert problem_cause(PageProblem("u", "unparsed", "not an article (listing)")) == (
        "not an article (listing)"
    )
    assert problem_cause(PageProblem("u", "failed", "TimeoutError: 30 s")) == "TimeoutError"


def test_progress_line() -> None:
    stats = {
        "response_received_count": 120,
        "harvest/db/pages": 80,
        "scheduler/enqueued": 200,
        "scheduler/dequeued": 160,
        "harvest/outcome/failed": 2,
        "harvest/outcome/blocked": 1,
        "harvest/hosts/postponed": 7,
    }
    line = progress_line(stats, 20.0, (10.0, 20))
    assert line == (
        "progress: 120 pages fetched (10.0/s); 80 pages stored; 40 requests waiting in the "
        "queue; 7 requests held back while their host was paused (rate limit); "
        "2 failed, 1 blocked"
    )
    assert progress_line({}, 5.0, (0.0, 0)).endswith("no failures")


def test_outcome_is_a_value() -> None:
    assert Outcome("blocked", "x").exit_code == 4


def test_an_interrupted_crawl_says_how_to_go_on() -> None:
    from harvest.crawl.outcome import resume_command

    argv = ["/x/.venv/lib/python3.11/site-packages/scrapy/__main__.py", "medium", "-a", "tags=a b"]
    assert resume_command(argv, "job") == "scrapy crawl medium -a 'tags=a b'"
    assert resume_command(["/x/.venv/bin/scrapy", "crawl", "medium"], "job") == (
        "scrapy crawl medium"
    )
    assert "JOBDIR" in resume_command(["/x/.venv/bin/scrapy", "crawl", "medium"], None)
    stats = {"harvest/outcome/interrupted": "scrapy crawl medium -s JOBDIR=job"}
    outcome = decide(stats, "shutdown")
    assert outcome.exit_code == 1 and "interrupted" in outcome.why
    lines = summary_lines(stats, outcome)
    assert lines[-1] == "  resume: scrapy crawl medium -s JOBDIR=job"


@pytest.mark.parametrize(
    ("extra", "status", "lost"),
    [
        # every found post accounted for: skipped, or fetched and ended one way
        ({"harvest/posts/ended/harvested": 7, "harvest/posts/ended/failed": 1}, 3, 0),
        ({"harvest/posts/ended/harvested": 8}, 0, 0),
        # one fetched post reached no end: lost, and the crawl says so
        ({"harvest/posts/ended/harvested": 7}, 3, 1),
    ],
)
def test_found_posts_add_up_or_the_crawl_says_what_was_lost(
    extra: dict[str, int], status: int, lost: int
) -> None:
    stats = {
        **STORED,
        "harvest/db/pages": 8,
        "harvest/posts/found": 10,
        "harvest/posts/skipped_recent": 1,
        "harvest/posts/over_max_posts": 1,
        **extra,
    }
    if "harvest/posts/ended/failed" in extra:
        stats["harvest/outcome/failed"] = 1
    outcome = decide(stats, "finished")
    assert outcome.exit_code == status, outcome
    found_line = next(line for line in summary_lines(stats, outcome) if "found:" in line)
    assert found_line.startswith("  found: 10 distinct posts = 2 skipped + 8 fetched (")
    assert (f"{lost} lost" in found_line) is bool(lost), found_line


def test_each_post_ends_once_at_its_best() -> None:
    from scrapy.utils.test import get_crawler

    from harvest.crawl.outcome import CrawlOutcome
    from harvest.items import PostGone

    crawler = get_crawler()
    crawler.stats = MemoryStatsCollector(crawler)
    ext = CrawlOutcome(crawler)
    url = "https://medium.com/@a/p-0123456789ab"
    ext._scraped(PageProblem(url=url, kind="failed", reason="HTTP 500"))
    ext._scraped(PageProblem(url=url, kind="blocked", reason="challenge"))
    ext._scraped(
        PageProblem(url="https://medium.com/@a/q-0123456789ac", kind="unparsed", reason="x")
    )
    ext._scraped(PageProblem(url="https://medium.com/tag/seo", kind="failed", reason="listing"))
    ext._scraped(
        PostGone(
            post_id="0123456789ad",
            url="https://medium.com/p/0123456789ad",
            status="deleted",
            http_status=410,
        )
    )
    asyncio.run(ext._closed(None, "finished"))
    stats = crawler.stats.get_stats()
    ended = {
        k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("harvest/posts/ended/")
    }
    # the listing is a page, not a post; the post blocked after failing counts blocked
    assert ended == {"blocked": 1, "unparsed": 1, "harvested": 1}
