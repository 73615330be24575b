"""Challenge pages are told from Medium's own pages by Cloudflare's markers only."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvest.crawl.blocking import challenge_reason, header_map

PAGES = Path(__file__).resolve().parents[1] / "medium" / "pages"
CHALLENGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    b"<script>window._cf_chl_opt={cvId:'3',cZone:'medium.com'};</script>"
    b'<div class="cf-turnstile"></div></body></html>'
)
BEACON = (
    b"<html><body><article>Cloudflare is great</article>"
    b"<script src='https://static.cloudflareinsights.com/beacon.min.js'></script></body></html>"
)


@pytest.mark.parametrize(
    ("status", "headers", "body", "challenged"),
    [
        (403, {"cf-mitigated": "challenge"}, b"", True),
        (200, {"cf-mitigated": "Challenge"}, b"{}", True),  # JSON (GraphQL) too
        (403, {}, CHALLENGE, True),
        (503, {}, CHALLENGE, True),
        (429, {}, b"<title> Just a moment... </title>", True),
        (403, {}, b"<html>Forbidden</html>", False),  # a plain 403 is a failure
        (200, {}, CHALLENGE, False),  # a post may quote a challenge page
        (403, {}, BEACON, False),  # the beacon is on every Medium page
        (200, {}, BEACON, False),
        (403, {"cf-mitigated": "block"}, b"", False),
    ],
)
def test_challenge_markers(
    status: int, headers: dict[str, str], body: bytes, challenged: bool
) -> None:
    assert (challenge_reason(status, headers, body) is not None) is challenged


def test_no_real_medium_page_is_a_challenge_even_as_403() -> None:
    pages = sorted(PAGES.glob("*.*"))
    assert len(pages) > 15
    for page in pages:
        assert challenge_reason(403, {}, page.read_bytes()) is None, page.name


def test_header_map_takes_scrapy_and_plain_headers() -> None:
    assert header_map({b"CF-Mitigated": [b"challenge", b"x"]}) == {"cf-mitigated": "challenge"}
    assert header_map({"Retry-After": "2"}) == {"retry-after": "2"}
    assert header_map({b"X-Empty": []}) == {"x-empty": ""}
