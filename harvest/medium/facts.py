"""Page facts: what an article page says about the post as a source of links.

Access (member-only locks), whether the body read is the whole post, the
robots meta, a canonical that points off Medium, dates, language and the
source's own weight (followers, claps, responses). Every fact comes from the
post's own state object, its JSON-LD or its markup, never from another post's
card on the same page: Medium's 2020-2026 pages carry a dozen other posts'
states, several of them locked.
"""

from __future__ import annotations

from typing import Any, Protocol

from harvest.medium.dom import Node, ancestors, iso, iso_from_ms, node_text
from harvest.medium.records import Access, PageFacts

# A preview holding four fifths of the post's words reads as the post; Medium's
# own count differs from a split on whitespace by a few percent either way.
COMPLETE_WORD_SHARE = 0.8
# bodyModel paragraph types that render without an id or name in the markup.
_UNNAMED_TYPES = frozenset({"IMG", "IFRAME", 4, 11})
# lockedSource / lockedPostSource values that mean "not locked"
_UNLOCKED_SOURCES = frozenset({None, "", 0, "LOCKED_POST_SOURCE_NONE"})
_BADGE = "Member-only story"
_BADGE_SELECTOR = (
    f'[aria-label="{_BADGE}"], span:lexbor-contains("{_BADGE}"), p:lexbor-contains("{_BADGE}")'
)


class HeadSays(Protocol):
    """What the facts read of the document head."""

    @property
    def robots(self) -> list[str]: ...
    @property
    def published_time(self) -> str | None: ...
    @property
    def modified_time(self) -> str | None: ...


class StateSays(Protocol):
    """What the facts read of the page's state objects."""

    def resolve(self, value: Any) -> dict[str, Any] | None: ...
    def with_id(self, ident: str, *needed: str) -> dict[str, Any] | None: ...


class ArticleSource(Protocol):
    """All the facts read of an article page, as the article parser has it: its
    head, JSON-LD and state, and where the post's body is. Nothing else of the
    parser reaches them (:class:`harvest.medium.article.ArticleParser` is one)."""

    @property
    def head(self) -> HeadSays: ...
    @property
    def ld(self) -> dict[str, Any]: ...
    @property
    def state(self) -> StateSays: ...
    @property
    def canonical_foreign(self) -> bool: ...

    def state_post(self) -> dict[str, Any] | None: ...
    def article_node(self) -> Node | None: ...
    def body_blocks(self) -> list[Node]: ...
    def body_regions(self) -> tuple[list[Node], bool]: ...


