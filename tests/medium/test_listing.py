"""Listing, profile and topic pages, and the 2025 post-preview card markup."""

from __future__ import annotations

from harvest.medium import extract
from harvest.medium.dom import decode, parse_html
from harvest.medium.listing import parse_listing_tree
from tests.medium.helpers import page_bytes, parsed


def test_2018_profile_posts_and_bio_link() -> None:
    result = parsed("profile_2018_pdabrowski1_hawker.html")
    assert result.kind == "profile"
    assert [(p.post_id, p.url, p.author) for p in result.posts] == [
        (
            "5ab945b81299",
            "https://medium.com/@pdabrowski1/the-common-part-between-the-youngest-and-the-oldest-5ab945b81299",
            "pdabrowski1",
        ),
        (
            "3927462a6cb2",
            "https://medium.com/@pdabrowski1/you-are-the-first-influencer-for-your-child-3927462a6cb2",
            "pdabrowski1",
        ),
        (
            "1031d6f3a327",
            "https://medium.com/@pdabrowski1/when-you-believe-in-god-more-than-in-yourself-1031d6f3a327",
            "pdabrowski1",
        ),
    ]
    # only the first three posts are server-rendered
    (bio,) = result.links
    assert (bio.location, bio.target_url, bio.rel, bio.nofollow, bio.author, bio.post_id) == (
        "author_bio",
        "http://pdabrowski.com/blog",
        ["nofollow"],
        True,
        "pdabrowski1",
        None,
    )


def test_2019_topic_page_with_its_url() -> None:
    result = extract(
        page_bytes("topic_2019_popular_raw-server-html_light-bringer.html"),
        "https://medium.com/topic/popular",
    )
    assert result.kind == "listing"
    ids = [p.post_id for p in result.posts]
    assert ids == [
        "155278b7daaa",
        "c324133b218a",
        "b301f6563188",
        "ceb02e29c802",
        "ddba3357eace",
        "38d78a5f6963",
        "2f178109805b",
        "4b6991462c5c",
        "a58e90f1b4ba",
        "978558e42989",
    ]
    by_id = {p.post_id: p for p in result.posts}
    # a relative URL under a publication slug
    assert (
        by_id["ceb02e29c802"].url
        == "https://medium.com/better-humans/how-to-wake-up-at-5-a-m-every-day-ceb02e29c802"
    )
    assert by_id["ceb02e29c802"].publication == "better-humans"
    # a publication on its own domain; ?source= is gone from every URL
    assert by_id["ddba3357eace"].site == "towardsdatascience.com"
    assert all("?" not in p.url for p in result.posts)


def test_2019_topic_page_without_url_resolves_against_medium() -> None:
    result = parsed("topic_2019_popular_raw-server-html_light-bringer.html")
    assert len(result.posts) == 10


def test_2025_post_preview_cards() -> None:
    # The 2025 article page carries ten post-preview cards (author's and
    # "recommended" posts): the same markup 2025 tag pages use.
    tree = parse_html(
        decode(
            page_bytes("article_2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp.html")
        )
    )
    result = parse_listing_tree(tree, "https://medium.com/tag/writing")
    assert [p.post_id for p in result.posts] == [
        "0126fa5c6ce8",
        "3622b4ddc3d8",
        "41988bb907bf",
        "f394d68d4e7",
        "76ee6137c092",
        "f87616f5f44d",
        "7139a0bdaf5b",
        "4065147b0616",
        "5bdd04954445",
        "103c6b88c8ba",
    ]
    by_id = {p.post_id: p for p in result.posts}
    assert by_id["5bdd04954445"].author == "constantinpatrascu"
    assert (
        by_id["76ee6137c092"].url == "https://joulee.medium.com/the-lost-art-of-crying-76ee6137c092"
    )
    assert by_id["76ee6137c092"].site == "joulee.medium.com"
    assert not result.links  # a tag page has no bio


def test_synthetic_2025_tag_page_reads_only_cards() -> None:
    html = b"""<html><body><nav><a href="/@someone/not-listed-aaaaaaaaaa11">x</a></nav>
    <article data-testid="post-preview"><div role="link" data-href="https://medium.com/pub/one-0123456789ab">
      <a href="/@writer?source=tag_recommended_feed">Writer</a>
      <a rel="noopener follow" href="/pub/one-0123456789ab?source=tag_recommended_feed---a---0">One</a>
    </div></article>
    <article data-testid="post-preview"><div role="link" data-href="https://other.example/two-abcdef012345">
      in <a href="https://other.example/?source=tag_recommended_feed">Other</a>
      <a href="https://other.example/two-abcdef012345?source=tag_recommended_feed---a---1">Two</a>
    </div></article>
    <article data-testid="post-preview"><div role="link" data-href="https://evil.example/x-bbbbbbbbbbbb">
      <a href="https://evil.example/x-bbbbbbbbbbbb">not attributed to any publication</a>
    </div></article></body></html>"""
    result = extract(html, "https://medium.com/tag/seo")
    assert [(p.post_id, p.url, p.author, p.publication, p.site) for p in result.posts] == [
        ("0123456789ab", "https://medium.com/pub/one-0123456789ab", "writer", "pub", None),
        ("abcdef012345", "https://other.example/two-abcdef012345", None, None, "other.example"),
    ]


def test_listing_without_posts_says_why() -> None:
    result = extract(
        b"<html><body><a href='/about'>About</a></body></html>", "https://medium.com/tag/x"
    )
    assert result.posts == []
    assert result.problems == ["no post URLs found on the listing"]
