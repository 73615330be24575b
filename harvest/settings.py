"""Scrapy settings for harvest. Component settings are validated where they are read."""

import os

BOT_NAME = "harvest"
SPIDER_MODULES = ["harvest.spiders"]
NEWSPIDER_MODULE = "harvest.spiders"

# A harvester identifies itself and says how to reach its operator.
USER_AGENT = os.environ.get(
    "HARVEST_USER_AGENT",
    "harvest/0.1 (+https://github.com/harvest-medium/harvest; link research crawler)",
)
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_TARGET_CONCURRENCY = 8.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 3
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
