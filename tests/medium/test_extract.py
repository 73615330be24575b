"""extract(): kind detection, golden output for every real page, and garbage in."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvest.medium import extract
from harvest.medium.records import as_json
from tests.medium.helpers import EXPECTED, all_pages, page_bytes, parsed

KINDS = {
    "article": "article",
    "profile": "profile",
    "topic_2019_popular_raw": "listing",
    "topic_2019_popular_apollo": "api",
    "rss": "feed",
    "graphql": "api",
    "legacyapi": "api",
}


def test_every_shared_page_is_covered() -> None:
    assert len(all_pages()) == 21
    assert {p.name for p in EXPECTED.iterdir()} == {n + ".jsonl" for n in all_pages()}


@pytest.mark.parametrize("name", all_pages())
def test_kind_is_detected_from_content(name: str) -> None:
    want = next(v for k, v in KINDS.items() if name.startswith(k))
    assert parsed(name).kind == want


@pytest.mark.parametrize("name", all_pages())
def test_output_matches_hand_checked_records(name: str) -> None:
    # expected/*.jsonl: reviewed line by line when written (see make_expected.py)
    lines = (EXPECTED / f"{name}.jsonl").read_text().splitlines()
    meta = json.loads(lines[0])
    want = [json.loads(line) for line in lines[1:]]
    result = parsed(name)
    assert result.kind == meta["kind"]
    assert dict(result.skipped) == meta["skipped"]
    assert [as_json(r) for r in result.records()] == want


# -- garbage in ------------------------------------------------------------------

GARBAGE = {
    "empty": b"",
    "whitespace": b"   \n\t ",
    "binary": bytes(range(256)) * 64,
    "png": b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02" * 1000,
    "nul_bytes": b"<html><body><article><section><p id='a'>x\x00y <a href='https://e.com/\x00'>n\x00ul</a></p></section></article></body></html>",
    "truncated": page_bytes("article_2022_jakobulbrich_flag-attributes_postlight.html")[:30000],
    "invalid_urls": (
        b"<html><head><link rel=canonical href='https://medium.com/@a/t-0123456789ab'>"
        b"<meta property='al:ios:url' content='medium://p/0123456789ab'></head><body><article><section>"
        b"<p id=a><a href='http://[::1'>v6</a><a href='http://exa mple.com'>sp</a><a href='javascript:alert(1)'>js</a>"
        b"<a href='http://example.com:99999/'>port</a><a href='tel:1'>t</a><a href='#x'>f</a><a>none</a>"
        b"<a href='https://ok.example/'>ok</a></p></section></article></body></html>"
    ),
    "not_medium": b"<html><body><p>Hello</p></body></html>",
    "json_garbage": b'{"a": [1, 2, {"b": ',
    "xml_garbage": b"<?xml version='1.0'?><rss><channel><item>",
    "latin1_declared_utf8": "<html><head><meta charset='utf-8'></head><body><a href='/p/0123456789ab'>caf\xe9</a></body></html>".encode(
        "latin-1"
    ),
    "utf16_bom": "\ufeff<html><body><a href='https://medium.com/p/0123456789ab'>x</a></body></html>".encode(
        "utf-16"
    ),
    "deeply_nested": b"<div>" * 50000
    + b"<article><section><p id=a><a href='https://deep.example/'>d</a></p></section></article>"
    + b"</div>" * 50000,
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_never_raises(name: str) -> None:
    result = extract(GARBAGE[name])
    for record in result.records():
        json.dumps(as_json(record))
    if not result.records():
        assert result.problems, "a page that yields nothing must say why"


def test_invalid_urls_are_counted_not_fatal() -> None:
    result = extract(GARBAGE["invalid_urls"])
    assert [l.target_url for l in result.links] == ["https://ok.example/"]
    assert dict(result.skipped) == {
        "invalid": 3,
        "javascript": 1,
        "tel": 1,
        "fragment": 1,
        "no_href": 1,
    }


def test_hostile_nesting_is_refused_quickly_with_a_reason() -> None:
    start = time.perf_counter()
    result = extract(GARBAGE["deeply_nested"])
    assert time.perf_counter() - start < 1
    assert result.records() == []
    assert result.problems == ["elements nested deeper than 1024 levels"]


def test_deep_but_small_page_still_parses() -> None:
    page = (
        b"<div>" * 8000
        + b"<article><section><p id=a><a href='https://deep.example/'>d</a></p></section></article>"
        + b"</div>" * 8000
    )
    start = time.perf_counter()
    # a fragment without a head: a body of Medium's when the URL names the post
    result = extract(page, "https://medium.com/@a/t-0123456789ab")
    assert time.perf_counter() - start < 2
    assert [l.target_url for l in result.links] == ["https://deep.example/"]


def test_mis_declared_encoding_still_reads() -> None:
    result = extract(GARBAGE["latin1_declared_utf8"], "https://medium.com/tag/x")
    assert [p.post_id for p in result.posts] == ["0123456789ab"]
    result = extract(GARBAGE["utf16_bom"])
    assert [p.post_id for p in result.posts] == ["0123456789ab"]


def test_twenty_megabyte_page() -> None:
    page = page_bytes("article_2022_jakobulbrich_flag-attributes_postlight.html")
    filler = b"<p>" + b"lorem ipsum " * 1000 + b"</p>"
    big = page.replace(b"</body>", filler * (20_000_000 // len(filler)) + b"</body>")
    assert len(big) > 20_000_000
    start = time.perf_counter()
    result = extract(big)
    assert time.perf_counter() - start < 30
    assert len(result.links) == 2


def test_fifty_megabyte_page_is_refused_at_once() -> None:
    start = time.perf_counter()
    result = extract(b"<html><body>" + b"<p>x</p>" * (50_000_000 // 8))
    assert time.perf_counter() - start < 1
    assert result.records() == [] and "limit" in result.problems[0]


def test_crawler_download_limit_matches_the_parser_limit() -> None:
    from harvest import settings
    from harvest.medium import MAX_PAGE_BYTES

    assert settings.DOWNLOAD_MAXSIZE == MAX_PAGE_BYTES


def test_over_the_size_limit_is_refused_with_a_reason() -> None:
    result = extract(b"<html>" + b" " * 2000, max_bytes=1000)
    assert result.records() == []
    assert "over the 1000-byte limit" in result.problems[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(all_pages()),
    st.integers(min_value=0, max_value=400_000),
    st.integers(min_value=0, max_value=2000),
    st.binary(max_size=64),
)
def test_mutated_real_pages_never_raise(name: str, at: int, cut: int, junk: bytes) -> None:
    data = page_bytes(name)
    at %= max(len(data), 1)
    mutated = data[:at] + junk + data[at + cut :]
    result = extract(mutated)
    for record in result.records():
        json.dumps(as_json(record))


def test_a_gzipped_sitemap_is_opened_and_a_gzip_bomb_is_refused() -> None:
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?><urlset '
        b'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>'
        b"<loc>https://medium.com/@a/post-0123456789ab</loc></url></urlset>"
    )
    url = "https://medium.com/sitemap/posts/2020/posts-2020-01-01.xml.gz"
    result = extract(gzip.compress(xml), url)
    assert result.kind == "sitemap"
    assert [p.post_id for p in result.posts] == ["0123456789ab"]
    bomb = extract(gzip.compress(b" " * 5_000_000), url, max_bytes=1_000_000)
    assert bomb.kind == "unknown"
    assert bomb.problems == ["gzipped file opens to over the 1000000-byte limit"]
    torn = extract(gzip.compress(xml)[:40], url)
    assert torn.kind == "unknown" and torn.problems[0].startswith("gzipped file that cannot")


FEED = "rss_user-feed_2026_linukaarambawela_raw_LinukaAr.xml"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("declared", ["UTF-8", "UTF-16"])
def test_a_feed_saved_as_utf16_with_its_byte_order_mark_reads_as_saved(
    encoding: str, declared: str
) -> None:
    text = page_bytes(FEED).decode("utf-8").replace('encoding="UTF-8"', f'encoding="{declared}"')
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    saved = extract(bom + text.encode(encoding))
    want = extract(page_bytes(FEED))
    assert saved.kind == "feed"
    assert [as_json(r) for r in saved.records()] == [as_json(r) for r in want.records()]
    assert len(want.records()) == 10


def test_a_utf16_mark_on_other_bytes_is_a_problem_not_a_crash() -> None:
    result = extract(b"\xff\xfe\x00")
    assert not result.records()
    assert result.problems == ["a UTF-16 byte-order mark on bytes that are not UTF-16"]
