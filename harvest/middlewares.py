"""The offsite guard: requests go to Medium, its publications and the mirror only."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

from harvest.links import host_of, is_medium_host

log = logging.getLogger(__name__)


class OffsiteGuardMiddleware:
    """Refuse any request outside Medium, the mirror and known publication domains.

    The spider only builds requests for Medium pages; this is the second line
    that keeps an outbound link target from ever being fetched.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> OffsiteGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        spider = self.crawler.spider
        host = host_of(request.url)
        allowed = getattr(spider, "is_allowed_host", None)
        if host is None or allowed is None:
            return
        if is_medium_host(host) or allowed(host):
            return
        if request.url.endswith("/robots.txt"):
            return
        self.crawler.stats.inc_value("harvest/offsite_refused")
        log.warning("refused offsite request %s", request.url)
        raise IgnoreRequest(f"offsite: {host}")
