"""A post's status from one fetch: live, member-only, moved, deleted or suspended.

Pure rules over what a fetch returned (status code, addresses, body text), so
the spider decides and tests check them without a network.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from harvest.medium.records import Article

PostStatus = Literal["live", "member_only", "moved", "deleted", "suspended"]

# Medium's page for a suspended account's post (410) names its rules; a post its
# author deleted answers 404 or a plain 410.
_SUSPENDED_TEXTS = (
    "under investigation or was found in violation of the medium rules",
    "this account has been suspended",
    "violation of the medium rules",
)


def gone_status(http_status: int, body: bytes | str = b"") -> PostStatus | None:
    """'deleted' or 'suspended' for an article URL that answered 404 or 410, else None."""
    if http_status not in (404, 410):
        return None
    if http_status == 410:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        lowered = text[:200_000].lower()
        if any(marker in lowered for marker in _SUSPENDED_TEXTS):
            return "suspended"
    return "deleted"


def fetched_status(article: Article, requested: str | None, final: str | None) -> PostStatus:
    """The status of a post whose page was fetched and parsed."""
    if article.facts.access == "member_only":
        return "member_only"
    moved = bool(requested and final and _address(requested) != _address(final))
    if moved and not _PERMALINK_RE.match(urlsplit(requested or "").path):
        return "moved"  # e.g. a publication that moved to its own domain
    return "live"


# medium.com/p/<id> always redirects to the post's address: asking there is no move.
_PERMALINK_RE = re.compile(r"^/p/[0-9a-f]{10,12}/?$")


def _address(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.hostname or "").removeprefix("www."), parts.path.rstrip("/")


__all__ = ["PostStatus", "fetched_status", "gone_status"]
