"""Spider arguments, URL mapping, the browser config and the offsite guard."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from scrapy.http import Request
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from harvest.crawl.args import CrawlArgs, SpiderArgumentError
from harvest.crawl.browser import CHROMIUM_ARGS, BrowserConfig, BrowserError, browser_meta
from harvest.medium.graphql import tag_walk, walk_of
from harvest.medium.urls import BaseUrlError, MediumUrls


def test_args_parse_everything() -> None:
    args = CrawlArgs.parse(
        {
            "tags": "SEO, #marketing,",
            "users": "@Some.One,other",
            "publications": "the-lab",
            "feeds": "1",
            "sitemap": "2024-01-01..2024-01-31",
            "max_posts": "50",
            "since": "2023-06-01",
            "follow": "authors,tags",
            "depth": "2",
            "recrawl": "true",
            "recrawl_days": "3",
            "browser": "0",
            "scroll": "5",
            "urls": "https://medium.com/p/0123456789ab",
        }
    )
    assert args.tags == ("seo", "marketing")
    assert args.users == ("Some.One", "other")
    assert args.sitemap == (date(2024, 1, 1), date(2024, 1, 31))
    assert (args.max_posts, args.since, args.depth, args.recrawl, args.recrawl_days) == (
        50,
        date(2023, 6, 1),
        2,
        True,
        3,
    )
    assert (args.feeds, args.browser, args.scroll) == (True, False, 5)
    record = args.as_record()
    assert record["sitemap"] == ["2024-01-01", "2024-01-31"] and record["tags"] == [
        "seo",
        "marketing",
    ]


def test_history_and_walk_arguments() -> None:
    assert CrawlArgs.parse({"tags": "seo"}).history is None
    assert CrawlArgs.parse({"tags": "seo", "history": "ALL"}).history == "all"
    args = CrawlArgs.parse(
        {
            "tags": "seo",
            "history": "2019-01..2020-12",
            "page_size": "10",
            "walk_pages": "3",
            "articles": "0",
        }
    )
    assert args.history == ((2019, 1), (2020, 12))
    assert (args.page_size, args.walk_pages, args.articles) == (10, 3, False)
    assert args.as_record()["history"] == "2019-01..2020-12"
    assert CrawlArgs.parse({"tags": "seo", "history": "2021-06"}).history == ((2021, 6), (2021, 6))


def test_args_defaults() -> None:
    args = CrawlArgs.parse({"tags": "seo"})
    assert (args.max_posts, args.depth, args.recrawl_days, args.browser, args.scroll) == (
        None,
        0,
        7,
        True,
        50,
    )
    assert CrawlArgs.parse({"tags": "seo", "follow": "tags"}).depth == 1
    assert CrawlArgs.parse({"sitemap": "2024-05-05"}).sitemap == (
        date(2024, 5, 5),
        date(2024, 5, 5),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"tags": "seo", "max_posts": "0"}, "must be at least 1"),
        ({"tags": "seo", "depth": "-1"}, "must be at least 0"),
        ({"tags": "seo", "feeds": "maybe"}, "use 1 or 0"),
        ({"users": "no spaces please"}, "is not a Medium username"),
        ({"publications": "Bad/Slug"}, "is not a publication slug"),
        ({"urls": "ftp://x"}, "is not an http(s) URL"),
        ({"tags": "seo", "since": "yesterday"}, "dates are YYYY-MM-DD"),
        ({"tags": "seo", "depth": "2"}, "-a depth needs -a follow"),
        ({"tags": "seo", "history": "2019"}, "is not a month (YYYY-MM)"),
        ({"tags": "seo", "history": "2019-13"}, "month must be in 1..12"),
        ({"tags": "seo", "history": "2020-02..2019-01"}, "the range ends before it starts"),
        ({"tags": "seo", "page_size": "26"}, "at most 25, what Medium's clients ask"),
        ({"tags": "seo", "walk_pages": "0"}, "must be at least 1"),
        ({"tags": "seo", "articles": "some"}, "use 1 or 0"),
        ({"tags": "+++"}, "has no letters or digits to make a tag slug of"),
    ],
)
def test_args_errors(raw: dict[str, str], message: str) -> None:
    with pytest.raises(SpiderArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CrawlArgs.parse(raw)


@pytest.mark.parametrize(
    ("typed", "tags"),
    [
        ("machine learning", ("machine-learning",)),
        ("Machine Learning,#SEO,seo", ("machine-learning", "seo")),
        ("日本語", ("日本語",)),
        ("Node.js", ("nodejs",)),
        ("machine%20learning", ("machine-learning",)),
    ],
)
def test_tags_are_slugged_the_way_medium_slugs_them(typed: str, tags: tuple[str, ...]) -> None:
    assert CrawlArgs.parse({"tags": typed}).tags == tags


def test_a_non_ascii_tag_is_walked_at_its_percent_encoded_address() -> None:
    walk = tag_walk("日本語", (2024, 5))
    assert walk.url == "https://medium.com/tag/%E6%97%A5%E6%9C%AC%E8%AA%9E/archive/2024/05"
    assert walk_of(walk.url) == walk
    assert walk.html_listing() == "https://medium.com/tag/%E6%97%A5%E6%9C%AC%E8%AA%9E"
    assert MediumUrls().tag("日本語") == "https://medium.com/tag/%E6%97%A5%E6%9C%AC%E8%AA%9E"


@pytest.mark.parametrize(
    ("medium", "fetched"),
    [
        ("https://medium.com/tag/seo", "http://127.0.0.1:9/tag/seo"),
        (
            "https://medium.com/@a/post-0123456789ab?x=1",
            "http://127.0.0.1:9/@a/post-0123456789ab?x=1",
        ),
        (
            "https://forge.medium.com/post-0123456789ab",
            "http://127.0.0.1:9/_host/forge.medium.com/post-0123456789ab",
        ),
        ("https://pub.example/", "http://127.0.0.1:9/_host/pub.example/"),
    ],
)
def test_mirror_mapping_round_trips(medium: str, fetched: str) -> None:
    urls = MediumUrls.from_base("http://127.0.0.1:9/")
    assert urls.fetch_url(medium) == fetched
    assert urls.medium_url(fetched) == medium


def test_no_mirror_fetches_medium_itself_and_bad_bases_are_refused() -> None:
    urls = MediumUrls.from_base(None)
    assert urls.fetch_url("https://medium.com/tag/seo") == "https://medium.com/tag/seo"
    assert not urls.is_mirror
    for bad in ("file:///etc", "javascript:alert(1)", "ftp://x", "http://", "http://h/?q=1"):
        with pytest.raises(BaseUrlError):
            MediumUrls.from_base(bad)


def test_browser_config() -> None:
    config = BrowserConfig.from_settings(Settings({"HARVEST_CHROMIUM": "/opt/chrome"}))
    settings = config.scrapy_settings()
    assert settings["PLAYWRIGHT_LAUNCH_OPTIONS"]["executable_path"] == "/opt/chrome"
    assert list(CHROMIUM_ARGS) == settings["PLAYWRIGHT_LAUNCH_OPTIONS"]["args"]
    # scrapy-playwright's own handler, with harvest's provider behind its public setting
    assert settings["DOWNLOAD_HANDLERS"]["https"] == (
        "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    )
    assert settings["PLAYWRIGHT_BROWSER_PROVIDER"].endswith("LazyBrowserProvider")
    assert BrowserConfig.from_settings(Settings({"HARVEST_BROWSER": False})).scrapy_settings() == {}
    with pytest.raises(BrowserError, match="at least 1"):
        BrowserConfig.from_settings(
            Settings({"HARVEST_CHROMIUM": "/x", "HARVEST_BROWSER_PAGES": 0})
        )


def test_an_article_missing_from_the_server_html_goes_to_the_browser_afresh() -> None:
    # The browser fetch is a new request: it keeps harvest's keys, and none of
    # Scrapy's (a retry count carried over would shorten its own retries).
    from scrapy.http import HtmlResponse

    from harvest.crawl.spider import MediumSpider

    crawler = get_crawler(MediumSpider, {"HARVEST_PARSE_WORKERS": "0"})
    crawler.stats.open_spider()
    spider = MediumSpider.from_crawler(crawler, tags="seo")
    crawler.spider = spider
    url = "https://medium.com/@a/post-0123456789ab"
    meta = {"medium_url": url, "harvest_depth": 1, "retry_times": 2, "download_latency": 0.3}
    response = HtmlResponse(
        url, body=b"<html><body><div id=root></div></body></html>", request=Request(url, meta=meta)
    )

    async def collect() -> list[object]:
        return [out async for out in spider.parse_article(response)]

    (out,) = asyncio.run(collect())
    assert isinstance(out, Request)
    assert out.meta == {"medium_url": url, "harvest_depth": 1, **browser_meta(include_page=False)}
    assert out.dont_filter
    assert crawler.stats.get_value("harvest/pages/article_retried_in_browser") == 1


def _ref(n: int, published: str | None = "2024-06-01T00:00:00.000Z") -> Any:
    from harvest.medium.records import PostRef

    return PostRef(
        post_id=f"{n:012x}", url=f"https://medium.com/@a/p-{n:012x}", published_at=published
    )


COUNT_CASES = [
    # (spider arguments, listings (lists of post numbers), store's known posts,
    #  expected distinct counts)
    ({}, [[1, 2, 3], [2, 3, 4], [4, 1]], {}, {"scheduled": 4}),
    ({"max_posts": "2"}, [[1, 2, 3], [3, 4], [4, 3, 5]], {}, {"scheduled": 2, "over_max_posts": 3}),
    (
        {},
        [[1, 2, 3], [3, 2]],
        {"000000000002": "recent"},
        {"scheduled": 2, "skipped_recent": 1},
    ),
    (
        {"since": "2025-01-01"},
        [[1, 2], [2, 1]],
        {},
        {"skipped_before_since": 2},
    ),
    (
        {"follow": "authors", "depth": "1"},
        [[1, 2], [2]],
        {"000000000001": "resumed"},
        {"scheduled": 1, "stored_before_resume": 1},
    ),
]


@pytest.mark.parametrize(("spider_args", "listings", "known", "want"), COUNT_CASES)
def test_each_post_is_counted_once_however_often_it_is_listed(
    spider_args: dict[str, str],
    listings: list[list[int]],
    known: dict[str, str],
    want: dict[str, int],
) -> None:
    from harvest.contract.signals import recent_posts
    from harvest.crawl.spider import MediumSpider

    crawler = get_crawler(MediumSpider, {"HARVEST_PARSE_WORKERS": "0"})
    crawler.stats.open_spider()
    spider = MediumSpider.from_crawler(crawler, tags="seo", **spider_args)
    crawler.spider = spider
    spider.resumed_runs = [1] if "resumed" in known.values() else []

    def answer(post_ids: list[str], **kwargs: Any) -> dict[str, dict[str, Any]]:
        return {
            p: {"why": known[p], "author": "someone", "tags": ["seo"]}
            for p in post_ids
            if p in known
        }

    crawler.signals.connect(answer, signal=recent_posts)

    async def run() -> list[Any]:
        out: list[Any] = []
        for listing in listings:
            out += await spider.articles([_ref(n) for n in listing], depth=0)
        return out

    requests = asyncio.run(run())
    asyncio.run(spider.closed("finished"))
    stats = crawler.stats.get_stats()
    got = {
        k.rsplit("/", 1)[1]: v
        for k, v in stats.items()
        if k.startswith("harvest/posts/") and k != "harvest/posts/found"
    }
    assert got == want
    distinct = {n for listing in listings for n in listing}
    assert stats["harvest/posts/found"] == len(distinct)
    assert sum(want.values()) == len(distinct)  # found = fetched + skipped, per reason
    if "stored_before_resume" in want:
        # the resumed post's follow-up (its author's profile) is still made
        assert any("/@someone" in getattr(r, "url", "") for r in requests), requests


def test_discovery_walks_the_arguments_the_spider_holds_now() -> None:
    # A worker started without arguments takes a shared job's after the spider
    # (and its discovery) were made: the walks must be the job's.
    from harvest.crawl.spider import MediumSpider

    crawler = get_crawler(MediumSpider, {"HARVEST_PARSE_WORKERS": "0"})
    crawler.stats.open_spider()
    spider = MediumSpider.from_crawler(crawler, tags="other")
    assert [w.url for w in spider.discovery.planned_walks()] == [tag_walk("other").url]
    spider.args = CrawlArgs.parse({"tags": "seo", "history": "all", "page_size": "7"})
    assert [w.url for w in spider.discovery.planned_walks()] == [tag_walk("seo").url]
    assert spider.discovery.walk_request(tag_walk("seo"), None).body == tag_walk("seo").body(
        None, 7
    )
