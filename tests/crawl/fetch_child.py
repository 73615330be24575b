"""Fetch one URL through harvest's fetch handler in a process of its own (it
installs the asyncio reactor), and print what came back as one JSON line.

    python -m tests.crawl.fetch_child URL [SETTING=VALUE ...]
"""

from __future__ import annotations

import json
import sys
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess

from harvest.crawl import fetchers


class _One(scrapy.Spider):
    name = "one"

    def __init__(self, url: str, out: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.out = out

    async def start(self) -> Any:
        yield scrapy.Request(self.url, callback=self.got, errback=self.failed, dont_filter=True)

    def got(self, response: scrapy.http.Response) -> None:
        self.out.update(status=response.status, body=response.text, flags=response.flags)

    def failed(self, failure: Any) -> None:
        self.out.update(error=type(failure.value).__name__, message=str(failure.value)[:300])


def main() -> None:
    url, *pairs = sys.argv[1:]
    harvest = dict(pair.split("=", 1) for pair in pairs)
    settings: dict[str, Any] = {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "LOG_LEVEL": "ERROR",
        "RETRY_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        **harvest,
    }
    settings.update(fetchers.scrapy_settings(settings))
    out: dict[str, Any] = {}
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(_One)
    process.crawl(crawler, url=url, out=out)
    process.start()
    out["fetched"] = {
        k: v for k, v in crawler.stats.get_stats().items() if k.startswith(fetchers.STATS)
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
