"""Article pages of every era, checked against what each real page shows.

Expectations here were read off the pages by hand (view-source, the page's
JSON-LD and state); see pages/SOURCES.md for where each page came from.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from harvest.medium import extract
from tests.medium.helpers import parsed

ARTICLES: dict[str, dict[str, Any]] = {
    "article_2015_ckirchoff_on-behalf-of-literally_readability.html": dict(
        post_id="429fab868ca8",
        canonical_url="https://medium.com/@ckirchoff/on-behalf-of-literally-429fab868ca8",
        author=("ckirchoff", "Courtney Kirchoff"),
        publication=None,
        title="On Behalf of “Literally”",
        published_at="2015-02-24T19:56:33.374Z",  # GLOBALS firstPublishedAt
        tags=[],
    ),
    "article_2015_pippinlee_open-journalism_readability.html": dict(
        post_id="fb39f4f701bb",
        canonical_url="https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb",
        author=("pippinlee", "Pippin Lee"),
        publication=None,
        title="The Open Journalism Project: Better Student Journalism",
        published_at="2015-03-17T16:27:40.294Z",
        tags=[],
    ),
    "article_2016_kenmazaika_why-im-betting-on-elixir_keepcosmos.html": dict(
        post_id="7c8f847b58",  # a 10-digit id
        canonical_url="https://medium.com/@kenmazaika/why-im-betting-on-elixir-7c8f847b58",
        author=("kenmazaika", "Ken Mazaika"),
        publication=None,
        title="Why I’m betting on Elixir",
        published_at="2015-01-31T22:58:05.645Z",  # obvInit state
        tags=[],
    ),
    "article_2016_wtf-economy_wtf-whats-the-future_postlight.html": dict(
        post_id="e52ab9515573",
        canonical_url="https://medium.com/the-wtf-economy/wtf-whats-the-future-e52ab9515573",
        author=("timoreilly", "Tim O'Reilly"),
        publication=("the-wtf-economy", None, None),
        title="WTF? What’s The Future?",  # og:title has " – What’s The Future?" appended
        published_at="2016-10-19T14:24:20.323Z",  # byline <time>; scripts were stripped
        tags=["technology", "future-of-work", "white-house", "frontiers-conference", "nexteconomy"],
    ),
    "article_2017_jakobulbrich_flag-attributes_postlight.html": dict(
        post_id="ac4ec8aee7d1",
        canonical_url="https://medium.com/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1",
        author=("JakobUlbrich", "Jakob Ulbrich"),
        publication=None,
        title="Flag Attributes in Android — How to Use Them",
        published_at="2016-08-08T14:26:01.601Z",
        tags=["android", "android-app-development", "android-development", "android-tutorials"],
    ),
    "article_2018_beyondtherobot_my-real-life-superpower_charleo85.html": dict(
        post_id="c2a9b309cf7",  # 11 digits
        canonical_url="https://medium.com/@beyondtherobot/my-real-life-superpower-c2a9b309cf7",
        author=("beyondtherobot", "Jack Preston King"),
        publication=None,
        title="My Real Life Superpower",
        published_at="2017-12-29T11:01:01.933Z",
        tags=["books", "reading", "self-improvement", "personal-development", "creativity"],
    ),
    "article_2018_mlreview_topic-modeling_reconstructed-from-viewsource_awhillas.html": dict(
        post_id="e80d33668730",
        canonical_url="https://medium.com/mlreview/topic-modeling-with-scikit-learn-e80d33668730",
        author=("aneesha", "Aneesha Bakharia"),
        publication=("mlreview", "ML Review", None),
        title="Topic Modeling with Scikit Learn",
        published_at="2016-09-01T11:24:39.410Z",
        tags=["machine-learning", "data-science", "scikit-learn", "topic-modeling", "lda"],
    ),
    "article_2018_psyked_fluid-widths_node-url-md-fs.html": dict(
        post_id="2a02499295d9",
        canonical_url="https://medium.com/@psyked/fluid-widths-in-responsive-websites-2a02499295d9",
        author=("psyked", "James Ford"),
        publication=None,
        title="Fluid widths in responsive websites.",
        published_at="2018-07-11T11:11:46.274Z",
        tags=["web-development", "responsive-web-design", "css", "front-end-development"],
    ),
    # No JSON-LD, no state: article:published_time (2018-01-19, a republish)
    # must not pass for the first publish date.
    "article_2019_jakobulbrich_flag-attributes_postlight.html": dict(
        post_id="ac4ec8aee7d1",
        canonical_url="https://medium.com/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1",
        author=("JakobUlbrich", "Jakob Ulbrich"),
        publication=None,
        title="Flag Attributes in Android — How to Use Them",
        published_at=None,
        tags=["android", "android-app-development", "android-development", "android-tutorials"],
    ),
    "article_2019_wtfeconomy-customdomain_wtf-whats-the-future_postlight.html": dict(
        post_id="e52ab9515573",
        canonical_url="https://wtfeconomy.com/wtf-whats-the-future-e52ab9515573",
        author=("timoreilly", "Tim O'Reilly"),
        publication=(None, None, "wtfeconomy.com"),
        title="WTF? What’s The Future?",
        published_at=None,  # only article:published_time (14:30:56, not the 14:24:20 first publish)
        tags=["technology", "future-of-work", "white-house", "frontiers-conference", "nexteconomy"],
    ),
    "article_2020_jcwelch_samantha-great-big-lie_readability.html": dict(
        post_id="d146a92473a1",
        canonical_url="https://medium.com/@johncwelch/samantha-and-the-great-big-lie-d146a92473a1",
        author=("johncwelch", "John C. Welch"),
        publication=None,
        title="Samantha and The Great Big Lie",
        published_at="2015-10-15T02:19:15.607Z",  # JSON-LD inside CDATA
        tags=[],
    ),
    "article_2021_webpack_webpack-3-official-release_metascraper.html": dict(
        post_id="15fd2dd8f07b",
        canonical_url="https://medium.com/webpack/webpack-3-official-release-15fd2dd8f07b",
        author=("TheLarkInn", "Sean T. Larkin"),
        publication=("webpack", "webpack", None),
        title="🍾🚀 webpack 3: Official Release!! 🚀🍾",
        published_at="2017-06-19T17:23:28.613Z",
        tags=["javascript", "webpack", "tech", "technology", "web-development"],  # JSON-LD Tag:*
    ),
    "article_2022_jakobulbrich_flag-attributes_postlight.html": dict(
        post_id="ac4ec8aee7d1",
        canonical_url="https://medium.com/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1",
        author=("JakobUlbrich", "Jakob Ulbrich"),
        publication=None,
        title="Flag Attributes in Android — How to Use Them",
        published_at=None,
        tags=[],
    ),
    "article_2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp.html": dict(
        post_id="9e53ca408c48",
        canonical_url="https://ev.medium.com/welcome-to-medium-9e53ca408c48",
        author=("ev", "Ev Williams"),
        publication=None,
        title="Welcome to Medium",
        published_at="2012-08-14T18:21:21Z",
        tags=["medium", "writing"],
    ),
}


@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_article_fields(name: str) -> None:
    want = ARTICLES[name]
    result = parsed(name)
    assert result.kind == "article"
    art = result.article
    assert art is not None
    assert art.post_id == want["post_id"]
    assert art.canonical_url == want["canonical_url"]
    assert art.url == want["canonical_url"]  # no URL given: the canonical one stands in
    assert art.author is not None
    assert (art.author.username, art.author.name) == want["author"]
    pub = art.publication
    assert (None if pub is None else (pub.slug, pub.name, pub.domain)) == want["publication"]
    assert art.title == want["title"]
    assert art.published_at == want["published_at"]
    assert art.tags == want["tags"]


# (body links, author-bio links, nofollow links, ugc links, distinct target domains)
LINK_SUMMARY = {
    "article_2015_ckirchoff_on-behalf-of-literally_readability.html": (4, 2, 6, 0, 5),
    "article_2015_pippinlee_open-journalism_readability.html": (10, 0, 10, 0, 6),
    "article_2016_kenmazaika_why-im-betting-on-elixir_keepcosmos.html": (13, 0, 13, 0, 6),
    "article_2016_wtf-economy_wtf-whats-the-future_postlight.html": (15, 0, 15, 0, 13),
    "article_2017_jakobulbrich_flag-attributes_postlight.html": (2, 0, 2, 0, 1),
    "article_2018_beyondtherobot_my-real-life-superpower_charleo85.html": (5, 1, 5, 0, 4),
    "article_2018_mlreview_topic-modeling_reconstructed-from-viewsource_awhillas.html": (
        3,
        0,
        3,
        0,
        2,
    ),
    "article_2018_psyked_fluid-widths_node-url-md-fs.html": (5, 0, 4, 0, 3),
    "article_2019_jakobulbrich_flag-attributes_postlight.html": (0, 0, 0, 0, 0),
    "article_2019_wtfeconomy-customdomain_wtf-whats-the-future_postlight.html": (16, 0, 0, 0, 14),
    "article_2020_jcwelch_samantha-great-big-lie_readability.html": (24, 0, 24, 0, 5),
    "article_2021_webpack_webpack-3-official-release_metascraper.html": (5, 0, 5, 0, 2),
    "article_2022_jakobulbrich_flag-attributes_postlight.html": (2, 0, 2, 2, 1),
    "article_2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp.html": (4, 0, 4, 4, 3),
}


@pytest.mark.parametrize("name", sorted(LINK_SUMMARY))
def test_link_summary(name: str) -> None:
    links = parsed(name).links
    locations = Counter(link.location for link in links)
    got = (
        locations["body"],
        locations["author_bio"],
        sum(link.nofollow for link in links),
        sum(link.ugc for link in links),
        len({link.domain for link in links}),
    )
    assert got == LINK_SUMMARY[name]
    for loc in ("body", "author_bio"):
        positions = [link.position for link in links if link.location == loc]
        assert positions == list(range(len(positions)))
    art = parsed(name).article
    assert art is not None
    assert all(link.post_id == art.post_id for link in links)
    assert all(link.domain and link.host and link.domain in link.host for link in links)


def _links(name: str) -> list[tuple[str, str, str, str, tuple[str, ...], str]]:
    return [
        (l.location, l.block, l.kind, l.target_url, tuple(l.rel), l.anchor_text)
        for l in parsed(name).links
    ]


def test_2015_graf_body_and_author_card() -> None:
    assert _links("article_2015_ckirchoff_on-behalf-of-literally_readability.html") == [
        (
            "body",
            "paragraph",
            "text",
            "http://bancomicsans.com/main/?page_id=2",
            ("nofollow",),
            "Comic Sans",
        ),
        (
            "body",
            "paragraph",
            "text",
            "https://www.facebook.com/group.php?gid=14448723154",
            ("nofollow",),
            "Papyrus",
        ),
        (
            "body",
            "paragraph",
            "text",
            "http://theoatmeal.com/comics/literally",
            ("nofollow",),
            "should check it out",
        ),
        (
            "body",
            "paragraph",
            "text",
            "http://www.courtneykirchoff.com/2011/11/on-behalf-of-literally/",
            ("nofollow",),
            "www.courtneykirchoff.com",
        ),
        # the 2015 author card (.infoCard-bio) links out too
        (
            "author_bio",
            "bio",
            "text",
            "http://www.courtneykirchoff.com/",
            ("nofollow",),
            "www.courtneykirchoff.com",
        ),
        (
            "author_bio",
            "bio",
            "text",
            "http://www.truenorthe.com/",
            ("nofollow",),
            "www.truenorthe.com",
        ),
    ]


def test_2015_mailto_is_skipped_and_counted() -> None:
    result = parsed("article_2015_pippinlee_open-journalism_readability.html")
    assert result.skipped["mailto"] == 1
    assert not any("mailto" in l.target_url for l in result.links)
    assert (
        "body",
        "list",
        "text",
        "http://www.google.com/get/journalismfellowship/",
        ("nofollow",),
        "Google’s fellowship program",
    ) in _links("article_2015_pippinlee_open-journalism_readability.html")


def test_2016_captions_and_chrome() -> None:
    name = "article_2016_wtf-economy_wtf-whats-the-future_postlight.html"
    links = _links(name)
    captions = [l for l in links if l[1] == "caption"]
    assert [l[3] for l in captions] == [
        "http://www.eng.ox.ac.uk/about/news/new-study-shows-nearly-half-of-us-jobs-at-risk-of-computerisation",
        "http://conferences.oreilly.com/nextcon/economy-us",
        "http://www.pri.org/stories/2016-07-14/what-rise-gig-economy-means-american-dream",
        "http://conferences.oreilly.com/nextcon/economy-us",
    ]
    # the publication's Twitter button in the metabar is chrome
    assert not any("twitter.com" in l[3] for l in links)
    result = parsed(name)
    assert result.skipped["embed_unresolved"] == 1  # a medium.com/media/ frame
    assert result.skipped["internal"] == 1  # a caption link to another Medium post


def test_2018_link_card_image_anchor_has_no_rel_and_bio_in_footer_card() -> None:
    links = _links("article_2018_beyondtherobot_my-real-life-superpower_charleo85.html")
    cards = [l for l in links if l[2] == "link_card"]
    assert cards == [
        (
            "body",
            "link_card",
            "link_card",
            "https://beyondtherobot.com/the-good-stuff-55a895fcbdbb",
            ("nofollow",),
            "The Good Stuff Everything Jack Preston King in an Easy-Access Table of Contents beyondtherobot.com",
        ),
        (
            "body",
            "link_card",
            "link_card",
            "https://beyondtherobot.com/the-good-stuff-55a895fcbdbb",
            (),
            "",
        ),
    ]
    assert links[0][:3] == ("body", "quote", "text")  # a pull quote
    assert links[-1] == (
        "author_bio",
        "bio",
        "text",
        "http://beyondtherobot.com/",
        ("nofollow",),
        "http://beyondtherobot.com",
    )


def test_2018_repeated_rel_tokens_collapse() -> None:
    links = parsed("article_2018_psyked_fluid-widths_node-url-md-fs.html").links
    assert links[0].rel == [
        "nofollow",
        "noopener",
    ]  # served as "nofollow noopener nofollow noopener"
    assert links[0].target_url_raw == "https://www.derby.ac.uk/"
    # utm_* of Unsplash's credit links are tracking, not address
    assert links[3].target_url == "https://unsplash.com/photos/xjZl9zm6Sds"
    assert "utm_source=unsplash" in links[3].target_url_raw


def test_2018_publication_nav_link_is_chrome() -> None:
    links = parsed(
        "article_2018_mlreview_topic-modeling_reconstructed-from-viewsource_awhillas.html"
    ).links
    assert [l.host for l in links] == ["radimrehurek.com", "scikit-learn.org", "scikit-learn.org"]
    assert (
        parsed(
            "article_2018_mlreview_topic-modeling_reconstructed-from-viewsource_awhillas.html"
        ).skipped["embed_unresolved"]
        == 5
    )


def test_2019_custom_domain_links_carry_no_rel() -> None:
    name = "article_2019_wtfeconomy-customdomain_wtf-whats-the-future_postlight.html"
    links = parsed(name).links
    assert all(l.rel == [] and not l.nofollow for l in links)
    embed = links[0]
    assert (embed.kind, embed.block, embed.target_url) == (
        "embed",
        "embed",
        "http://www.youtube.com/watch?v=IAoy3ia2ivI",
    )
    # the publication's own domain and its nav (Archive, Book) are not outbound
    assert not any(
        l.domain in ("wtfeconomy.com", "oreilly.com") and "wtf-book" in l.target_url for l in links
    )
    assert not any(l.host == "wtfeconomy.com" for l in links)


def test_2020_recirculation_and_app_links_are_chrome() -> None:
    links = parsed("article_2020_jcwelch_samantha-great-big-lie_readability.html").links
    hosts = {l.host for l in links}
    assert hosts == {"www.marco.org", "twitter.com", "atp.fm", "t.co", "www.businessinsider.com"}
    assert {tuple(l.rel) for l in links} == {("noopener", "nofollow")}
    quotes = [l for l in links if l.block == "quote"]
    assert len(quotes) == 14


def test_2022_ugc_era_and_fragments() -> None:
    links = parsed("article_2022_jakobulbrich_flag-attributes_postlight.html").links
    assert [(l.rel, l.nofollow, l.ugc, l.sponsored) for l in links] == [
        (["noopener", "ugc", "nofollow"], True, True, False)
    ] * 2
    # both anchors point at one page, at different fragments: two rows, one target
    assert [l.target_url for l in links] == [
        "https://developer.android.com/training/custom-views/create-view.html"
    ] * 2
    assert [l.target_url_raw for l in links] == [
        "https://developer.android.com/training/custom-views/create-view.html#customattr",
        "https://developer.android.com/training/custom-views/create-view.html#applyattr",
    ]


def test_2025_chrome_with_follow_rel_is_not_recorded() -> None:
    result = parsed("article_2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp.html")
    assert _links("article_2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp.html") == [
        (
            "body",
            "quote",
            "text",
            "https://twitter.com/anildash/status/269185787080347648",
            ("noopener", "ugc", "nofollow"),
            "Anil Dash",
        ),
        (
            "body",
            "paragraph",
            "text",
            "http://blogger.com/",
            ("noopener", "ugc", "nofollow"),
            "Blogger",
        ),
        (
            "body",
            "paragraph",
            "text",
            "http://twitter.com/medium",
            ("noopener", "ugc", "nofollow"),
            "@medium on Twitter",
        ),
        (
            "body",
            "paragraph",
            "text",
            "http://facebook.com/medium",
            ("noopener", "ugc", "nofollow"),
            "Facebook",
        ),
    ]
    # Google Play badge, speechify, status page: "noopener follow" chrome
    assert not any(l.host in ("play.google.com", "speechify.com", "me.dm") for l in result.links)
    assert result.skipped["internal"] == 11  # medium.com body links


def test_page_url_overrides_canonical_and_resolves_relative_links() -> None:
    html = b"""<html><head><link rel="canonical" href="https://medium.com/@a/t-0123456789ab">
    <meta property="al:android:url" content="medium://p/0123456789ab"></head>
    <body><article><section><p id="x1">See <a href="/r/?url=https%3A%2F%2Fexample.org%2Fx" rel="nofollow">x</a>
    and <a href="../rel">rel</a>.</p></section></article></body></html>"""
    # pub.example is a publication domain the crawl knows (it learned it from Medium)
    result = extract(html, "https://pub.example/sub/t-0123456789ab", internal_hosts=["pub.example"])
    assert result.article is not None
    assert result.article.url == "https://pub.example/sub/t-0123456789ab"
    # /r/ on the page's own host is Medium's wrapper; ../rel stays on the page's host (internal)
    assert [l.target_url for l in result.links] == ["https://example.org/x"]
    assert result.skipped["internal"] == 1


APOLLO_PAGE = b"""<html><head>
<link rel="canonical" href="https://medium.com/pub/a-title-0123456789ab">
<script>window.__APOLLO_STATE__ = {"ROOT_QUERY": {},
 "Post:0123456789ab": {"id": "0123456789ab", "title": "A title", "firstPublishedAt": 1600000000000,
   "collection": {"__ref": "Collection:c1"}, "creator": {"__ref": "User:u1"},
   "tags": [{"__ref": "Tag:seo"}, {"__ref": "Tag:link-building"}]},
 "Collection:c1": {"id": "c1", "slug": "pub", "name": "The Pub", "domain": "thepub.example"},
 "User:u1": {"id": "u1", "username": "writer", "name": "W. Riter"}}</script>
