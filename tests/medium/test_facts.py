"""Page facts and page identity over the real pages, and each member-only marker alone.

The facts table was checked by hand against each page: its state object for the
post (not the other posts' cards), its JSON-LD, its robots meta and its body.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from harvest.medium import extract
from harvest.medium.dom import parse_html
from harvest.medium.records import PageFacts
from tests.medium.helpers import page_bytes, parsed

P = "article_"
# page -> (access, access_markers, complete, paragraphs seen/total, words seen/count
#          (words are counted only where the page gives a word count and no paragraphs),
#          robots, language, claps, responses, author followers, publication followers)
FACTS: dict[str, tuple[Any, ...]] = {
    "2015_ckirchoff_on-behalf-of-literally_readability": (
        "public", [], True, (23, 23), (None, 820), [], "en", None, None, None, None),
    "2015_pippinlee_open-journalism_readability": (
        "public", [], True, (78, 78), (None, 2568), [], "en", None, None, None, None),
    "2016_kenmazaika_why-im-betting-on-elixir_keepcosmos": (
        "public", [], True, (61, 61), (None, 1593), [], "en", None, 15, None, None),
    # scripts stripped by the saving tool: no state, so access is not known
    "2016_wtf-economy_wtf-whats-the-future_postlight": (
        None, [], True, (60, None), (None, None), ["index", "follow"], None, None, None, None,
        None),
    "2017_jakobulbrich_flag-attributes_postlight": (
        None, [], True, (83, None), (None, None), ["index", "follow"], None, None, None, None,
        None),
    # a 2018 member-only (metered) story served whole: locked, and complete
    "2018_beyondtherobot_my-real-life-superpower_charleo85": (
        "member_only", ["visibility:LOCKED", "isSubscriptionLocked", "lockedPostSource:1"], True,
        (22, 22), (None, 1059), ["index", "follow"], "en", 1198, 29, None, None),
    "2018_mlreview_topic-modeling_reconstructed-from-viewsource_awhillas": (
        "public", [], True, (19, 19), (None, 1049), ["index", "follow"], "en", 2058, 16, None,
        5303),
    "2018_psyked_fluid-widths_node-url-md-fs": (
        "public", [], True, (12, 12), (None, 312), ["index", "follow"], "en", 1, 0, None, None),
    "2019_jakobulbrich_flag-attributes_postlight": (
        None, [], True, (43, None), (None, None), ["index", "follow"], None, None, None, None,
        None),
    "2019_wtfeconomy-customdomain_wtf-whats-the-future_postlight": (
        None, [], True, (36, None), (None, None), ["index", "follow"], None, None, None, None,
        None),
    # eight other posts in its state are LOCKED; the post itself is not
    "2020_jcwelch_samantha-great-big-lie_readability": (
        "public", [], True, (188, None), (None, None),
        ["index", "follow", "max-image-preview:large"], None, 193, 13, None, None),
    "2021_webpack_webpack-3-official-release_metascraper": (
        "public", [], True, (37, 37), (None, None), ["index", "follow", "max-image-preview:large"],
        None, 4034, 51, 8583, 16306),
    "2022_jakobulbrich_flag-attributes_postlight": (
        None, [], True, (44, None), (None, None), ["index", "follow", "max-image-preview:large"],
        None, None, None, None, None),
    # "Member-only story" badges stand on recommendation cards only
    "2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp": (
        "public", [], True, (28, 28), (None, 828),
        ["index", "noarchive", "follow", "max-image-preview:large"], "en", 33159, 80, 213548,
        None),
}  # fmt: skip


def facts_of(name: str) -> PageFacts:
    art = parsed(name).article
    assert art is not None
    return art.facts


@pytest.mark.parametrize("name", sorted(FACTS))
def test_hand_checked_facts(name: str) -> None:
    access, markers, complete, paras, words, robots, lang, claps, responses, af, pf = FACTS[name]
    f = facts_of(P + name + _ext(name))
    assert (f.access, f.access_markers, f.complete) == (access, markers, complete)
    assert (f.paragraphs_seen, f.paragraphs_total) == paras
    assert (f.words_seen, f.word_count) == words
    assert (f.robots, f.language, f.claps, f.responses) == (robots, lang, claps, responses)
    assert (f.author_followers, f.publication_followers) == (af, pf)
    assert f.canonical_elsewhere is False


def _ext(name: str) -> str:
    return ".html"


def test_dates_come_from_the_post_itself() -> None:
    f = facts_of(P + "2021_webpack_webpack-3-official-release_metascraper.html")
    assert (f.latest_published_at, f.updated_at) == (
        "2017-06-21T16:57:08.802Z",
        "2018-06-05T03:29:05.031Z",
    )
    # stripped pages: article:published_time follows the latest republish
    f = facts_of(P + "2016_wtf-economy_wtf-whats-the-future_postlight.html")
    assert (f.latest_published_at, f.updated_at) == ("2016-10-19T14:24:20.323Z", None)


# -- member-only markers, one at a time, on pages of several eras -------------------

APOLLO_PAGES = [
    "2020_jcwelch_samantha-great-big-lie_readability",
    "2021_webpack_webpack-3-official-release_metascraper",
    "2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp",
]
GRAF_PAGES = [
    "2016_kenmazaika_why-im-betting-on-elixir_keepcosmos",
    "2018_psyked_fluid-widths_node-url-md-fs",
]
STRIPPED_PAGES = [
    "2017_jakobulbrich_flag-attributes_postlight",
    "2019_jakobulbrich_flag-attributes_postlight",
    "2022_jakobulbrich_flag-attributes_postlight",
]


def _post_object_span(text: str, post_id: str) -> tuple[int, int]:
    m = re.search(r'"Post:' + post_id + r'"\s*:\s*\{', text)
    start = m.end() - 1 if m else text.index('{"id":"' + post_id + '"')
    _, end = json.JSONDecoder().raw_decode(text, start)
    return start, end


def with_post_state(name: str, **changes: Any) -> str:
    """The page with its own post's state object changed (other posts untouched)."""
    text = page_bytes(P + name + ".html").decode("utf-8")
    art = extract(text).article
    assert art is not None and art.post_id
    start, end = _post_object_span(text, art.post_id)
    post = json.loads(text[start:end])
    for key, value in changes.items():
        if key == "content":
            for k in post:
                if k.startswith("content") and isinstance(post[k], dict):
                    post[k].update(value)
        else:
            post[key] = value
    return text[:start] + json.dumps(post) + text[end:]


