"""harvest.frontier.tokens: when a request taken from the shared queue is done.

Driven the way a crawl drives it, through Scrapy's signals and harvest's own,
against a real Redis: a token stays held in Redis until everything its
response made is safe, and no sooner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request, signals
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from harvest.contract import signals as harvest_signals
from harvest.frontier import Frontier, FrontierConfig
from harvest.frontier.tokens import TOKEN, FrontierTokens
from harvest.items import PageProblem


class _Spider:
    frontier: Frontier


def _setup(job: tuple[str, str]) -> tuple[Any, Frontier, FrontierTokens, str]:
    url, name = job
    frontier = Frontier(FrontierConfig(url=url, job=name, idle_seconds=0, heartbeat_ttl=5))
    frontier.server.lpush(frontier.queue_key, b"{}")
    [(token, _)] = frontier.exchange(1)
    crawler = get_crawler(settings_dict={"HARVEST_REDIS_URL": url})
    spider: Any = _Spider()
    spider.frontier = frontier
    crawler.spider = spider
    return crawler, frontier, FrontierTokens.from_crawler(crawler), token


def _held(frontier: Frontier, token: str) -> bool:
    frontier.flush_releases()
    return bool(frontier.server.hexists(frontier.held_key, token))


def _callback(tokens: FrontierTokens, token: str, *outputs: Any) -> list[Any]:
    response = HtmlResponse(
        "https://medium.com/x",
        body=b"",
        request=Request("https://medium.com/x", meta={TOKEN: token}),
    )

    async def output() -> AsyncIterator[Any]:
        for out in outputs:
            yield out

    async def run() -> list[Any]:
        return [out async for out in tokens.process_spider_output(response, output())]

    return asyncio.run(run())


def _item() -> PageProblem:
    return PageProblem(url="https://medium.com/x", kind="failed", reason="r", cause="c")


def test_without_a_store_an_item_is_done_when_scraped(job: tuple[str, str]) -> None:
    crawler, frontier, tokens, token = _setup(job)
    item = _item()
    _callback(tokens, token, item)
    assert _held(frontier, token)
    crawler.signals.send_catch_log(signal=signals.item_scraped, item=item)
    assert not _held(frontier, token)


def test_with_a_store_an_item_is_done_only_when_stored(job: tuple[str, str]) -> None:
    crawler, frontier, tokens, token = _setup(job)
    crawler.signals.send_catch_log(signal=harvest_signals.store_opened)
    first, second = _item(), _item()
    _callback(tokens, token, first, second)
    for item in (first, second):
        crawler.signals.send_catch_log(signal=signals.item_scraped, item=item)
    assert _held(frontier, token), "released when scraped, before the store committed"
    crawler.signals.send_catch_log(signal=harvest_signals.items_stored, items=[first])
    assert _held(frontier, token)
    crawler.signals.send_catch_log(signal=harvest_signals.items_stored, items=[second])
    assert not _held(frontier, token)


def test_a_dropped_item_counts_as_done(job: tuple[str, str]) -> None:
    crawler, frontier, tokens, token = _setup(job)
    crawler.signals.send_catch_log(signal=harvest_signals.store_opened)
    item = _item()
    _callback(tokens, token, item)
    crawler.signals.send_catch_log(signal=signals.item_dropped, item=item)
    assert not _held(frontier, token)


def test_a_request_that_failed_for_good_is_done(job: tuple[str, str]) -> None:
    crawler, frontier, _, token = _setup(job)
    request = Request("https://medium.com/x", meta={TOKEN: token})
    crawler.signals.send_catch_log(signal=harvest_signals.request_failed, request=request)
    assert not _held(frontier, token)


def test_a_retry_copy_frees_its_original_once_queued(job: tuple[str, str]) -> None:
    crawler, frontier, _, token = _setup(job)
    copy = Request("https://medium.com/x", meta={TOKEN: token}, dont_filter=True)
    crawler.signals.send_catch_log(signal=signals.request_scheduled, request=copy)
    assert TOKEN not in copy.meta  # the copy gets a token of its own when taken
    frontier.push(None, b"{}")  # what the scheduler does next
    assert not _held(frontier, token)
    assert frontier.queued() == 1


def test_a_callback_that_raised_is_done(job: tuple[str, str]) -> None:
    _, frontier, tokens, token = _setup(job)
    response = HtmlResponse(
        "https://medium.com/x",
        body=b"",
        request=Request("https://medium.com/x", meta={TOKEN: token}),
    )
    tokens.process_spider_exception(response, ValueError("boom"))
    assert not _held(frontier, token)