class FactsReader:
    """One method per fact, each reading the post's own state, JSON-LD or markup."""

    def __init__(self, parser: ArticleSource) -> None:
        self.p = parser
        self.post = parser.state_post() or {}
        self.content = self._content()
        self._paras: list[dict[str, Any]] | None = None

    def facts(self) -> PageFacts:
        markers = self.access_markers()
        facts = PageFacts(
            access=self.access(markers),
            access_markers=markers,
            paragraphs_seen=self.paragraphs_seen(),
            paragraphs_total=self.paragraphs_total(),
            word_count=self.word_count(),
            robots=list(dict.fromkeys(self.p.head.robots)),
            canonical_elsewhere=self.p.canonical_foreign,
            language=self.language(),
            latest_published_at=self.latest_published_at(),
            updated_at=self.updated_at(),
            author_followers=self.author_followers(),
            publication_followers=self.publication_followers(),
            claps=self.claps(),
            responses=self.responses(),
        )
        if facts.word_count and not facts.paragraphs_total:
            # Only a count to compare with makes the body's words worth counting.
            facts.words_seen = self.words_seen()
        facts.complete = self.complete(facts)
        return facts

    # -- access ----------------------------------------------------------------------

    def access_markers(self) -> list[str]:
        post, found = self.post, []
        if post.get("isLocked") is True:
            found.append("isLocked")
        if post.get("visibility") in ("LOCKED", 2):
            found.append("visibility:LOCKED")
        if post.get("isSubscriptionLocked") is True:
            found.append("isSubscriptionLocked")
        for key in ("lockedSource", "lockedPostSource"):
            if key in post and post[key] not in _UNLOCKED_SOURCES:
                found.append(f"{key}:{post[key]}")
        if self._preview_only():
            found.append("isLockedPreviewOnly")
        found.extend(self._ld_markers())
        if self._badge():
            found.append("badge")
        return found

    def access(self, markers: list[str]) -> Access | None:
        if markers:
            return "member_only"
        post = self.post
        if post.get("isLocked") is False or post.get("visibility") in ("PUBLIC", "UNLISTED", 0, 1):
            return "public"
        if _is_false(self.p.ld.get("isAccessibleForFree")) is False:
            return "public"
        return None

    def _preview_only(self) -> bool:
        return self.content.get("isLockedPreviewOnly") is True or (
            self.post.get("isLockedPreviewOnly") is True
        )

    def _ld_markers(self) -> list[str]:
        ld, found = self.p.ld, []
        if _is_false(ld.get("isAccessibleForFree")) is True:
            found.append("ld:isAccessibleForFree=false")
        parts = ld.get("hasPart")
        for part in parts if isinstance(parts, list) else [parts]:
            if isinstance(part, dict) and ".meteredContent" in str(part.get("cssSelector", "")):
                found.append("ld:meteredContent")
                break
        return found

    def _badge(self) -> bool:
        """Medium's "Member-only story" badge on the post itself, not on a card."""
        art = self.p.article_node()
        if art is None:
            return False
        # Lexbor's :lexbor-contains matches an element's own text, in C; the badge's
        # text stands in a span or p (a "*" there costs a tenth of a page's parse).
        for node in art.css(_BADGE_SELECTOR):
            if node.attrs.get("aria-label") != _BADGE and node_text(node).strip() != _BADGE:
                continue
            if not _in_card(node, art):
                return True
        return False

    # -- completeness ------------------------------------------------------------------

    def complete(self, facts: PageFacts) -> bool | None:
        if self._preview_only():
            return False
        # The state's own paragraphs first: each one named in the markup or not. Its
        # body model is the whole post unless the flag above says it is a preview.
        if facts.paragraphs_total:
            return facts.paragraphs_seen >= facts.paragraphs_total
        if facts.word_count and facts.words_seen is not None:
            return facts.words_seen >= COMPLETE_WORD_SHARE * facts.word_count
        # A public post is served whole; a locked one without counts is unknown.
        return None if facts.access == "member_only" else True

    def _paragraphs(self) -> list[dict[str, Any]]:
        if self._paras is None:
            body = self.p.state.resolve(self.content.get("bodyModel")) or {}
            self._paras = []
            for item in body.get("paragraphs") or []:
                para = self.p.state.resolve(item)
                if isinstance(para, dict) and para.get("type") not in _UNNAMED_TYPES:
                    self._paras.append(para)
        return self._paras

    def paragraphs_total(self) -> int | None:
        return len(self._paragraphs()) or None

    def paragraphs_seen(self) -> int:
        """Paragraphs of the post present in the body: the state's names found in the
        markup (a code block's id sits on a span inside its <pre>), else the blocks."""
        paras = self._paragraphs()
        if not paras:
            return len(self.p.body_blocks())
        regions, graf = self.p.body_regions()
        if graf:
            names = {node.attrs.get("name") for r in regions for node in r.css("[name]")}
        else:
            names = {node.id for r in regions for node in r.css("[id]")}
        return sum(1 for para in paras if para.get("name") in names)

    def words_seen(self) -> int:
        regions = self.p.body_regions()[0]
        return sum(len(region.text(deep=True, separator=" ").split()) for region in regions)

    def word_count(self) -> int | None:
        virtuals = self.post.get("virtuals")
        count = virtuals.get("wordCount") if isinstance(virtuals, dict) else None
        return _int(count or self.post.get("wordCount") or self.p.ld.get("wordCount"))

    # -- dates, language ---------------------------------------------------------------

    def language(self) -> str | None:
        lang = self.post.get("detectedLanguage") or self.p.ld.get("inLanguage")
        return lang.lower() if isinstance(lang, str) and lang else None

    def latest_published_at(self) -> str | None:
        return iso_from_ms(self.post.get("latestPublishedAt")) or iso(self.p.head.published_time)

    def updated_at(self) -> str | None:
        return (
            iso_from_ms(self.post.get("updatedAt"))
            or iso(self.p.ld.get("dateModified"))
            or iso(self.p.head.modified_time)
        )

    # -- the source's weight ----------------------------------------------------------

    def author_followers(self) -> int | None:
        creator = self.p.state.resolve(self.post.get("creator"))
        if creator is None and isinstance(self.post.get("creatorId"), str):
            creator = self.p.state.with_id(self.post["creatorId"], "socialStats", "username")
        if not creator:
            return None
        stats = self.p.state.resolve(creator.get("socialStats")) or {}
        return _int(stats.get("followerCount") or creator.get("followerCount"))

    def publication_followers(self) -> int | None:
        coll = self.p.state.resolve(self.post.get("collection") or self.post.get("homeCollection"))
        if coll is None and isinstance(self.post.get("homeCollectionId"), str):
            coll_id = self.post["homeCollectionId"]
            coll = self.p.state.with_id(coll_id, "metadata", "subscriberCount") if coll_id else None
        if not coll:
            return None
        meta = coll.get("metadata")
        count = meta.get("followerCount") if isinstance(meta, dict) else None
        return _int(count or coll.get("subscriberCount"))

    def claps(self) -> int | None:
        virtuals = self.post.get("virtuals")
        graf = virtuals.get("totalClapCount") if isinstance(virtuals, dict) else None
        return _int(self.post.get("clapCount", graf))

    def responses(self) -> int | None:
        virtuals = self.post.get("virtuals")
        if isinstance(virtuals, dict) and "responsesCreatedCount" in virtuals:
            return _int(virtuals["responsesCreatedCount"])
        responses = self.p.state.resolve(self.post.get("postResponses"))
        return _int(responses.get("count")) if responses else None

    def _content(self) -> dict[str, Any]:
        for key, value in self.post.items():
            if key == "content" or key.startswith("content("):
                resolved = self.p.state.resolve(value)
                if resolved:
                    return resolved
        return {}


def _in_card(node: Node, article: Node) -> bool:
    """Whether ``node`` stands in another post's preview inside the article."""
    for anc in ancestors(node, 40):
        if anc.mem_id == article.mem_id:
            return False
        if anc.tag == "article" or anc.attrs.get("data-testid") == "post-preview":
            return True
    return False


def _is_false(value: Any) -> bool | None:
    """JSON-LD booleans arrive as true/false or as the strings "True"/"false"."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "false"
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


__all__ = ["COMPLETE_WORD_SHARE", "FactsReader"]
