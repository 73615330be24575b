"""Scrapy settings for harvest.

Scrapy's own settings are set here; harvest's (``HARVEST_*``, ``MEDIUM_BASE_URL``)
are declared in :mod:`harvest.config` and read from ``-s``, then the
environment, then their defaults; none of them is set here.
"""

from harvest.config import DEFAULT_USER_AGENT

BOT_NAME = "harvest"
SPIDER_MODULES = ["harvest.crawl.spider"]
# `scrapy crawl` (and scrapyd's jobs, which run it) exits with the crawl's outcome.
COMMANDS_MODULE = "harvest.crawl.commands"

# A harvester identifies itself and says how to reach its operator;
# HARVEST_USER_AGENT replaces this (the medium spider applies it).
USER_AGENT = DEFAULT_USER_AGENT
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
# 429 and 503 are the host gate's (harvest.crawl.hostgate): it waits as long as
# Retry-After asks without holding a downloader slot, and counts bursts for
# its breaker. Scrapy's RetryMiddleware retries the rest at once.
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]
# A page that failed for good is reported once, by the spider, with its reason.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
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
LOG_FORMATTER = "harvest.crawl.logformatter.HarvestLogFormatter"
# Medium's public pages need no session, and a cookie jar costs every request
# and response a pass through it (the browser keeps its own).
COOKIES_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
# Both give a Python shell inside the crawler, whose environment holds the
# database's, Redis's and scrapyd's credentials: off unless asked for. With
# TELNETCONSOLE_ENABLED=1 the password goes to an owner-only file, never to the
# log (harvest.crawl.commands.crawl).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

ITEM_PIPELINES = {
    "harvest.pipelines.normalize.NormalizePipeline": 100,
    "harvest.pipelines.postgres.PostgresPipeline": 800,
}

DOWNLOADER_MIDDLEWARES = {
    # OffsiteGuardMiddleware decides offsite; Scrapy's own, with the spider's
    # allowed_domains left unset, would let everything through at a cost per
    # request (~2 % of the crawler thread).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    # First of all: a page is found when it leaves the scheduler (harvest.crawl.pages).
    "harvest.crawl.pages.PageFoundMiddleware": 50,
    "harvest.crawl.offsite.OffsiteGuardMiddleware": 60,
    # Next to the downloader: it sees responses before the retry middleware
    # (550) does, and stamps each request's real send time.
    "harvest.crawl.hostgate.HostGateMiddleware": 590,
    # After Scrapy's RobotsTxtMiddleware (100): a walk's page must be allowed too.
    "harvest.crawl.walk_robots.WalkRobotsMiddleware": 110,
}

SPIDER_MIDDLEWARES = {
    # Outermost (nearest the engine): it sees a callback's output last, after
    # every other middleware, and only a callback that ran to its end ends its page.
    "harvest.crawl.pages.PageEndMiddleware": 5,
}

EXTENSIONS = {
    # harvest.crawl.progress says more, and more often.
    "scrapy.extensions.logstats.LogStats": None,
    "harvest.crawl.progress.Progress": 500,
    "harvest.crawl.outcome.CrawlOutcome": 510,
}
