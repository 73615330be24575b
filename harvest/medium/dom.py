"""Shared helpers for reading pages: decoding, parsing, text and embedded JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode
from w3lib.encoding import html_to_unicode

# Lexbor (an HTML5 parser in C) is several times faster than libxml2 and builds
# the same tree a browser does, which matters for Medium's unclosed tags.
Tree = LexborHTMLParser
Node = LexborNode

_WS_RE = re.compile(r"\s+")
# Medium's JSON API responses start with an anti-XSSI guard.
XSSI_PREFIX = "])}while(1);</x>"


# The same rule for an HTTP header (text) and a page's <meta> (bytes).
_CHARSET = r"""charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)"""
_HEADER_CHARSET_RE = re.compile(_CHARSET, re.IGNORECASE)
_DECLARED_RE = re.compile(_CHARSET.encode("ascii"), re.IGNORECASE)
_UTF8_NAMES = ("utf-8", "utf8")


def decode(data: bytes | str, content_type: str | None = None) -> str:
    """Bytes to text the way a browser would: BOM, then HTTP header, then <meta>."""
    if isinstance(data, str):
        return data
    if not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        # Fast path for the common case, a UTF-8 page that says so (or says
        # nothing): w3lib's full detection costs as much as a tenth of a parse.
        header = _HEADER_CHARSET_RE.search(content_type) if content_type else None
        if header is not None:
            charset: str | None = header.group(1)
        else:
            declared = _DECLARED_RE.search(data, 0, 4096)
            charset = declared.group(1).decode("ascii") if declared is not None else None
        if charset is None or charset.lower() in _UTF8_NAMES:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
    _, text = html_to_unicode(content_type, data)
    return text


# Lexbor checks element scopes by walking the stack of open elements, so a
# page nested tens of thousands of levels deep costs quadratic time (50,000
# levels: several seconds). Browsers cap nesting too; real Medium pages stay
# under 100 levels.
MAX_NESTING = 1024
# Pages with fewer tags than this parse in well under a second however they
# nest, so only bigger ones are scanned; real pages have under 5,000 tags and
# never pay for the scan.
_NESTING_CHECK_TAGS = 16_384
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*?(/?)>")
# How far below the top an end tag looks for the element it closes; further
# down, it is taken to close nothing (which only makes a page look deeper).
_END_TAG_REACH = 16
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


def nesting_depth(text: str, stop_at: int) -> int:
    """Deepest element nesting in ``text`` (approximate: a tag scan, no tree).

    An end tag closes only an element of its name open near the top, as in the
    HTML parser: a stray ``</x>`` after each of 80,000 ``<div>`` closes nothing
    there, so it must not make the page look shallow here.
    """
    stack: list[str] = []
    deepest = 0
    for m in _TAG_RE.finditer(text):
        name = m.group(2).lower()
        if m.group(1):
            for i in range(len(stack) - 1, max(-1, len(stack) - 1 - _END_TAG_REACH), -1):
                if stack[i] == name:
                    del stack[i:]
                    break
        elif not m.group(3) and name not in _VOID:
            stack.append(name)
            if len(stack) > deepest:
                deepest = len(stack)
                if deepest > stop_at:
                    break
    return deepest


def too_deep(text: str, limit: int = MAX_NESTING) -> bool:
    return text.count("<") > _NESTING_CHECK_TAGS and nesting_depth(text, limit) > limit


def parse_html(text: str) -> Tree:
    # NUL is not valid in HTML and lexbor would stop at it in some builds;
    # the HTML5 spec replaces it with U+FFFD, as we do.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return LexborHTMLParser(text)


def squash(text: str | None) -> str:
    """Collapse runs of whitespace to one space and trim."""
    if not text:
        return ""
    return _WS_RE.sub(" ", text).strip()


def node_text(node: Node, separator: str = "") -> str:
    return squash(node.text(deep=True, separator=separator, strip=False))


def ancestors(node: Node, limit: int = 64) -> Iterator[Node]:
    """Parents of ``node``, nearest first, at most ``limit`` of them.

    The limit keeps hostile, deeply nested pages linear in time.
    """
    parent = node.parent
    while parent is not None and limit > 0:
        yield parent
        parent = parent.parent
        limit -= 1


def first_json_value(text: str, start: int) -> Any:
    """Decode the JSON value that starts at the first ``{`` or ``[`` from ``start``."""
    brace = _first_of(text, start, "{[")
    if brace < 0:
        raise ValueError("no JSON object")
    value, _ = json.JSONDecoder().raw_decode(text, brace)
    return value


def _first_of(text: str, start: int, chars: str) -> int:
    best = -1
    for ch in chars:
        i = text.find(ch, start)
        if i >= 0 and (best < 0 or i < best):
            best = i
    return best


def iter_dicts(value: Any, limit: int = 2_000_000) -> Iterator[dict[str, Any]]:
    """Every dict inside a decoded JSON value, without recursion."""
    stack = [value]
    seen = 0
    while stack and seen < limit:
        cur = stack.pop()
        seen += 1
        if isinstance(cur, dict):
            yield cur
            stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            stack.extend(v for v in cur if isinstance(v, (dict, list)))


def iso_from_ms(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        dt = datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(value: Any) -> str | None:
    """An ISO 8601 timestamp in UTC with a ``Z``, or ``None`` if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        # 0001-01-01T00:00:00+14:00 is a valid timestamp whose UTC is year 0
        dt = dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    spec = "milliseconds" if dt.microsecond else "seconds"
    return dt.isoformat(timespec=spec).replace("+00:00", "Z")