def with_ld(text: str, **fields: Any) -> str:
    """The page with fields added to its JSON-LD article (or a JSON-LD block added)."""
    m = re.search(r'<script[^>]*type="application/ld\+json"[^>]*>', text)
    if m is None:
        block = json.dumps({"@context": "http://schema.org", "@type": "NewsArticle", **fields})
        return text.replace(
            "</head>", f'<script type="application/ld+json">{block}</script></head>', 1
        )
    start = text.index("{", m.end())  # past a CDATA wrapper, as on the 2020 page
    ld, end = json.JSONDecoder().raw_decode(text, start)
    ld.update(fields)
    return text[:start] + json.dumps(ld) + text[end:]


def with_badge(text: str) -> str:
    """The badge as Medium's 2024-2026 post header shows it, inside the post's article."""
    badge = (
        '<div><button aria-label="Member-only story"><span>Member-only story</span></button></div>'
    )
    tree = parse_html(text)
    if tree.css_first("article") is None:
        return text.replace(
            '<div class="section-content">', '<div class="section-content">' + badge, 1
        )
    return re.sub(r"(<article\b[^>]*>)", r"\1" + badge, text, count=1)


STATE_MARKERS: dict[str, tuple[dict[str, Any], str]] = {
    "isLocked": ({"isLocked": True}, "isLocked"),
    "visibility": ({"visibility": "LOCKED"}, "visibility:LOCKED"),
    "lockedSource": (
        {"lockedSource": "LOCKED_POST_SOURCE_UGC"},
        "lockedSource:LOCKED_POST_SOURCE_UGC",
    ),
}
METERED: dict[str, Any] = {
    "isAccessibleForFree": False,
    "hasPart": {
        "@type": "WebPageElement",
        "isAccessibleForFree": False,
        "cssSelector": ".meteredContent",
    },
}


@pytest.mark.parametrize("marker", sorted(STATE_MARKERS))
@pytest.mark.parametrize("name", APOLLO_PAGES)
def test_each_state_marker_alone_makes_the_post_member_only(name: str, marker: str) -> None:
    change, want = STATE_MARKERS[marker]
    art = extract(with_post_state(name, **change)).article
    assert art is not None
    assert art.facts.access == "member_only"
    assert art.facts.access_markers == [want]
    # locked, yet this page's body is all there; without the post's own counts
    # (the 2020 page's state has none) nothing says whether it is
    assert art.facts.complete is (None if name.startswith("2020") else True)