</head><body><article><section>
<p id="p1"><a href="https://thepub.example/other-post-abcdef012345" rel="noopener">own domain</a>
<a href="https://www.thepub.example/x">own subdomain</a>
<a href="https://elsewhere.example/" rel="noopener ugc nofollow">out</a></p>
</section></article></body></html>"""

GLOBALS_PAGE = b"""<html><head>
<link rel="canonical" href="https://medium.com/pub/a-title-0123456789ab">
<script>// <![CDATA[
var GLOBALS = {"embedded": {"id": "0123456789ab", "creatorId": "u1", "homeCollectionId": "c1",
  "firstPublishedAt": 1500000000000, "virtuals": {"tags": [{"slug": "seo", "name": "SEO"}]}},
  "references": {"User": {"u1": {"userId": "u1", "username": "writer"}},
                 "Collection": {"c1": {"id": "c1", "slug": "pub", "name": "The Pub", "domain": null}}}}
// ]]></script></head>
<body><article class="postArticle postArticle--full"><div class="postArticle-content">
<section class="section section--body"><div class="section-content"><div class="section-inner">
<p class="graf graf--p">x <a href="https://medium.com/r/?url=https%3A%2F%2Fwrapped.example%2Fa" rel="nofollow">w</a></p>
</div></div></section></div></article></body></html>"""


def test_fields_from_apollo_state_and_publication_domain_is_internal() -> None:
    result = extract(APOLLO_PAGE)
    art = result.article
    assert art is not None
    assert art.publication is not None
    assert (art.publication.slug, art.publication.name, art.publication.domain) == (
        "pub",
        "The Pub",
        "thepub.example",
    )
    assert art.author is not None and art.author.username == "writer"
    assert art.published_at == "2020-09-13T12:26:40.000Z"
    assert art.tags == ["seo", "link-building"]
    assert [l.target_url for l in result.links] == ["https://elsewhere.example/"]
    assert result.skipped["internal"] == 2


def test_fields_from_graf_globals_and_redirect_unwrapping() -> None:
    result = extract(GLOBALS_PAGE)
    art = result.article
    assert art is not None
    assert art.published_at == "2017-07-14T02:40:00.000Z"
    assert art.tags == ["seo"]
    assert art.author is not None and art.author.username == "writer"
    assert art.publication is not None and art.publication.name == "The Pub"
    (link,) = result.links
    assert (link.target_url, link.host, link.nofollow) == (
        "https://wrapped.example/a",
        "wrapped.example",
        True,
    )
    assert link.target_url_raw.startswith("https://medium.com/r/?url=")


def test_react_link_card_and_image_link() -> None:
    html = b"""<html><head><link rel="canonical" href="https://medium.com/@a/t-0123456789ab">
    <meta property="al:android:package" content="com.medium.reader"></head>
    <body><article><section>
    <div class="card"><a href="https://card.example/post" rel="noopener ugc nofollow" target="_blank">
      <div><h2>Card title</h2><div><h3>Card description</h3></div><div><p>card.example</p></div></div></a></div>
    <figure><div><a href="https://img.example/full.png" rel="noopener ugc nofollow"><img alt="A chart" src="x.png"></a></div>
      <figcaption>Photo by <a href="https://photos.example/me" rel="noopener ugc nofollow">me</a></figcaption></figure>
    <h3 id="h1">See <a href="https://head.example/" rel="noopener ugc nofollow">this</a></h3>
    <pre id="c1"><a href="https://code.example/">code</a></pre>
    <div><a href="https://byline.example/">not in a block</a></div>
    </section></article></body></html>"""
    got = [(l.block, l.kind, l.host, l.anchor_text) for l in extract(html).links]
    assert got == [
        ("link_card", "link_card", "card.example", "Card title Card description card.example"),
        ("figure", "image", "img.example", "A chart"),
        ("caption", "text", "photos.example", "me"),
        ("heading", "text", "head.example", "this"),
        ("preformatted", "text", "code.example", "code"),
    ]
