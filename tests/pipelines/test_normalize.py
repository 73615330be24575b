"""NormalizePipeline: repair what can be repaired, reject the rest with a counted reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy import Spider
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from harvest.items import ArticlePage
from harvest.medium.records import Article, Author
from harvest.pipelines.normalize import MAX_TEXT_LENGTH, NormalizePipeline
from tests.db.test_store import make_link


def pipeline() -> tuple[NormalizePipeline, Any]:
    crawler = get_crawler(Spider)
    crawler.stats.open_spider(None)
    return NormalizePipeline.from_crawler(crawler), crawler.stats


def page(
    post_id: str | None = "0123456789ab", links: list | None = None, title: str = "T"
) -> ArticlePage:
    art = Article(
        post_id, "https://medium.com/p/x", None, Author("w", "W"), None, title, None, ["seo"]
    )
    return ArticlePage(art, links or [])


def run(p: NormalizePipeline, item: Any) -> Any:
    return asyncio.run(p.process_item(item))


def test_article_without_post_id_is_dropped_and_counted() -> None:
    p, stats = pipeline()
    with pytest.raises(DropItem, match="without a valid post id"):
        run(p, page(None))
    with pytest.raises(DropItem):
        run(p, page("not-an-id"))
    assert stats.get_value("harvest/normalize/dropped/no_post_id") == 2


def test_text_repairs() -> None:
    p, stats = pipeline()
    link = make_link("https://a.example/", 0, text="nul\x00 and lone \udc80 surrogate")
    item = run(p, page(links=[link], title="title\x00" + "x" * 5000))
    assert item.article.title == ("title" + "x" * 5000)[:MAX_TEXT_LENGTH]
    assert item.links[0].anchor_text == "nul and lone \ufffd surrogate"
    assert stats.get_value("harvest/normalize/repaired/title") == 1
    assert stats.get_value("harvest/normalize/links_repaired") == 1


def test_bad_links_rejected_good_ones_made_consistent() -> None:
    p, stats = pipeline()
    too_long = make_link("https://a.example/" + "x" * 3000, 0)
    invalid = make_link("https://b.example/", 1)
    invalid.target_url = "http://exa mple.com/"
    stale = make_link("https://c.example/", 2, rel=("nofollow",))
    stale.target_url = "HTTPS://WWW.C.example:443/p?utm_source=x"
    stale.host, stale.domain, stale.nofollow = "wrong", "wrong", False
    stale.rel = ["NoFollow", "nofollow", "UGC"]
    item = run(p, page(links=[too_long, invalid, stale]))
    assert len(item.links) == 1
    fixed = item.links[0]
    assert (fixed.target_url, fixed.host, fixed.domain) == (
        "https://www.c.example/p",
        "www.c.example",
        "c.example",
    )
    assert (fixed.rel, fixed.nofollow, fixed.ugc) == (["nofollow", "ugc"], True, True)
    assert stats.get_value("harvest/normalize/links_rejected/url_too_long") == 1
    assert stats.get_value("harvest/normalize/links_rejected/invalid_url") == 1


def test_other_items_pass_untouched() -> None:
    p, _ = pipeline()
    item = {"type": "post", "post_id": "0123456789ab"}
    assert run(p, item) is item
