"""The baseline for bench/crawl.py: a Scrapy spider that downloads a URL list and nothing else."""

import scrapy


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls_file: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        with open(urls_file, encoding="utf-8") as fh:
            self.start_urls = [line.strip() for line in fh if line.strip()]

    async def start(self):  # type: ignore[override]
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response):  # type: ignore[override]
        # downloading is all it does: the body is dropped unread
        return None
