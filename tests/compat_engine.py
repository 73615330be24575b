"""Scrapy's engine, woken by harvest.compat.wake_engine while its scheduler is empty.

Run by tests/test_compat.py in a process of its own (it installs Twisted's
asyncio reactor). Prints one JSON line: how soon after the wake the engine
asked the scheduler again, and whether it did before its own heartbeat would.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from scrapy.utils.reactor import install_reactor

install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")

from scrapy import Spider, signals  # noqa: E402
from scrapy.core.scheduler import Scheduler  # noqa: E402
from scrapy.crawler import CrawlerProcess  # noqa: E402
from scrapy.exceptions import DontCloseSpider  # noqa: E402
from twisted.internet import reactor  # noqa: E402

REACTOR: Any = reactor  # Twisted types the module, not the installed reactor

from harvest import compat  # noqa: E402

ASKED: list[float] = []
RESULT: dict[str, Any] = {}


class CountingScheduler(Scheduler):
    def next_request(self) -> Any:
        ASKED.append(time.monotonic())
        return super().next_request()


class Idle(Spider):
    name = "idle"

    async def start(self) -> Any:
        return
        yield

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Idle:
        spider: Idle = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        return spider

    def idle(self) -> None:
        raise DontCloseSpider

    def opened(self) -> None:
        REACTOR.callLater(1.0, self.wake)

    def wake(self) -> None:
        before = len(ASKED)
        woke_at = time.monotonic()
        woken = compat.wake_engine(self.crawler.engine)

        def check() -> None:
            after = [t - woke_at for t in ASKED[before:]]
            RESULT.update(woken=woken, asked_after=after[0] if after else None)
            RESULT["closing"] = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason="finished")
            )

        REACTOR.callLater(0.5, check)


def main() -> None:
    process = CrawlerProcess(
        {
            "SCHEDULER": f"{__name__}.CountingScheduler",
            "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    process.crawl(Idle)
    process.start()
    RESULT.pop("closing", None)
    print(json.dumps(RESULT))


if __name__ == "__main__":
    main()
