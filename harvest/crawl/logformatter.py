"""Scrapy's per-page log messages, at a cost a large crawl can carry.

Scrapy builds a DEBUG record for every response ("Crawled") and every item
("Scraped"), and only its log handler drops them when LOG_LEVEL is higher: the
crawler's thread pays for messages nobody reads (~3 % of it in bench/crawl.py).
And at DEBUG the "Scraped" message holds the whole item, which for an article
page is every link it carries: kilobytes of log per page.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


class HarvestLogFormatter(LogFormatter):
    """No per-page DEBUG records below LOG_LEVEL; items summarized, not dumped."""

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler: Any) -> HarvestLogFormatter:
        level = crawler.settings.get("LOG_LEVEL") or logging.DEBUG
        if isinstance(level, str):
            number = logging.getLevelName(level.upper())
            level = number if isinstance(number, int) else logging.DEBUG
        return cls(debug=crawler.settings.getbool("LOG_ENABLED", True) and level <= logging.DEBUG)

    def crawled(self, request: Any, response: Any, spider: Any) -> LogFormatterResult | None:  # type: ignore[override]
        return super().crawled(request, response, spider) if self.debug else None

    def scraped(self, item: Any, response: Any, spider: Any) -> LogFormatterResult | None:  # type: ignore[override]
        if not self.debug:
            return None
        result = super().scraped(item, response, spider)
        args = result.get("args")
        if isinstance(args, dict):
            result["args"] = {**args, "item": summary(item)}
        return result


def summary(item: Any) -> str:
    """An item's type, page and link count: what a reader of the log needs from it."""
    parts = [type(item).__name__]
    url = getattr(item, "url", None)
    if url:
        parts.append(str(url))
    links = getattr(item, "links", None)
    if isinstance(links, list):
        parts.append(f"{len(links)} links")
    return " ".join(parts)
