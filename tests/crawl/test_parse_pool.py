"""Parsing in child processes gives what parsing inline gives, and survives a dying child."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from harvest.crawl import parse_pool
from harvest.crawl.parse_pool import Parser, ParserDied
from harvest.medium import extract
from tests.medium.helpers import all_pages, page_bytes

TAG_URL = "https://medium.com/tag/seo"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def parse_all(parser: Parser, bodies: list[bytes | str], concurrency: int = 8) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(body: bytes | str) -> Any:
        async with sem:
            return await parser.parse(body, TAG_URL, "text/html", [])

    try:
        return await asyncio.gather(*(one(b) for b in bodies))
    finally:
        await parser.aclose()


def test_children_give_the_inline_results_for_every_real_page() -> None:
    names = all_pages()
    bodies: list[bytes | str] = [page_bytes(n) for n in names]
    inline = [extract(b, TAG_URL, content_type="text/html") for b in bodies]
    assert run(parse_all(Parser(2), bodies)) == inline


def test_text_bodies_are_sent_as_utf8_whatever_the_header_said() -> None:
    html = "<html><body><article><p><a href='https://café.example/x'>café</a></p></article></body></html>"

    async def go() -> Any:
        parser = Parser(1)
        try:
            return await parser.parse(html, TAG_URL, "text/html; charset=iso-8859-1", [])
        finally:
            await parser.aclose()

    assert run(go()) == extract(html, TAG_URL, content_type="text/html; charset=iso-8859-1")


def test_the_ring_wraps_and_falls_back_to_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    # A ring of 1 MB and pages of up to 700 KB in flight eight at a time:
    # pages go in at the start again, and those that fit nowhere go by pipe.
    monkeypatch.setattr(parse_pool._Ring, "SIZE", 1024 * 1024)
    names = sorted(all_pages(), key=lambda n: -len(page_bytes(n)))[:12]
    bodies: list[bytes | str] = [*(page_bytes(n) for n in names)] * 3
    placed: list[tuple[int, int] | None] = []
    original = parse_pool._Ring.place

    def spy(self: Any, data: bytes, pending: Any) -> Any:
        slot = original(self, data, pending)
        placed.append(slot)
        return slot

    monkeypatch.setattr(parse_pool._Ring, "place", spy)
    inline = [extract(b, TAG_URL, content_type="text/html") for b in bodies]
    assert run(parse_all(Parser(1), bodies)) == inline
    starts = [s[0] for s in placed if s is not None]
    assert starts.count(0) > 1, "never wrapped"
    assert None in placed, "never fell back to the pipe"


def test_a_child_that_dies_fails_its_page_and_the_rest_go_on() -> None:
    bodies: list[bytes | str] = [page_bytes(n) for n in all_pages()[:10]]
    inline = [extract(b, TAG_URL, content_type="text/html") for b in bodies]

    async def go() -> tuple[list[Any], int]:
        parser = Parser(1)
        try:
            await parser.parse(bodies[0], TAG_URL, "text/html", [])  # started
            child = parser._children[0]
            assert child.proc is not None
            tasks = [
                asyncio.ensure_future(parser.parse(b, TAG_URL, "text/html", [])) for b in bodies
            ]
            await asyncio.sleep(0)  # all sent
            os.kill(child.proc.pid, signal.SIGKILL)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            # and the new child serves later pages
            results.append(await parser.parse(bodies[1], TAG_URL, "text/html", []))
            return results, parser.restarts
        finally:
            await parser.aclose()

    results, restarts = run(go())
    assert restarts == 1
    died = [r for r in results if isinstance(r, ParserDied)]
    assert len(died) <= 1  # the page in hand when it died, if there was one
    assert "exited with code -9" in str(died[0]) if died else True
    good = [r for r in results[:-1] if not isinstance(r, BaseException)]
    assert len(good) >= len(bodies) - 1
    for i, r in enumerate(results[:-1]):
        if not isinstance(r, BaseException):
            assert r == inline[i]
    assert results[-1] == inline[1]


def test_bad_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        Parser(-1)

    class Settings(dict[str, Any]):
        pass

    with pytest.raises(ValueError, match="whole number"):
        Parser.from_settings(Settings(HARVEST_PARSE_WORKERS="two"))
    assert Parser.from_settings(Settings()).workers == parse_pool.default_workers()


def test_no_child_can_start_so_pages_are_parsed_inline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    bodies: list[bytes | str] = [page_bytes(n) for n in all_pages()[:4]]
    parser = Parser(1)
    results = run(parse_all(parser, bodies))
    assert results == [extract(b, TAG_URL, content_type="text/html") for b in bodies]
    assert parser.workers == 0
    assert "cannot start a parser process" in caplog.text


class _DyingParser:
    """Stands in for a parse child that dies on every page."""

    workers = 1

    async def parse(self, *args: Any) -> Any:
        raise ParserDied("parser process exited with code -11 while parsing this page")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("callback", ["parse_article", "parse_listing"])
def test_a_page_that_kills_the_parser_is_recorded_and_kept(callback: str, tmp_path: Any) -> None:
    from scrapy.http import HtmlResponse, Request
    from scrapy.utils.test import get_crawler

    from harvest.crawl.spider import MediumSpider
    from harvest.items import PageProblem

    crawler = get_crawler(
        MediumSpider,
        {"HARVEST_BROWSER": "0", "HARVEST_UNPARSED_DIR": str(tmp_path)},
    )
    crawler.stats.open_spider()
    spider = MediumSpider.from_crawler(crawler, tags="seo")
    crawler.spider = spider
    spider.parser = _DyingParser()  # type: ignore[assignment]
    url = (
        "https://medium.com/tag/seo"
        if callback == "parse_listing"
        else ("https://medium.com/@a/post-0123456789ab")
    )
    body = b"<html><body>" + b"<div>" * 10 + b"crash me</body></html>"
    response = HtmlResponse(url, body=body, request=Request(url, meta={"medium_url": url}))

    async def collect() -> list[Any]:
        return [item async for item in getattr(spider, callback)(response)]

    items = run(collect())
    problems = [i for i in items if isinstance(i, PageProblem)]
    assert len(problems) == 1, items
    assert problems[0].kind == "unparsed"
    assert "exited with code -11" in problems[0].reason
    assert problems[0].raw_path is not None
    assert b"crash me" in Path(problems[0].raw_path).read_bytes()
    assert crawler.stats.get_value("harvest/parser/crashes") == 1


def test_pages_sent_while_the_child_starts_keep_their_own_results() -> None:
    # Pages arrive one by one while the child is starting and right after:
    # each must get its own page's result, whatever the order of wake-ups.
    names = all_pages()
    bodies: list[bytes | str] = [*(page_bytes(n) for n in names)] * 2
    inline = [extract(b, TAG_URL, content_type="text/html") for b in bodies]

    async def go() -> list[Any]:
        parser = Parser(1)

        async def one(i: int, body: bytes | str) -> Any:
            await asyncio.sleep(i * 0.004)
            return await parser.parse(body, TAG_URL, "text/html", [])

        try:
            return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
        finally:
            await parser.aclose()

    for _ in range(3):
        assert run(go()) == inline


def test_a_page_that_comes_just_as_the_child_is_up_is_not_sent_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = all_pages()[:6]
    bodies = [page_bytes(n) for n in names]
    inline = [extract(b, TAG_URL, content_type="text/html") for b in bodies]
    original = parse_pool._Child._start
    late: list[asyncio.Future[Any]] = []

    async def start_then_a_late_page(self: Any) -> None:
        await original(self)
        # Runs before the pages that waited for the start are woken.
        late.append(asyncio.ensure_future(self.owner.parse(bodies[-1], TAG_URL, "text/html", [])))

    monkeypatch.setattr(parse_pool._Child, "_start", start_then_a_late_page)

    async def go() -> list[Any]:
        parser = Parser(1)
        try:
            early = await asyncio.gather(
                *(parser.parse(b, TAG_URL, "text/html", []) for b in bodies[:-1])
            )
            return [*early, await late[0]]
        finally:
            await parser.aclose()

    assert run(go()) == inline


def page_of_one_link() -> bytes:
    return (
        b"<html><body><article><p><a href='https://example.com/x'>x</a></p></article></body></html>"
    )


def test_a_slow_start_is_not_counted_against_the_parse_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # CI's loaded machine took more than the deadline to start a child: the
    # page it was to parse failed as "took longer than 1 s".
    monkeypatch.setenv("HARVEST_TEST_CHILD_START", "2.5")
    parser = Parser(1, timeout=1.0)
    parser.child_module = "tests.crawl.slow_start_child"
    body = page_of_one_link()
    results = run(parse_all(parser, [body, body]))
    assert results == [extract(body, TAG_URL, content_type="text/html")] * 2
    assert parser.timeouts == 0 and parser.restarts == 0


def test_a_child_that_never_gets_ready_is_killed_and_its_page_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HARVEST_TEST_CHILD_START", "60")
    monkeypatch.setattr(parse_pool._Child, "START_LIMIT", 1.0)
    parser = Parser(1, timeout=1.0)
    parser.child_module = "tests.crawl.slow_start_child"

    async def go() -> Any:
        try:
            return await asyncio.wait_for(
                parser.parse(page_of_one_link(), TAG_URL, "text/html", []), 20
            )
        finally:
            await parser.aclose()

    with pytest.raises(ParserDied, match="before it was ready"):
        run(go())
    assert parser.timeouts == 0
