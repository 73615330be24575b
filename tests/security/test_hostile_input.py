"""Hostile pages: one bad page loses nothing but itself, and says so; nothing hangs."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvest.crawl.parse_pool import Parser, ParserDied
from harvest.db.connection import connect
from harvest.medium import extract
from harvest.pipelines.normalize import NormalizePipeline
from tests.factories import T0, make_link, make_page
from tests.pg import rows, scalar
from tests.pipelines.test_postgres import close, make_pipeline

ARTICLE = """<!DOCTYPE html><html><head><title>x</title>
<link rel="canonical" href="https://medium.com/@a/post-0123456789ab">
<script type="application/ld+json">{ld}</script></head><body><article><section>
<p>A <a href="https://example.com/a" rel="noopener ugc nofollow">link</a></p>
</section></article></body></html>"""


def page_with_ld(**ld: Any) -> bytes:
    data = {
        "@type": "NewsArticle",
        "identifier": "0123456789ab",
        "headline": "H",
        "datePublished": "2024-01-01T00:00:00Z",
        "author": {"@type": "Person", "name": "A", "url": "https://medium.com/@a"},
        **ld,
    }
    return ARTICLE.format(ld=json.dumps(data)).encode()


def run_pipelines(dsn: str, pages: list[Any]) -> Any:
    p, stats = make_pipeline(dsn)
    normalize = NormalizePipeline(stats)

    async def scenario() -> None:
        await p.open_spider()
        for page in pages:
            await p.process_item(await normalize.process_item(page))
        await close(p)

    asyncio.run(scenario())
    return stats


def test_a_nul_in_a_publisher_name_loses_nothing(db_dsn: str) -> None:
    pages = [make_page(f"{i:012x}", [make_link(f"https://s{i}.example/", 0)], T0) for i in range(3)]
    assert pages[1].article.publication is not None
    pages[1].article.publication.name = "The\x00 Pub"  # as a JSON-LD publisher name can be
    pages[2].article.author.name = "Wri\x00ter \udc80"  # type: ignore[union-attr]
    stats = run_pipelines(db_dsn, pages)
    conn = connect(db_dsn)
    assert scalar(conn, "SELECT count(*) FROM posts") == 3
    assert scalar(conn, "SELECT name FROM publications") == "The Pub"
    assert scalar(conn, "SELECT status FROM crawl_runs") == "finished"
    conn.close()
    assert stats.get_value("harvest/normalize/repaired/text") == 2  # two fields


def test_a_page_the_database_refuses_is_set_apart_and_the_rest_stored(db_dsn: str) -> None:
    pages = [make_page(f"{i:012x}", [make_link(f"https://s{i}.example/", 0)], T0) for i in range(5)]
    pages[3].links[0].kind = "not-a-kind"  # type: ignore[assignment]  # no label of link_kind
    stats = run_pipelines(db_dsn, pages)
    conn = connect(db_dsn)
    stored = {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
    failures = rows(conn, "SELECT kind, url, reason FROM crawl_failures")
    status = scalar(conn, "SELECT status FROM crawl_runs")
    conn.close()
    assert stored == {f"{i:012x}" for i in (0, 1, 2, 4)}
    assert len(failures) == 1
    kind, url, reason = failures[0]
    assert kind == "failed" and url.endswith("000000000003")
    assert reason.startswith("could not be stored:") and "enum link_kind" in reason
    assert status == "finished_with_failures"
    assert stats.get_value("harvest/outcome/failed/could not be stored") == 1


@pytest.mark.parametrize("pattern", ["<div></x>", "<span></div>", "<div><b></b>", "<div>"])
def test_deep_unclosed_nesting_is_refused_in_no_time(pattern: str) -> None:
    page = ("<html><body>" + pattern * 80_000 + "x</body></html>").encode()
    started = time.perf_counter()
    result = extract(page, "https://medium.com/@a/x-0123456789ab")
    assert time.perf_counter() - started < 2.0  # it used to take 15 s
    assert result.kind == "unknown"
    assert result.problems == ["elements nested deeper than 1024 levels"]


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-13-01", "yesterday", ""],
)
def test_impossible_dates_are_unknown_dates(when: str) -> None:
    result = extract(page_with_ld(datePublished=when), "https://medium.com/@a/post-0123456789ab")
    assert result.kind == "article" and result.article is not None
    assert result.article.published_at is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_no_date_text_makes_extract_raise(when: str) -> None:
    extract(page_with_ld(datePublished=when), "https://medium.com/@a/post-0123456789ab")


def test_a_page_that_takes_too_long_is_given_up_and_parsing_goes_on() -> None:
    parser = Parser(1, timeout=1.0)
    parser.child_module = "tests.security.slow_child"
    good = page_with_ld()

    async def scenario() -> tuple[Any, Any, float]:
        try:
            started = time.monotonic()
            slow = asyncio.ensure_future(
                parser.parse(b"<!-- SLOW-PAGE -->" + good, None, "text/html", ())
            )
            after = asyncio.ensure_future(
                parser.parse(good, "https://medium.com/@a/post-0123456789ab", "text/html", ())
            )
            first = await asyncio.gather(slow, return_exceptions=True)
            second = await after
            return first[0], second, time.monotonic() - started
        finally:
            await parser.aclose()

    first, second, took = asyncio.run(scenario())
    assert isinstance(first, ParserDied)
    assert "longer than 1 s (HARVEST_PARSE_TIMEOUT)" in str(first)
    assert second.kind == "article"  # the page queued behind it went to a new child
    assert took < 10
    assert parser.timeouts == 1
