"""Records survive the pipe to and from a parse child unchanged."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest

from harvest.medium import records as r
from tests.medium.helpers import all_pages, parsed


@pytest.mark.parametrize("name", all_pages())
def test_a_real_page_result_pickles_to_an_equal_result(name: str) -> None:
    result = parsed(name)
    back = pickle.loads(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == result
    assert type(back.skipped) is Counter
    assert [type(x) for x in back.records()] == [type(x) for x in result.records()]


def test_every_field_of_every_record_type_round_trips() -> None:
    article = r.Article(
        post_id="0123456789ab",
        url="https://medium.com/@a/p-0123456789ab",
        canonical_url=None,
        author=r.Author("a", "A"),
        publication=r.Publication("pub", "Pub", "pub.example"),
        title="T",
        published_at="2020-01-02",
        tags=["seo"],
    )
    link = r.Link(
        post_id="0123456789ab",
        target_url="https://e.com/",
        target_url_raw="https://E.com",
        domain="e.com",
        host="e.com",
        anchor_text="e",
        kind="link_card",
        rel=["nofollow", "ugc"],
        nofollow=True,
        ugc=True,
        sponsored=False,
        location="author_bio",
        position=3,
        block="bio",
        source_url="https://medium.com/@a",
        author="a",
    )
    result = r.PageResult(
        kind="article",
        url="https://medium.com/@a/p-0123456789ab",
        article=article,
        links=[link],
        posts=[r.PostRef("0123456789ab", "https://medium.com/p/0123456789ab", tags=["x"])],
        sitemaps=[r.SitemapRef("https://medium.com/sitemap/posts/2020/1.xml", "2020-01-02")],
        skipped=Counter(internal=2),
        problems=["p"],
    )
    assert pickle.loads(pickle.dumps(result)) == result
    # A pickle holds each record's values in field order, and nothing else.
    assert link.__reduce__() == (r.Link, tuple(getattr(link, f) for f in r.Link.__slots__))
