"""What harvest's scheduler takes from scrapy-redis's (pinned in pyproject.toml).

FrontierScheduler subclasses ``scrapy_redis.scheduler.Scheduler`` for its Redis
connection and seen-set, and replaces its queue: these tests fail when an
upgrade changes what the subclass relies on.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.utils.test import get_crawler
from scrapy_redis.dupefilter import RFPDupeFilter  # type: ignore[import-untyped]
from scrapy_redis.scheduler import Scheduler  # type: ignore[import-untyped]

from harvest.crawl.spider import MediumSpider
from harvest.frontier.scheduler import FrontierScheduler
from tests.frontier.conftest import spider_settings


def test_the_scheduler_opens_with_a_server_a_seen_set_and_stats(job: tuple[str, str]) -> None:
    crawler: Any = get_crawler(MediumSpider, spider_settings(job))
    spider = MediumSpider.from_crawler(crawler, tags="seo")
    scheduler = FrontierScheduler.from_crawler(crawler)
    assert isinstance(scheduler, Scheduler)
    scheduler.open(spider)
    try:
        # what the subclass uses of its parent's
        assert scheduler.server.ping()
        assert isinstance(scheduler.df, RFPDupeFilter)
        assert isinstance(scheduler.df.request_fingerprint(Request("https://medium.com/x")), str)
        assert scheduler.spider is spider
        assert scheduler.stats is crawler.stats
        # and it queues through harvest's schema, not scrapy-redis's queue
        listing = spider.request_for("listing", "https://medium.com/tag/seo")
        assert scheduler.enqueue_request(listing)
        scheduler.frontier.flush_releases()
        assert scheduler.frontier.queued() == 1
    finally:
        scheduler.close("finished")
