"""Pure parsers for Medium pages: (bytes or text, URL) in, typed records out.

Nothing here touches the network or the Scrapy engine. :func:`extract` is the
single entry point: it detects what a page is from its content, parses it once
and returns a :class:`~harvest.medium.records.PageResult`.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterable

from harvest.medium.api import looks_like_json, parse_api_text
from harvest.medium.article import main_article, parse_article_tree
from harvest.medium.dom import MAX_NESTING, Tree, decode, parse_html, too_deep
from harvest.medium.feeds import (
    parse_feed_root,
    parse_sitemap_root,
    parse_xml,
    xml_bytes,
    xml_kind,
)
from harvest.medium.listing import parse_listing_tree
from harvest.medium.records import (
    Article,
    Author,
    Link,
    PageResult,
    PostRef,
    Publication,
    SitemapRef,
    as_json,
)

# Pages larger than this are refused whole rather than parsed slowly; Medium's
# largest real article pages are well under 2 MB.
MAX_PAGE_BYTES = 32 * 1024 * 1024

__all__ = [
    "MAX_PAGE_BYTES",
    "Article",
    "Author",
    "Link",
    "PageResult",
    "PostRef",
    "Publication",
    "SitemapRef",
    "as_json",
    "detect_html_kind",
    "extract",
]


def extract(
    data: bytes | str,
    url: str | None = None,
    *,
    content_type: str | None = None,
    internal_hosts: Iterable[str] = (),
    max_bytes: int = MAX_PAGE_BYTES,
) -> PageResult:
    """Parse one page of any kind. Never raises on page content.

    ``internal_hosts`` adds hosts to treat as Medium (a mirror or the local
    simulator named by ``MEDIUM_BASE_URL``).
    """
    opened = _readable(data, max_bytes)
    if isinstance(opened, PageResult):
        return opened
    data = opened
    head = data[:512]
    head_text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    stripped = head_text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<?xml") or stripped.startswith(
        ("<rss", "<urlset", "<sitemapindex", "<feed")
    ):
        read = _xml_page(data, url, declared=stripped.startswith("<?xml"))
        if read is not None:
            return read
    return _html_page(decode(data, content_type), url, internal_hosts)


def _xml_page(data: bytes | str, url: str | None, *, declared: bool) -> PageResult | None:
    """A feed or a sitemap; None for another XML document that says it is one
    (XHTML: read as HTML)."""
    root = parse_xml(xml_bytes(data))
    kind = xml_kind(root) if root is not None else None
    if root is not None and kind == "feed":
        return parse_feed_root(root, url)
    if root is not None and kind in ("sitemap", "sitemap_index"):
        return parse_sitemap_root(root, url)
    if not declared:
        return _empty("XML document that is neither a feed nor a sitemap")
    return None


def _html_page(text: str, url: str | None, internal_hosts: Iterable[str]) -> PageResult:
    """An article or listing page (or an API answer's JSON)."""
    if looks_like_json(text):
        return parse_api_text(text, url)
    if too_deep(text):
        return _empty(f"elements nested deeper than {MAX_NESTING} levels")
    tree = parse_html(text)
    kind = detect_html_kind(tree)
    if kind == "article":
        return parse_article_tree(tree, url, internal_hosts)
    result = parse_listing_tree(tree, url, internal_hosts)
    if kind == "unknown" and not result.posts and not result.links:
        result.kind = "unknown"
        result.problems = ["not a Medium page this parser recognizes"]
    return result


def detect_html_kind(tree: Tree) -> str:
    """'article', 'listing' or 'unknown', from the markup alone."""
    # Stream previews on graf-era listings reuse .postArticle-content, so only
    # a full-post wrapper marks an article in that markup.
    if tree.css_first(".postArticle--full, .postField--body") is not None:
        return "article"
    art = main_article(tree)
    if art is not None and art.css_first("section") is not None:
        return "article"
    og = tree.css_first('meta[property="og:type"]')
    if og is not None and (og.attrs.get("content") or og.attrs.get("value")) == "article":
        return "article"
    if tree.css_first('article[data-testid="post-preview"], .streamItem, [data-post-id], a[href]'):
        return "listing"
    return "unknown"


_GZIP_MAGIC = b"\x1f\x8b"


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _readable(data: bytes | str, max_bytes: int) -> bytes | str | PageResult:
    """The page to parse, or the result that says why there is none."""
    size = len(data)
    if size == 0:
        return _empty("empty page")
    if size > max_bytes:
        return _empty(f"page is {size} bytes, over the {max_bytes}-byte limit")
    if isinstance(data, bytes) and data.startswith(_GZIP_MAGIC):
        # A gzipped file (a sitemap's .xml.gz), not a Content-Encoding the
        # download already undid.
        opened = _gunzip(data, max_bytes)
        if isinstance(opened, str):
            return _empty(opened)
        data = opened
    if isinstance(data, bytes) and data.startswith(_UTF16_BOMS):
        # A file saved as UTF-16 (as some browsers save a feed): read by its
        # byte-order mark, so the XML and JSON sniffing below sees text.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return _empty("a UTF-16 byte-order mark on bytes that are not UTF-16")
    if isinstance(data, bytes) and _looks_binary(data):
        return _empty("binary content, not a page")
    return data


def _gunzip(data: bytes, max_bytes: int) -> bytes | str:
    """The file inside, or why not: unreadable, or opening to more than
    ``max_bytes`` (a small file that unpacks to gigabytes is refused early)."""
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            while chunk := fh.read(1 << 20):
                out += chunk
                if len(out) > max_bytes:
                    return f"gzipped file opens to over the {max_bytes}-byte limit"
    except (OSError, EOFError, zlib.error) as exc:
        return f"gzipped file that cannot be opened: {exc}"
    if not out:
        return "empty page (gzipped)"
    return bytes(out)


def _looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False  # a BOM: text in UTF-16 or UTF-8
    # Text has few control bytes; images, archives and executables have many.
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > len(sample) // 10


_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13))


def _empty(reason: str) -> PageResult:
    return PageResult(kind="unknown", problems=[reason])
