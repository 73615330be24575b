"""Offsite: an explicit decision for every request, redirect and robots.txt fetch.

The crawl may request Medium, *.medium.com and the publications' own domains
Medium named (default ports only), or, with a mirror, the mirror's exact
scheme, host and port and nothing else. Outbound targets are recorded, never
fetched; a listing anchor never makes a host fetchable.
"""

from __future__ import annotations

import pytest
from scrapy import Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from harvest.crawl.offsite import OffsiteGuardMiddleware
from harvest.medium import extract
from harvest.medium.urls import MediumUrls

PUBS = frozenset({"pub.example"})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://medium.com/tag/seo", True),
        ("https://medium.com/robots.txt", True),
        ("https://ev.medium.com/x-0123456789ab", True),
        ("https://pub.example/x-0123456789ab", True),
        ("https://pub.example/robots.txt", True),
        ("http://medium.com/x", True),
        # another port of an allowed host
        ("https://medium.com:8443/x", False),
        ("https://pub.example:6800/addversion.json", False),
        # hosts that are not Medium's, whatever their path says
        ("https://twitter.com/someone", False),
        ("https://evil.example/robots.txt", False),
        ("https://evil.example/a/b/robots.txt", False),
        ("https://www.pub.example/x", False),  # only the domain Medium named
        ("https://medium.com.evil.example/x", False),
        ("https://evilmedium.com/x", False),
        # not the web
        ("file:///etc/passwd", False),
        ("ftp://medium.com/x", False),
        ("data:text/html,hi", False),
        ("javascript:alert(1)", False),
        ("http://127.0.0.1:6800/schedule.json", False),
        ("https://[::1]:99999/", False),
    ],
)
def test_without_a_mirror(url: str, allowed: bool) -> None:
    assert (MediumUrls.from_base(None).refusal(url, PUBS) is None) is allowed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8000/tag/seo", True),
        ("http://127.0.0.1:8000/robots.txt", True),
        ("http://127.0.0.1:8000/_host/pub.example/x-0123456789ab", True),
        ("http://localhost:8000/tag/seo", False),
        # the same address, another port: scrapyd, the telnet console, anything
        ("http://127.0.0.1:6800/addversion.json", False),
        ("http://127.0.0.1:8001/robots.txt", False),
        ("https://127.0.0.1:8000/tag/seo", False),
        # with a mirror, Medium itself is never fetched: everything maps onto it
        ("https://medium.com/tag/seo", False),
        ("https://pub.example/x-0123456789ab", False),
    ],
)
def test_with_a_mirror_only_its_own_scheme_host_and_port(url: str, allowed: bool) -> None:
    urls = MediumUrls.from_base("http://127.0.0.1:8000")
    assert (urls.refusal(url, PUBS) is None) is allowed


def test_the_guard_refuses_what_the_rule_refuses_and_counts_it() -> None:
    crawler = get_crawler(Spider)
    crawler.stats.open_spider()
    urls = MediumUrls.from_base(None)

    class S(Spider):
        name = "s"

        def refusal(self, url: str) -> str | None:
            return urls.refusal(url, PUBS)

    crawler.spider = S()
    guard = OffsiteGuardMiddleware.from_crawler(crawler)
    for ok in ("https://medium.com/x", "https://ev.medium.com/robots.txt", "https://pub.example/x"):
        guard.process_request(Request(ok))  # lets it through: raises nothing
    for bad in (
        "https://twitter.com/someone",
        "https://evil.example/robots.txt",
        "https://medium.com:8080/x",
        "file:///etc/passwd",
    ):
        with pytest.raises(IgnoreRequest, match="offsite"):
            guard.process_request(Request(bad))
    assert crawler.stats.get_value("harvest/offsite_refused") == 4


def test_anchors_on_foreign_hosts_name_no_post() -> None:
    # A tag page whose cards and bio-like blocks name post-looking URLs on other hosts.
    html = b"""<html><body>
    <article data-testid="post-preview"><div role="link" data-href="https://medium.com/@a/one-0123456789ab">
      <a href="/@a?source=tag">A</a>
      <a href="https://evil.example/trap-aaaaaaaaaaaa">see also</a>
      <a href="/@a/one-0123456789ab?source=tag---0">One</a>
    </div></article>
    <article data-testid="post-preview"><div role="link" data-href="https://127.0.0.1:6800/x-bbbbbbbbbbbb">
      <a href="https://127.0.0.1:6800/x-bbbbbbbbbbbb">not a publication</a>
    </div></article></body></html>"""
    result = extract(html, "https://medium.com/tag/seo")
    assert [p.url for p in result.posts] == ["https://medium.com/@a/one-0123456789ab"]


def test_a_profile_bio_names_no_post() -> None:
    html = b"""<html><body><header class="hero hero--profile"><h1>A</h1>
      <p class="ui-body hero-description">My work:
        <a href="https://evil.example/my-post-cccccccccccc">this</a> and
        <a href="https://evil.example/">home</a></p></header>
      <div class="streamItem"><div class="postArticle" data-post-id="0123456789ab">
        <a href="https://pub.example/real-0123456789ab?source=user_profile---0">Real</a>
      </div></div></body></html>"""
    result = extract(html, "https://medium.com/@a")
    assert [p.url for p in result.posts] == ["https://pub.example/real-0123456789ab"]
    # the bio link is still recorded, as a link of the author's
    assert [link.target_url for link in result.links] == [
        "https://evil.example/my-post-cccccccccccc",
        "https://evil.example/",
    ]