@pytest.mark.parametrize("name", APOLLO_PAGES[1:])
def test_preview_only_content_is_incomplete(name: str) -> None:
    art = extract(with_post_state(name, content={"isLockedPreviewOnly": True})).article
    assert art is not None
    assert art.facts.access_markers == ["isLockedPreviewOnly"]
    assert art.facts.complete is False


@pytest.mark.parametrize("name", GRAF_PAGES)
def test_graf_era_locks(name: str) -> None:
    art = extract(with_post_state(name, visibility=2, isSubscriptionLocked=True)).article
    assert art is not None
    assert art.facts.access_markers == ["visibility:LOCKED", "isSubscriptionLocked"]


@pytest.mark.parametrize("name", APOLLO_PAGES + GRAF_PAGES + STRIPPED_PAGES)
def test_json_ld_metered_content_alone(name: str) -> None:
    text = with_ld(page_bytes(P + name + ".html").decode("utf-8"), **METERED)
    art = extract(text).article
    assert art is not None
    assert art.facts.access == "member_only"
    assert art.facts.access_markers == ["ld:isAccessibleForFree=false", "ld:meteredContent"]


@pytest.mark.parametrize("name", APOLLO_PAGES + STRIPPED_PAGES)
def test_badge_alone_in_the_post_article(name: str) -> None:
    art = extract(with_badge(page_bytes(P + name + ".html").decode("utf-8"))).article
    assert art is not None
    assert art.facts.access_markers == ["badge"]


def test_every_marker_together() -> None:
    name = "2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp"
    text = with_post_state(
        name,
        isLocked=True,
        visibility="LOCKED",
        lockedSource="LOCKED_POST_SOURCE_UGC",
        content={"isLockedPreviewOnly": True},
    )
    art = extract(with_badge(with_ld(text, **METERED))).article
    assert art is not None
    assert art.facts.access_markers == [
        "isLocked",
        "visibility:LOCKED",
        "lockedSource:LOCKED_POST_SOURCE_UGC",
        "isLockedPreviewOnly",
        "ld:isAccessibleForFree=false",
        "ld:meteredContent",
        "badge",
    ]
    assert (art.facts.access, art.facts.complete) == ("member_only", False)


def test_truncated_body_against_the_posts_word_count() -> None:
    # A state with the post's word count but no body model (as the simulator's
    # locked posts have): the words read are compared with it.
    name = "2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp"
    no_body = {"bodyModel": None}
    art = extract(with_post_state(name, wordCount=5000, content=no_body)).article
    assert art is not None
    assert (art.facts.words_seen, art.facts.complete) == (850, False)
    art = extract(with_post_state(name, wordCount=900, content=no_body)).article
    assert art is not None and art.facts.complete is True


def test_paragraphs_the_state_names_and_the_markup_lacks_make_it_incomplete() -> None:
    name = P + "2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp.html"
    text = page_bytes(name).decode("utf-8")
    article = parse_html(text).css_first("article")
    assert article is not None
    ids = [n.id for n in article.css("section p[id]")][-5:]
    assert len(ids) == 5
    for ident in ids:  # the last five paragraphs cut away, as a truncation would
        text = text.replace(f'id="{ident}"', f'data-cut="{ident}"', 1)
    art = extract(text).article
    assert art is not None
    assert (art.facts.paragraphs_seen, art.facts.paragraphs_total) == (23, 28)
    assert art.facts.complete is False


# -- robots and canonical ------------------------------------------------------------


def test_noindex_from_content_or_value() -> None:
    text = page_bytes(P + "2022_jakobulbrich_flag-attributes_postlight.html").decode("utf-8")
    text = text.replace('value="index,follow,max-image-preview:large"', 'value="noindex, NOFOLLOW"')
    art = extract(text).article
    assert art is not None and art.facts.robots == ["noindex", "nofollow"]


def test_cross_post_canonical_points_elsewhere() -> None:
    text = page_bytes(P + "2021_webpack_webpack-3-official-release_metascraper.html").decode()
    own = "https://medium.com/webpack/webpack-3-official-release-15fd2dd8f07b"
    text = text.replace(
        f'rel="canonical" href="{own}"',
        'rel="canonical" href="https://blog.example/posts/0123456789ab"',
    )
    art = extract(text, own).article
    assert art is not None
    assert art.facts.canonical_elsewhere is True
    assert art.post_id == "15fd2dd8f07b"  # never the other site's hex tail
    assert art.publication is not None and art.publication.domain is None


