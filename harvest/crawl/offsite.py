"""The offsite guard: requests go to Medium, its publications and the mirror only."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

log = logging.getLogger(__name__)


class OffsiteGuardMiddleware:
    """Refuse every request the crawl's offsite rule refuses (``spider.refusal``).

    The spider only builds requests for Medium pages; this is the second line,
    and the one that also sees redirects and robots.txt fetches, so that an
    outbound link target, a redirect to another host or port, or a non-web URL
    (``file:``) is never fetched.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> OffsiteGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        refusal = getattr(self.crawler.spider, "refusal", None)
        why = refusal(request.url) if refusal is not None else None
        if why is None:
            return
        self.crawler.stats.inc_value("harvest/offsite_refused")
        log.warning("refused offsite request %s: %s", request.url[:300], why)
        raise IgnoreRequest(f"offsite: {why}")
