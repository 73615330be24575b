"""NormalizePipeline: repair what can be repaired, reject the rest with a counted reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy import Spider
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from harvest.items import ArticlePage
from harvest.medium import extract
from harvest.medium.records import Article, Author, Link
from harvest.pipelines.normalize import MAX_TEXT_LENGTH, NormalizePipeline
from harvest.sim.model import build_world
from harvest.sim.render import article_page, profile_page
from tests.factories import make_link
from tests.medium.helpers import all_pages, parsed


def pipeline() -> tuple[NormalizePipeline, Any]:
    crawler = get_crawler(Spider)
    crawler.stats.open_spider()
    return NormalizePipeline.from_crawler(crawler), crawler.stats


def page(
    post_id: str | None = "0123456789ab", links: list[Any] | None = None, title: str = "T"
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
    assert stats.get_value("harvest/normalize/repaired/title") == 1  # cut to its length
    # the NUL of the title and the NUL and surrogate of the anchor
    assert stats.get_value("harvest/normalize/repaired/text") == 2


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


def parser_links() -> list[Link]:
    links = [link for name in all_pages() for link in parsed(name).links]
    world = build_world(seed=3, size=60)
    for post in world.posts:
        for variant in (0, 1):
            html = article_page(world, post, variant).encode()
            links.extend(extract(html, post.url).links)
    for author in world.authors:
        profile = profile_page(world, author.username)
        if profile is not None:
            url = f"https://medium.com/@{author.username}"
            links.extend(extract(profile.encode(), url).links)
    return links


def test_parser_links_are_already_normalized() -> None:
    # Why the pipeline may skip URL normalization for items marked
    # links_normalized: on every real page and the simulator's pages of every
    # era, the full normalization changes nothing the parser made.
    p, stats = pipeline()
    links = parser_links()
    kinds = {link.kind for link in links}
    assert len(links) > 1000 and {"text", "image", "link_card", "embed"} <= kinds
    assert any(link.location == "author_bio" for link in links)
    for link in links:
        changes: dict[str, Any] = {}
        assert p._normalize(link, "test", changes), link
        assert changes == {}, (link.target_url, changes)
    assert stats.get_value("harvest/normalize/links_rejected/invalid_url") is None


def test_items_marked_normalized_skip_url_work_but_not_text_or_length_checks() -> None:
    p, stats = pipeline()
    kept = make_link("https://a.example/x", 0, text="nul\x00byte")
    too_long = make_link("https://a.example/" + "x" * 3000, 1)
    item = page(links=[kept, too_long])
    item.links_normalized = True
    out = run(p, item)
    assert [link.anchor_text for link in out.links] == ["nulbyte"]
    assert stats.get_value("harvest/normalize/links_rejected/url_too_long") == 1
    # The same stale link is repaired on an unmarked item and trusted on a marked one.
    stale = make_link("https://c.example/", 0)
    stale.target_url = "HTTPS://C.example:443/"
    assert run(p, page(links=[stale])).links[0].target_url == "https://c.example/"
    marked = page(links=[stale])
    marked.links_normalized = True
    assert run(p, marked).links[0].target_url == "HTTPS://C.example:443/"
