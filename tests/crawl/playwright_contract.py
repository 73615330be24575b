"""scrapy-playwright's stock handler with harvest's browser provider, many pages at once.

Run by tests/crawl/test_browser_provider.py in a process of its own (it
installs Twisted's asyncio reactor). Prints one JSON line with what happened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scrapy.utils.reactor import install_reactor

install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")

from scrapy import Spider, signals  # noqa: E402
from scrapy.http import Request  # noqa: E402
from scrapy.settings import Settings  # noqa: E402
from scrapy.utils.misc import build_from_crawler  # noqa: E402
from scrapy.utils.test import get_crawler  # noqa: E402
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler  # noqa: E402
from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402

from harvest.crawl.browser import GUARD, BrowserConfig, browser_meta  # noqa: E402
from harvest.medium.urls import MediumUrls  # noqa: E402

REACTOR: Any = reactor  # Twisted types the module, not the installed reactor


class Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<html><body><p id='n'>{self.path}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.starts = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "starting the Playwright driver" in record.getMessage():
            self.starts += 1


async def run(pages: int) -> dict[str, Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    count = Count()
    logging.getLogger("harvest.crawl.browser").addHandler(count)
    logging.getLogger("harvest.crawl.browser").setLevel(logging.INFO)
    settings = Settings(BrowserConfig.from_settings(Settings()).scrapy_settings())
    crawler = get_crawler(Spider, settings.copy_to_dict())
    crawler.spider = Spider.from_crawler(crawler, name="contract")
    handler = build_from_crawler(ScrapyPlaywrightDownloadHandler, crawler)
    GUARD.configure(MediumUrls.from_base(base).refusal, crawler)
    await crawler.signals.send_catch_log_async(signal=signals.engine_started)
    started_at_engine_start = count.starts
    meta = browser_meta(include_page=False)
    requests = [Request(f"{base}/p{i}", meta=dict(meta)) for i in range(pages)]
    results = await asyncio.gather(
        *(handler.download_request(r) for r in requests), return_exceptions=True
    )
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    ok = [r for r in results if not isinstance(r, BaseException) and b"<p id=" in r.body]
    await handler.close()
    server.shutdown()
    return {
        "provider": type(handler.browser_provider).__name__,
        "driver_starts_at_engine_start": started_at_engine_start,
        "driver_starts": count.starts,
        "ok": len(ok),
        "errors": errors[:3],
    }


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    out: dict[str, Any] = {}

    def done(result: Any) -> None:
        out.update(result if isinstance(result, dict) else {"crash": repr(result)})
        REACTOR.stop()

    d = Deferred.fromFuture(asyncio.ensure_future(run(pages)))
    d.addBoth(done)
    REACTOR.run()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
