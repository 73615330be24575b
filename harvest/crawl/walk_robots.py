"""robots.txt for a GraphQL walk's page as well as its endpoint (a downloader
middleware after Scrapy's own), and the words both refuse a request with."""

from __future__ import annotations

from typing import Any

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.httpobj import urlparse_cached

from harvest.contract.meta import WALK_META

# Scrapy's RobotsTxtMiddleware refuses a request with this message; a walk whose
# page robots.txt disallows is refused with it too, saying so.
ROBOTS_REFUSAL = "Forbidden by robots.txt"
ROBOTS_PAGE_REFUSAL = f"{ROBOTS_REFUSAL}: the walk's page"


class WalkRobotsMiddleware:
    """robots.txt for a walk's page as well as its endpoint.

    Scrapy's RobotsTxtMiddleware checks the URL a request goes to
    (``/_/graphql``); a GraphQL operation also stands for the page it belongs
    to (its Referer: ``/tag/seo/archive``), and where robots.txt disallows that
    page the walk is refused too. The parsers come from Scrapy's public
    ``robots_parsed`` signal, sent before the request reaches this middleware.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._parsers: dict[str, Any] = {}
        self._agent = crawler.settings.get("ROBOTSTXT_USER_AGENT") or crawler.settings.get(
            "USER_AGENT"
        )
        self.enabled = crawler.settings.getbool("ROBOTSTXT_OBEY")
        crawler.signals.connect(self._parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> WalkRobotsMiddleware:
        return cls(crawler)

    def _parsed(self, robotparser: Any, request: Request, **kwargs: Any) -> None:
        self._parsers[urlparse_cached(request).netloc] = robotparser

    async def process_request(self, request: Request) -> None:
        if not self.enabled or WALK_META not in request.meta:
            return
        parser = self._parsers.get(urlparse_cached(request).netloc)
        referer = request.headers.get(b"Referer")
        if parser is None or not referer:
            return
        spider = self.crawler.spider
        page = spider.urls.fetch_url(referer.decode("latin-1"))
        agent = self._agent or request.headers.get(b"User-Agent", b"")
        if not parser.allowed(page, agent):
            raise IgnoreRequest(f"{ROBOTS_PAGE_REFUSAL} {referer.decode('latin-1')[:300]}")
