"""Post status rules: gone (deleted, suspended) and fetched (live, member-only, moved)."""

from __future__ import annotations

import pytest

from harvest.medium.records import Article, PageFacts
from harvest.medium.status import fetched_status, gone_status

RULES_410 = (
    "<html><body><h1>410</h1><p>This post is unavailable: the account is under"
    " investigation or was found in violation of the Medium Rules.</p></body></html>"
)


@pytest.mark.parametrize(
    ("status", "body", "want"),
    [
        (404, b"<html>Page not found</html>", "deleted"),
        (410, b"<html>Gone</html>", "deleted"),
        (410, RULES_410.encode(), "suspended"),
        (410, RULES_410, "suspended"),
        (404, RULES_410.encode(), "deleted"),  # only a 410 says suspended
        (403, b"", None),
        (500, b"", None),
        (200, b"", None),
    ],
)
def test_gone_status(status: int, body: bytes | str, want: str | None) -> None:
    assert gone_status(status, body) == want


def article(access: str | None = "public") -> Article:
    return Article(
        "0123456789ab",
        None,
        None,
        None,
        None,
        None,
        None,
        facts=PageFacts(access=access),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("requested", "final", "access", "want"),
    [
        ("https://medium.com/@a/x-0123456789ab", "https://medium.com/@a/x-0123456789ab", "public", "live"),
        ("https://medium.com/@a/x-0123456789ab", None, None, "live"),
        # a publication that moved to its own domain, an author to a subdomain
        ("https://medium.com/pub/x-0123456789ab", "https://pub.example/x-0123456789ab", "public", "moved"),
        ("https://medium.com/@a/x-0123456789ab", "https://a.medium.com/x-0123456789ab", None, "moved"),
        # the permalink always redirects; www and a trailing slash are the same address
        ("https://medium.com/p/0123456789ab", "https://medium.com/@a/x-0123456789ab", "public", "live"),
        ("https://www.medium.com/@a/x-0123456789ab/", "https://medium.com/@a/x-0123456789ab", None, "live"),
        # member-only says more than where it stands
        ("https://medium.com/pub/x-0123456789ab", "https://pub.example/x-0123456789ab", "member_only", "member_only"),
    ],
)  # fmt: skip
def test_fetched_status(requested: str, final: str | None, access: str | None, want: str) -> None:
    assert fetched_status(article(access), requested, final) == want
