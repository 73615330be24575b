"""What a block looks like: Cloudflare's managed challenge, on pages and JSON alike.

Medium sits behind Cloudflare. Once a client looks automated, Cloudflare
answers with a challenge instead of the page: HTTP 403 (sometimes 503 or 429)
with the header ``cf-mitigated: challenge``, and a "Just a moment..." page
that runs ``_cf_chl_opt`` scripts or a Turnstile widget. Such a page is not
Medium's and must never reach a parser (it would be "unparsed"); it is a block.

The word "cloudflare" proves nothing: every Medium page loads Cloudflare's
analytics beacon (``static.cloudflareinsights.com``), so only the markers of
the challenge itself count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Statuses a challenge page is served with; a 200 page is never a challenge,
# whatever its text says (a post may well quote these markers).
CHALLENGE_STATUSES = frozenset({403, 429, 503})
# Only the start of a body is searched: challenge pages are small, and a
# post's body far down a page is not a challenge.
_HEAD_BYTES = 64 * 1024
_MARKERS = re.compile(
    rb"window\._cf_chl_opt|_cf_chl_opt\s*=|/cdn-cgi/challenge-platform/"
    rb"|<title>\s*just a moment\.\.\.\s*</title>|class=\"cf-turnstile\"",
    re.IGNORECASE,
)


def challenge_reason(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """Why this response is a challenge, or None when it is not one.

    ``headers`` maps lowercase names to values.
    """
    mitigated = headers.get("cf-mitigated", "").strip().lower()
    if mitigated == "challenge":
        return f"challenge (HTTP {status}, cf-mitigated: challenge)"
    if status in CHALLENGE_STATUSES:
        found = _MARKERS.search(body[:_HEAD_BYTES])
        if found is not None:
            marker = found.group(0).decode("latin-1").strip()
            return f"challenge page (HTTP {status}, {marker[:40]})"
    return None


def header_map(raw: Mapping[bytes, list[bytes]] | Mapping[str, str]) -> dict[str, str]:
    """Scrapy's (bytes) or plain (str) headers as lowercase str -> first value."""
    out: dict[str, str] = {}
    for key, values in raw.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        first: bytes | str = (values[0] if values else b"") if isinstance(values, list) else values
        out[name.lower()] = first.decode("latin-1") if isinstance(first, bytes) else str(first)
    return out
