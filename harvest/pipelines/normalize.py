"""Make every page item safe and consistent before it is stored.

Repairs what can be repaired (NUL bytes and lone surrogates in text, overlong
anchor text, stale derived fields) and rejects what cannot (links without a
usable target, articles without a post id), counting each by reason in the
crawl stats under ``harvest/normalize/...`` and logging the URL.

:func:`sanitize` is the one rule for text PostgreSQL can store, applied to
every text field of every item and of the records in it (an author's name, a
publication's, a link's anchor, a problem's reason...): a NUL in any of them
would otherwise fail the whole batch it is written with.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import replace
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from harvest.items import ArticlePage, ProfilePage
from harvest.links import host_of, normalize_url, parse_rel, registered_domain, rel_flags
from harvest.medium.records import Link

log = logging.getLogger(__name__)

# Longer targets are almost always generated junk (data blobs pasted as URLs);
# 2048 is what browsers and search engines reliably handle.
MAX_URL_LENGTH = 2048
MAX_TEXT_LENGTH = 2000
_POST_ID_RE = re.compile(r"^[0-9a-f]{10,12}$")
_SURROGATES_RE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]").search
# Longer text in a field without a limit of its own is cut here.
MAX_FIELD_LENGTH = 16_384
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def clean_text(value: str | None, limit: int = MAX_TEXT_LENGTH) -> tuple[str | None, bool]:
    """Text PostgreSQL can store: no NUL, no lone surrogates, at most ``limit`` chars."""
    if value is None:
        return None, False
    out = value
    if "\x00" in out:
        out = out.replace("\x00", "")
    if _SURROGATES_RE.search(out):
        out = _SURROGATES_RE.sub("\ufffd", out)
    if len(out) > limit:
        out = out[:limit]
    return out, out != value


def _field_names(cls: type) -> tuple[str, ...]:
    found = _FIELD_NAMES.get(cls)
    if found is None:
        found = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return found


def sanitize(record: Any) -> int:
    """Make every text field of ``record``, and of the records and lists in it,
    storable (see :func:`clean_text`); returns how many fields were changed."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        return 0
    changed = 0
    for name in _field_names(type(record)):
        value = getattr(record, name)
        if isinstance(value, str):
            # Inline, not a call: this runs for every text field of every link.
            if _UNSTORABLE(value) or len(value) > MAX_FIELD_LENGTH:
                setattr(record, name, clean_text(value, MAX_FIELD_LENGTH)[0])
                changed += 1
        elif isinstance(value, list):
            changed += _sanitize_list(value)
        elif dataclasses.is_dataclass(value):
            changed += sanitize(value)
    return changed


def _sanitize_list(values: list[Any]) -> int:
    changed = 0
    for i, element in enumerate(values):
        if not isinstance(element, str):
            changed += sanitize(element)
        elif _UNSTORABLE(element) or len(element) > MAX_FIELD_LENGTH:
            values[i] = clean_text(element, MAX_FIELD_LENGTH)[0]
            changed += 1
    return changed


class NormalizePipeline:
    def __init__(self, stats: Any = None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        return cls(crawler.stats)

    def _count(self, reason: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"harvest/normalize/{reason}", n)

    async def process_item(self, item: Any) -> Any:
        repaired = sanitize(item)
        if repaired:
            self._count("repaired/text", repaired)
        adapter = ItemAdapter(item)
        if isinstance(item, ArticlePage):
            self._article(item)
            url = item.url or item.article.url
            adapter["links"] = self._links(item.links, url, item.links_normalized)
        elif isinstance(item, ProfilePage):
            adapter["links"] = self._links(item.links, item.url, item.links_normalized)
        return item

    def _article(self, item: ArticlePage) -> None:
        """An article's own fields: its post id checked, its title, tags and
        author's names made storable."""
        art = item.article
        if not art.post_id or not _POST_ID_RE.match(art.post_id):
            self._count("dropped/no_post_id")
            raise DropItem(f"article without a valid post id: {item.url or art.url}")
        title, fixed = clean_text(art.title)
        if fixed:
            self._count("repaired/title")
            art.title = title
        tags = [t for t in (clean_text(t, 200)[0] for t in art.tags) if t]
        if tags != art.tags:
            self._count("repaired/tags")
            art.tags = tags
        if art.author is not None:
            art.author.name = clean_text(art.author.name, 500)[0]
            art.author.username = clean_text(art.author.username, 200)[0]

    def _links(self, links: list[Link], page: str | None, normalized: bool) -> list[Link]:
        kept = []
        for link in links:
            fixed = self._link(link, page, normalized)
            if fixed is not None:
                kept.append(fixed)
        return kept

    def _link(self, link: Link, page: str | None, normalized: bool) -> Link | None:
        if not link.target_url or len(link.target_url) > MAX_URL_LENGTH:
            self._count(
                "links_rejected/url_too_long" if link.target_url else "links_rejected/no_url"
            )
            log.warning(
                "link rejected on %s: target URL of %d characters", page, len(link.target_url or "")
            )
            return None
        changes: dict[str, Any] = {}
        # Normalizing a URL is most of this pipeline's cost, and on a parser's
        # own links it would only repeat the parser's work (a test checks that
        # it changes nothing on the real pages and the simulator's).
        if not normalized and not self._normalize(link, page, changes):
            return None
        raw, fixed_raw = clean_text(link.target_url_raw, MAX_URL_LENGTH * 2)
        if fixed_raw:
            changes["target_url_raw"] = raw
        text, fixed_text = clean_text(link.anchor_text)
        if fixed_text:
            changes["anchor_text"] = text
        if changes:
            self._count("links_repaired")
            return replace(link, **changes)
        return link

    def _normalize(self, link: Link, page: str | None, changes: dict[str, Any]) -> bool:
        """Record in ``changes`` what makes ``link`` consistent; False if it is unusable."""
        target = normalize_url(link.target_url)
        host = host_of(target)
        if target is None or host is None:
            self._count("links_rejected/invalid_url")
            log.warning("link rejected on %s: invalid target %r", page, link.target_url[:200])
            return False
        if target != link.target_url:
            changes["target_url"] = target
        if host != link.host:
            changes["host"] = host
        domain = registered_domain(host)
        if domain != link.domain:
            changes["domain"] = domain
        rel = list(parse_rel(" ".join(link.rel)))
        if rel != link.rel:
            changes["rel"] = rel
        for name, value in rel_flags(rel)._asdict().items():
            if getattr(link, name) != value:
                changes[name] = value
        return True
