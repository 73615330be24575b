"""Downloader middlewares: retries that honour Retry-After, and an offsite guard."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.response import response_status_message

from harvest.links import host_of, is_medium_host

log = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's retries, waiting as long as a 429 or 503 says before retrying.

    Without Retry-After the wait grows exponentially with the attempt. Waits
    are capped by HARVEST_RETRY_AFTER_MAX seconds; only this request waits, the
    rest of the crawl goes on.
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("HARVEST_RETRY_AFTER_MAX", 120.0)
        self.base_wait = settings.getfloat("HARVEST_RETRY_BACKOFF", 1.0)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        if response.status in (429, 503):
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is None:
                wait = self.base_wait * 2 ** request.meta.get("retry_times", 0)
            wait = min(wait, self.max_wait)
            if wait > 0:
                self.crawler.stats.inc_value("harvest/retry_after/waits")
                await asyncio.sleep(wait)
        reason = response_status_message(response.status)
        return self._retry(request, reason) or response


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
