"""Medium's tag slugs: what /tag/<slug> names, and the slug a tag typed by a
person becomes. Below the parsers, the crawl and the CLI alike, and importing
nothing of harvest's: a command that only reads a --tag loads neither the
parsers nor the public suffix list (harvest.links)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

# A tag slug as Medium writes it in /tag/<slug>: letters and digits of any
# script, joined by single hyphens (/tag/machine-learning, /tag/日本語).
TAG_SLUG = r"[^\W_](?:[^\W_]|-(?=[^\W_])){0,99}"
_TAG_SLUG_RE = re.compile(TAG_SLUG)
_NOT_IN_SLUG = re.compile(r"[^\w\s\-]|_")
_SEPARATORS = re.compile(r"[\s\-]+")


def tag_slug(text: str) -> str:
    """The slug Medium gives a tag as a person types it ("Machine Learning",
    "#SEO", "日本語", "machine%20learning"): lower case, spaces to hyphens, other
    punctuation dropped; "" when nothing of it is left."""
    words = unicodedata.normalize("NFKC", unquote(text)).strip().lower().lstrip("#")
    words = _NOT_IN_SLUG.sub("", words)
    return _SEPARATORS.sub("-", words).strip("-")[:100].rstrip("-")


def is_tag_slug(text: str) -> bool:
    return _TAG_SLUG_RE.fullmatch(text) is not None
