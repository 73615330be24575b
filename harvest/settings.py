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
# Bounds on hostile pages: bigger downloads are cut off by Scrapy (and the
# parsers refuse pages over harvest.medium.MAX_PAGE_BYTES, the same 32 MiB;
# see README, Reliability).
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
RETRY_TIMES = 3
# Scrapy starts this many asyncio tasks for every response's output; an
# article yields one item and a listing a few dozen requests, all handled
# without waiting, so the default of 100 only costs task set-up (6 % of the
# crawler's CPU in a profile of bench/crawl.py).
CONCURRENT_ITEMS = 4
# Medium redirects with HTTP status codes; none of the real pages from 2015 to
# 2025 carries a <meta http-equiv="refresh">. Looking for one costs decoding
# and scanning every body on the crawler thread (~150 us per article page,
# ~9 % of that thread). A refresh page would still be recorded, as unparsed.
METAREFRESH_ENABLED = False
# A crawl of thousands of pages logs its progress, not each page (Scrapy's
# advice for broad crawls); -s LOG_LEVEL=DEBUG brings the per-page lines back.
LOG_LEVEL = "INFO"
LOG_FORMATTER = "harvest.logformatter.HarvestLogFormatter"
# Medium's public pages need no session, and a cookie jar costs every request
# and response a pass through it (the browser keeps its own).
COOKIES_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

ITEM_PIPELINES = {
    "harvest.pipelines.normalize.NormalizePipeline": 100,
    "harvest.pipelines.postgres.PostgresPipeline": 800,
}
# The database: DATABASE_URL (environment) names a server; without it harvest
# runs an embedded PostgreSQL in HARVEST_PGDATA (default: the user data dir).
# Batching knobs (HARVEST_DB_BATCH_PAGES, HARVEST_DB_BATCH_LINKS,
# HARVEST_DB_FLUSH_INTERVAL, HARVEST_DB_WRITERS, HARVEST_DB_RETRIES) are read and
# checked by harvest.db.config.DbConfig.

DOWNLOADER_MIDDLEWARES = {
    # OffsiteGuardMiddleware decides offsite; Scrapy's own, with the spider's
    # allowed_domains left unset, would let everything through at a cost per
    # request (~2 % of the crawler thread).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "harvest.middlewares.RetryAfterMiddleware": 550,
    "harvest.middlewares.OffsiteGuardMiddleware": 60,
}
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
# MEDIUM_BASE_URL (setting or environment) points every Medium address at a
# mirror or the local simulator. The browser (scrapy-playwright, Chromium) is set
# up by harvest.spiders.browser.BrowserConfig; HARVEST_BROWSER=0 turns it off.
