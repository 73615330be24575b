"""The baseline for bench/crawl.py: a Scrapy spider that downloads a URL list and nothing else.

bench/crawl.py runs it beside harvest; run alone, it ends with its own figure:

    .venv/bin/scrapy runspider bench/bare_spider.py -a urls_file=URLS [-s NAME=VALUE ...]
"""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import scrapy


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls_file: str, meta: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with open(urls_file, encoding="utf-8") as fh:
            self.start_urls = [line.strip() for line in fh if line.strip()]
        self._started = time.perf_counter()
        # -a meta='{"impersonate": "chrome"}': what a download handler reads
        # from each request (bench/fetchers.py)
        self.meta: dict[str, Any] = json.loads(meta) if meta else {}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self._started = time.perf_counter()
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse, meta=dict(self.meta))

    def parse(self, response: Any, **kwargs: Any) -> None:
        # downloading is all it does: the body is dropped unread
        return None

    def closed(self, reason: str) -> None:
        # From the first request to the close, process start-up left out
        # (bench/crawl.py times the whole process instead).
        elapsed = time.perf_counter() - self._started
        pages = self.crawler.stats.get_value("response_received_count", 0)
        print(f"RESULT pages={pages} pages_per_s={pages / elapsed:.0f}", flush=True)
