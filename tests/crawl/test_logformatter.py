"""Per-page log messages: none below LOG_LEVEL, and no item dumps at DEBUG."""

from __future__ import annotations

import logging

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.spiders import Spider
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from harvest.crawl.logformatter import HarvestLogFormatter
from tests.factories import T0, make_link, make_page

ITEM = make_page(
    "0123456789ab",
    [make_link(f"https://e.com/{i}", i, text="secret anchor text") for i in range(3)],
    T0,
)
URL = ITEM.article.url or ""
ITEM.url = URL


def _formatter(**settings: object) -> HarvestLogFormatter:
    return HarvestLogFormatter.from_crawler(get_crawler(Spider, settings))


def test_the_project_uses_it_at_info() -> None:
    settings = get_project_settings()
    assert settings.get("LOG_FORMATTER") == "harvest.crawl.logformatter.HarvestLogFormatter"
    assert settings.get("LOG_LEVEL") == "INFO"


@pytest.mark.parametrize("level", ["INFO", "WARNING", logging.ERROR])
def test_no_per_page_records_above_debug(level: object) -> None:
    fmt = _formatter(LOG_LEVEL=level)
    request = Request(URL)
    response = HtmlResponse(URL, body=b"<html></html>", request=request)
    assert fmt.crawled(request, response, Spider("s")) is None
    assert fmt.scraped(ITEM, response, Spider("s")) is None


def test_no_records_when_logging_is_off() -> None:
    assert _formatter(LOG_LEVEL="DEBUG", LOG_ENABLED=False).debug is False


@pytest.mark.parametrize("level", ["DEBUG", "debug", logging.DEBUG])
def test_debug_summarizes_items(level: object) -> None:
    fmt = _formatter(LOG_LEVEL=level)
    request = Request(URL)
    response = HtmlResponse(URL, body=b"<html></html>", request=request)
    crawled = fmt.crawled(request, response, Spider("s"))
    assert crawled is not None and crawled["level"] == logging.DEBUG
    scraped = fmt.scraped(ITEM, response, Spider("s"))
    assert scraped is not None
    text = scraped["msg"] % scraped["args"]
    assert f"ArticlePage {URL} 3 links" in text
    assert "secret anchor text" not in text
