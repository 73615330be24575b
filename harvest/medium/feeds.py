"""RSS/Atom feeds and sitemaps.

Feed item bodies carry no rel attributes, so a feed never yields Link records:
it names posts, and the post page decides each link's flags.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any

from lxml import etree

from harvest.links import normalize_url
from harvest.medium.listing import post_ref_from_url
from harvest.medium.records import PageResult, PostRef, SitemapRef

# No network, no entity expansion, no DTD loading: feeds come from the web.
_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False
)
_GUID_ID_RE = re.compile(r"/p/([0-9a-f]{10,12})\b")
_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_ATOM_NS = "{http://www.w3.org/2005/Atom}"
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"


# The encoding a text's XML declaration names is the one its bytes had: once
# decoded (a file read by its UTF-16 byte-order mark), the text is UTF-8's.
_DECLARED_ENCODING_RE = re.compile(
    r"""^(\ufeff?\s*<\?xml\b[^>]*?)\s+encoding\s*=\s*["'][^"']*["']"""
)


def xml_bytes(data: bytes | str) -> bytes:
    """What the XML parser reads: bytes as they are, text as UTF-8 that says so."""
    if isinstance(data, bytes):
        return data
    return _DECLARED_ENCODING_RE.sub(r"\1", data, count=1).encode("utf-8")


def parse_xml(data: bytes) -> etree._Element | None:
    try:
        root = etree.fromstring(data, _XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    return root


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def xml_kind(root: etree._Element) -> str | None:
    name = _local(root.tag)
    return {
        "rss": "feed",
        "feed": "feed",
        "RDF": "feed",
        "urlset": "sitemap",
        "sitemapindex": "sitemap_index",
    }.get(name)


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def _rfc822(value: str | None) -> str | None:
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return dt.isoformat().replace("+00:00", "Z")


def parse_feed_root(root: etree._Element, url: str | None) -> PageResult:
    result = PageResult(kind="feed", url=normalize_url(url) if url else None)
    seen: set[str] = set()
    for item in root.iter():
        name = _local(item.tag)
        if name not in ("item", "entry"):
            continue
        ref = _feed_item(item, atom=name == "entry")
        if ref is None:
            result.skipped["item_without_post"] += 1
            continue
        if ref.post_id in seen:
            continue
        seen.add(ref.post_id)
        result.posts.append(ref)
    if not result.posts:
        result.problems.append("feed has no items naming a Medium post")
    return result


def _feed_item(item: etree._Element, *, atom: bool) -> PostRef | None:
    fields = _item_fields(item, atom=atom)
    link, guid = fields.get("link"), fields.get("guid")
    ref = post_ref_from_url(link) or post_ref_from_url(guid)
    # The guid (medium.com/p/<id>) is the authoritative id when both exist.
    m = _GUID_ID_RE.search(guid) if guid else None
    if ref is None and m:
        ref = PostRef(post_id=m.group(1), url=f"https://medium.com/p/{m.group(1)}")
    if ref is None:
        return None
    if m:
        ref.post_id = m.group(1)
    ref.title = fields.get("title")
    ref.published_at = fields.get("date")
    ref.tags = fields.get("tags") or []
    ref.author_name = fields.get("creator")
    return ref


def _item_fields(item: etree._Element, *, atom: bool) -> dict[str, Any]:
    """An RSS <item> or Atom <entry>: link, guid, title, creator, date and tags."""
    out: dict[str, Any] = {"tags": []}
    for child in item:
        name = _local(child.tag)
        if name == "link":
            out["link"] = (child.get("href") if atom else _text(child)) or _text(child)
        elif name in ("guid", "id"):
            out["guid"] = _text(child)
        elif name == "title":
            out["title"] = _text(child)
        elif child.tag == _DC_CREATOR or (atom and name == "author"):
            out["creator"] = _text(child) if not atom else _text(child.find(f"{_ATOM_NS}name"))
        elif name in ("pubDate", "published"):
            out["date"] = _rfc822(_text(child)) if name == "pubDate" else _text(child)
        elif name == "category":
            term = child.get("term") if atom else _text(child)
            if term:
                out["tags"].append(term.lower())
    return out


def parse_sitemap_root(root: etree._Element, url: str | None) -> PageResult:
    index = _local(root.tag) == "sitemapindex"
    result = PageResult(
        kind="sitemap_index" if index else "sitemap", url=normalize_url(url) if url else None
    )
    seen: set[str] = set()
    for entry in root:
        name = _local(entry.tag)
        if name not in ("url", "sitemap"):
            continue
        loc = _text(entry.find(f"{_SITEMAP_NS}loc"))
        if loc is None:
            loc = _text(entry.find("loc"))
        lastmod = _text(entry.find(f"{_SITEMAP_NS}lastmod"))
        if index:
            norm = normalize_url(loc)
            if norm:
                result.sitemaps.append(SitemapRef(url=norm, lastmod=lastmod))
            else:
                result.skipped["invalid"] += 1
            continue
        ref = post_ref_from_url(loc)
        if ref is None:
            result.skipped["not_a_post"] += 1
            continue
        if ref.post_id in seen:
            continue
        seen.add(ref.post_id)
        result.posts.append(ref)
    if not result.posts and not result.sitemaps:
        result.problems.append("sitemap lists no post URLs")
    return result