def test_custom_domain_canonical_is_not_elsewhere() -> None:
    art = parsed(P + "2019_wtfeconomy-customdomain_wtf-whats-the-future_postlight.html").article
    assert art is not None and art.facts.canonical_elsewhere is False


# -- what is a Medium page, and which post -------------------------------------------


def test_a_verbatim_copy_on_another_host_is_not_medium() -> None:
    data = page_bytes(P + "2021_webpack_webpack-3-official-release_metascraper.html")
    result = extract(data, "https://mirror.example/medium.com/webpack/webpack-3-15fd2dd8f07b")
    assert result.article is None and result.kind == "unknown"
    assert "served by mirror.example" in result.problems[0]
    # the same page on a publication domain the crawl knows is Medium's
    known = extract(data, "https://mirror.example/x", internal_hosts=["mirror.example"])
    assert known.article is not None


MIRROR = b"""<!doctype html><html><head><title>Webpack 3 | reader</title>
<link rel="canonical" href="https://medium.com/webpack/webpack-3-official-release-15fd2dd8f07b">
</head><body><main><article><section><h1>Webpack 3: Official Release!!</h1>
<p>Read it <a href="https://github.com/webpack/webpack">on GitHub</a>.</p>
<p>Originally on <a href="https://medium.com/webpack/webpack-3-official-release-15fd2dd8f07b">Medium</a></p>
</section></article></main></body></html>"""


def test_a_reader_mirror_in_its_own_markup_yields_no_article() -> None:
    for url in (None, "https://reader.example/webpack/webpack-3-official-release-15fd2dd8f07b"):
        result = extract(MIRROR, url)
        assert result.article is None and result.links == []
        assert "no Medium markers" in result.problems[0]


def test_a_saved_article_fragment_yields_its_body_links_when_the_url_names_the_post() -> None:
    name = P + "2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp.html"
    whole = parsed(name)
    tree = parse_html(page_bytes(name).decode("utf-8"))
    fragment = tree.css_first("article")
    assert fragment is not None
    url = "https://ev.medium.com/welcome-to-medium-9e53ca408c48"
    result = extract(fragment.html or "", url)
    assert result.article is not None and result.article.post_id == "9e53ca408c48"
    body = [(link.target_url, link.rel) for link in whole.links if link.location == "body"]
    assert [(link.target_url, link.rel) for link in result.links] == body
    assert extract(fragment.html or "").article is None  # no URL: nothing says it is Medium's
    assert extract(fragment.html or "", "https://blog.example/x-9e53ca408c48").article is None


CATALOG = b"""<html><head><meta property="al:android:package" content="com.medium.reader">
<link rel="canonical" href="https://medium.com/@reader/list/seo-reads-3f1e0c2a9b7d"></head>
<body><script>window.__APOLLO_STATE__ = {"ROOT_QUERY": {},
"Catalog:3f1e0c2a9b7d": {"__typename": "Catalog", "id": "3f1e0c2a9b7d", "name": "SEO reads"}}</script>
<article><section><p id="a1"><a href="https://example.com/">x</a></p></section></article></body></html>"""


def test_reading_lists_are_not_posts_whatever_hex_they_end_in() -> None:
    result = extract(CATALOG, "https://medium.com/@reader/list/seo-reads-3f1e0c2a9b7d")
    assert result.article is None
    # the URL alone already says so; the state's type says it too
    catalog_elsewhere = CATALOG.replace(b"/list/seo-reads", b"/seo-reads")
    result = extract(catalog_elsewhere, "https://medium.com/@reader/seo-reads-3f1e0c2a9b7d")
    assert result.article is None
    assert result.problems == ["the page state calls 3f1e0c2a9b7d a Catalog, not a post"]


@pytest.mark.parametrize(
    "url",
    [
        "https://medium.com/@reader/list/reading-list-3f1e0c2a9b7d",
        "https://medium.com/@reader/lists",
        "https://medium.com/tag/seo-0123456789ab",
    ],
)
def test_list_and_tag_urls_have_no_post_id(url: str) -> None:
    from harvest.medium.urls import post_id_from_url

    assert post_id_from_url(url) is None


def test_other_sites_hex_tails_are_never_post_ids() -> None:
    from harvest.medium.urls import post_id_on_hosts

    assert post_id_on_hosts("https://github.com/o/r/commit/0123456789ab", ()) is None
    assert post_id_on_hosts("https://pub.example/a-post-0123456789ab", ("pub.example",)) == (
        "0123456789ab"
    )
    assert post_id_on_hosts("https://user.medium.com/a-post-0123456789ab", ()) == "0123456789ab"
