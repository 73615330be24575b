"""What fetches a request: the browser for pages that are rendered, and for
the rest Scrapy's own HTTP client or, with ``HARVEST_FETCHER=impersonate``,
curl_cffi presenting a browser's TLS and HTTP/2 fingerprint and headers
(scrapy-impersonate).

A plain Twisted client is an easy Cloudflare challenge; the clients that
still list and fetch from Medium in 2025-2026 present a browser's
fingerprint (curl_cffi, curl-impersonate, a real browser). One download
handler for http and https picks the client per request, after every
downloader middleware has passed the request: the host gate, the breaker,
robots.txt and the offsite rule are the same whichever client fetches, and
curl_cffi follows no redirect (each hop comes back to Scrapy and its
checks). Each response is counted under the client that fetched it
(``harvest/fetch/<client>``), which the crawl summary prints.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.http import Request, Response
from scrapy.responsetypes import responsetypes

from harvest import config
from harvest.crawl.browser import BrowserConfig

HANDLER = "harvest.crawl.fetchers.FetchHandler"
STATS = "harvest/fetch/"


def scrapy_settings(settings: Any, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Scrapy settings ``HARVEST_FETCHER`` stands for (none for Scrapy's own
    client: the browser's handler, when on, falls back to it by itself)."""
    fetcher = config.value(settings, "HARVEST_FETCHER")
    if fetcher == "scrapy":
        return {}
    env = os.environ if environ is None else environ
    if fetcher == "zyte" and not (settings.get("ZYTE_API_KEY") or env.get("ZYTE_API_KEY")):
        raise config.SettingError(
            "HARVEST_FETCHER=zyte needs a Zyte API key: -s ZYTE_API_KEY=... or ZYTE_API_KEY "
            "in the environment"
        )
    return {"DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER}}


class PageTooLarge(Exception):
    """A body over the download size limit once decoded."""


class _Body:
    """The decoded body as curl hands it over, refused past ``limit`` bytes:
    curl decodes gzip, brotli and zstd itself, so a page of a few kilobytes
    that opens to gigabytes would be in memory before any Scrapy middleware
    could count it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def __call__(self, chunk: bytes) -> int:
        self.size += len(chunk)
        if self.limit and self.size > self.limit:
            raise PageTooLarge(self.size)
        self.parts.append(chunk)
        return len(chunk)


class FetchHandler(BaseDownloadHandler):
    """The browser for requests it renders, curl_cffi or Zyte API for the rest."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.fetcher = config.value(settings, "HARVEST_FETCHER")
        self.target = config.value(settings, "HARVEST_IMPERSONATE")
        ca_file = config.value(settings, "HARVEST_IMPERSONATE_CA_FILE")
        self.args: dict[str, Any] = {"verify": ca_file} if ca_file else {}
        self.stats = crawler.stats
        self.maxsize = settings.getint("DOWNLOAD_MAXSIZE")
        self.timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        # Imported here: a crawl uses one of them at most.
        self.client: Any
        if self.fetcher == "zyte":
            from scrapy_zyte_api.handler import ScrapyZyteAPIDownloadHandler

            self.client = ScrapyZyteAPIDownloadHandler.from_crawler(crawler)  # type: ignore[no-untyped-call]
        else:
            from scrapy_impersonate import ImpersonateDownloadHandler

            self.client = ImpersonateDownloadHandler.from_crawler(crawler)
        self.browser: Any = None
        if BrowserConfig.from_settings(settings).enabled:
            from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

            self.browser = ScrapyPlaywrightDownloadHandler.from_crawler(crawler)

    async def download_request(self, request: Request) -> Response:
        if request.meta.get("playwright") and self.browser is not None:
            self.stats.inc_value(f"{STATS}browser")
            response: Response = await self.browser.download_request(request)
            return response
        if self.fetcher == "zyte":
            # The request as it is (method, headers, body), its response's body
            # and headers back (bounded by DOWNLOAD_MAXSIZE in the handler),
            # and no redirect followed: each hop comes back to Scrapy.
            request.meta["zyte_api_automap"] = {"followRedirect": False}
            self.stats.inc_value(f"{STATS}zyte")
            response = await self.client.download_request(request)
            return response
        return await self._impersonated(request)

    async def _impersonated(self, request: Request) -> Response:
        limit = int(request.meta.get("download_maxsize", self.maxsize))
        body = _Body(limit)
        request.meta["impersonate"] = self.target
        request.meta["impersonate_args"] = {
            **self.args,
            "timeout": request.meta.get("download_timeout", self.timeout),
            "content_callback": body,
        }
        self.stats.inc_value(f"{STATS}impersonate")
        try:
            got: Response = await self.client.download_request(request)
        except Exception as exc:
            if body.limit and body.size > body.limit:
                raise PageTooLarge(
                    f"{request.url}: over the download size limit ({limit:,} bytes) once "
                    f"decoded; cancelled at {body.size:,}"
                ) from exc
            raise
        finally:
            # the body's collector is this fetch's: a retry (a copy of the
            # request, meta and all) gets its own, and a queue never sees it
            request.meta.pop("impersonate_args", None)
        data = b"".join(body.parts)
        # The handler built its response around an empty body (the callback took
        # it): the same response with its body, of the class the body calls for.
        cls = responsetypes.from_args(headers=got.headers, url=got.url, body=data)
        return cls(
            url=got.url,
            status=got.status,
            headers=got.headers,
            body=data,
            flags=got.flags,
            request=request,
            protocol=got.protocol,
        )

    async def close(self) -> None:
        await self.client.close()
        if self.browser is not None:
            await self.browser.close()
