"""Medium's JSON: legacy streams, GraphQL and Apollo state dumps."""

from __future__ import annotations

from harvest.medium import extract
from tests.medium.helpers import page_bytes, parsed


def test_legacy_topic_stream() -> None:
    result = parsed("legacyapi_2018_topicStream-technology_pretty_charleo85.json")
    assert result.kind == "api"
    assert len(result.posts) == 27
    by_id = {p.post_id: p for p in result.posts}
    peloton = by_id["13892c7bda51"]
    assert peloton.title == "$2,000 Discount on a Peloton"
    assert (peloton.publication, peloton.site) == ("chrishutchins", "chrishutchins.com")
    assert peloton.published_at == "2017-12-21T18:27:58.280Z"
    assert by_id["f86bc51174c1"].author == "the_economist"


def test_legacy_responses_stream_with_xssi_guard() -> None:
    raw = b"])}while(1);</x>" + page_bytes(
        "legacyapi_2018_post-responsesStream_pretty_charleo85.json"
    )
    result = extract(raw)
    assert result.kind == "api"
    assert len(result.posts) == 26


def test_graphql_topic_handler() -> None:
    result = parsed("graphql_2019_TopicHandler-programming_converted-from-ts_hypeit.json")
    assert len(result.posts) == 47
    first = result.posts[0]
    assert (first.post_id, first.url, first.publication) == (
        "6970a55a444b",
        "https://medium.com/better-programming/5-rules-of-code-6970a55a444b",
        "better-programming",
    )


def test_truncated_apollo_dump_still_names_its_posts() -> None:
    result = parsed("topic_2019_popular_apollo-state-pretty_light-bringer.js")
    assert result.kind == "api"
    ids = {p.post_id for p in result.posts}
    assert len(ids) == 11
    # the same topic page's server HTML names ten of these
    html_ids = {
        p.post_id for p in parsed("topic_2019_popular_raw-server-html_light-bringer.html").posts
    }
    assert html_ids <= ids
