"""RSS feeds and sitemaps."""

from __future__ import annotations

import pytest

from harvest.medium import extract
from tests.medium.helpers import parsed


def test_2026_user_feed() -> None:
    result = parsed("rss_user-feed_2026_linukaarambawela_raw_LinukaAr.xml")
    assert result.kind == "feed"
    assert len(result.posts) == 10
    first = result.posts[0]
    assert first.post_id == "2b9c66972c6c"  # from <guid>https://medium.com/p/2b9c66972c6c</guid>
    assert first.url == (
        "https://medium.com/@linukaarambawela/"
        "the-30-second-secret-how-your-phone-generates-unbreakable-codes-2b9c66972c6c"
    )
    assert first.title == "The 30-Second Secret: How Your Phone Generates Unbreakable Codes"
    assert first.author == "linukaarambawela"
    assert first.author_name == "Linuka Arambawela"
    assert first.published_at is not None and first.published_at.endswith("Z")
    # a post in a publication: /<publication>/<slug>
    pub = next(p for p in result.posts if p.post_id == "6cf9f4579155")
    assert pub.publication == "ballerina-techblog"
    # feeds never decide rel: no Link records at all
    assert result.links == []


def test_feed_item_without_link_uses_guid() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel>
      <item><title>A</title><guid isPermaLink="false">https://medium.com/p/0123456789ab</guid></item>
      <item><title>not a post</title><link>https://example.com/about</link></item>
    </channel></rss>"""
    result = extract(rss)
    assert [(p.post_id, p.url) for p in result.posts] == [
        ("0123456789ab", "https://medium.com/p/0123456789ab")
    ]
    assert result.skipped["item_without_post"] == 1


def test_atom_feed() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
      <entry><title>T</title><link href="https://medium.com/pub/t-0123456789ab?source=rss"/>
      <id>https://medium.com/p/0123456789ab</id><published>2024-01-02T03:04:05Z</published>
      <author><name>Someone</name></author><category term="SEO"/></entry></feed>"""
    (post,) = extract(atom).posts
    assert (post.post_id, post.url, post.publication, post.author_name, post.tags) == (
        "0123456789ab",
        "https://medium.com/pub/t-0123456789ab",
        "pub",
        "Someone",
        ["seo"],
    )


SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://medium.com/sitemap/posts/2024/posts-2024-01-02.xml</loc><lastmod>2024-01-03</lastmod></sitemap>
  <sitemap><loc>https://medium.com/sitemap/users/users-2024-01.xml</loc></sitemap>
</sitemapindex>"""

SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://medium.com/@a/first-0123456789ab</loc><lastmod>2024-01-02</lastmod><changefreq>monthly</changefreq></url>
  <url><loc>https://towardsdatascience.com/second-abcdef012345</loc></url>
  <url><loc>https://medium.com/@a/first-0123456789ab</loc></url>
  <url><loc>https://medium.com/tag/seo</loc></url>
</urlset>"""


def test_sitemap_index() -> None:
    result = extract(SITEMAP_INDEX)
    assert result.kind == "sitemap_index"
    assert [(s.url, s.lastmod) for s in result.sitemaps] == [
        ("https://medium.com/sitemap/posts/2024/posts-2024-01-02.xml", "2024-01-03"),
        ("https://medium.com/sitemap/users/users-2024-01.xml", None),
    ]


def test_post_sitemap() -> None:
    result = extract(SITEMAP)
    assert result.kind == "sitemap"
    assert [(p.post_id, p.url, p.author) for p in result.posts] == [
        ("0123456789ab", "https://medium.com/@a/first-0123456789ab", "a"),
        ("abcdef012345", "https://towardsdatascience.com/second-abcdef012345", None),
    ]
    assert result.skipped["not_a_post"] == 1


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel><item><link>&x;</link></item></channel></rss>',
        b'<?xml version="1.0"?><rss><channel><item><link>https://medium.com/p/0123456789ab',
        b"<?xml version='1.0'?><nothing/>",
    ],
)
def test_hostile_or_broken_xml(xml: bytes) -> None:
    result = extract(xml)
    for post in result.posts:
        assert "root:" not in post.url
    assert result.kind in ("feed", "unknown", "listing")
