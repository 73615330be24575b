"""Turning anchors and embeds that stand in content into outbound Link records."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from harvest.links import (
    classify_href,
    host_of,
    is_medium_host,
    is_same_site,
    normalize_url,
    parse_rel,
    registered_domain,
    rel_flags,
    unwrap_medium_redirect,
)
from harvest.medium.dom import Node, node_text, squash
from harvest.medium.records import Block, Link, LinkKind, Location, PageResult

# Third-party frames that carry the embedded address in their query string.
_EMBED_WRAPPER_HOSTS = ("cdn.embedly.com", "embed.ly")


class LinkRecorder:
    """Decides whether an anchor is outbound and appends its Link to a result.

    Internal means Medium (medium.com, *.medium.com), the page's own host and
    the post's publication domain with its subdomains; anything else is
    outbound. Skips are counted in ``result.skipped`` by reason.
    """

    def __init__(
        self,
        result: PageResult,
        base: str | None,
        internal_hosts: Iterable[str],
        post_id: str | None,
        page_url: str | None,
        author: str | None = None,
    ) -> None:
        self.result = result
        self.base = base
        self.internal_hosts = frozenset(h for h in internal_hosts if h)
        self.post_id = post_id
        self.page_url = page_url
        self.author = author
        self.positions: dict[Location, int] = {"body": 0, "author_bio": 0}

    def is_internal(self, host: str) -> bool:
        if is_medium_host(host):
            return True
        return any(is_same_site(host, h) for h in self.internal_hosts)

    def anchor(self, node: Node, location: Location, block: Block, kind: LinkKind) -> None:
        attrs = node.attrs
        raw = attrs.get("href")
        if raw is None:
            self.result.skipped["no_href"] += 1
            return
        href = classify_href(raw, self.base)
        if href.url is None:
            self.result.skipped[href.reason or "invalid"] += 1
            return
        target = unwrap_medium_redirect(href.url, self.internal_hosts)
        host = host_of(target)
        if host is None or self.is_internal(host):
            self.result.skipped["internal"] += 1
            return
        text = node_text(node, " " if kind == "link_card" else "")
        if not text:
            img = node.css_first("img")
            if img is not None:
                text = squash(img.attrs.get("alt"))
                if kind == "text":
                    kind = "image"
        rel = parse_rel(attrs.get("rel"))
        self._append(target, raw, host, text, kind, list(rel), location, block)

    def embed(self, node: Node) -> None:
        """An iframe in the body: recorded when its embedded address is knowable."""
        raw = node.attrs.get("src") or node.attrs.get("data-src")
        src = normalize_url(raw, self.base) if raw else None
        if src is None:
            self.result.skipped["embed_unresolved"] += 1
            return
        host = host_of(src) or ""
        target: str | None = src
        if host.endswith(_EMBED_WRAPPER_HOSTS):
            params = dict(parse_qsl(urlsplit(src).query))
            target = normalize_url(params.get("url") or params.get("src"))
        elif self.is_internal(host):
            # Medium's own /media/<id> frames: the embedded address is only
            # known after fetching the frame, which a parser must not do.
            target = None
        thost = host_of(target)
        if target is None or thost is None or self.is_internal(thost):
            self.result.skipped["embed_unresolved"] += 1
            return
        # An iframe has no rel: it is recorded as what it is, not as a followed link.
        title = squash(node.attrs.get("title"))
        self._append(target, raw or "", thost, title, "embed", [], "body", "embed")

    def _append(
        self,
        target: str,
        raw: str,
        host: str,
        text: str,
        kind: LinkKind,
        rel: list[str],
        location: Location,
        block: Block,
    ) -> None:
        position = self.positions[location]
        self.positions[location] = position + 1
        flags = rel_flags(rel)
        self.result.links.append(
            Link(
                post_id=self.post_id,
                target_url=target,
                target_url_raw=raw,
                domain=registered_domain(host),
                host=host,
                anchor_text=text,
                kind=kind,
                rel=rel,
                nofollow=flags.nofollow,
                ugc=flags.ugc,
                sponsored=flags.sponsored,
                location=location,
                position=position,
                block=block,
                source_url=self.page_url,
                author=self.author,
            )
        )
