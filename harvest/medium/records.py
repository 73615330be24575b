"""Typed records the parsers return.

They are plain dataclasses so that Scrapy pipelines reach them through
itemadapter and ``harvest extract`` serializes them with :func:`as_json`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from operator import attrgetter
from typing import Any, Literal, TypeVar

Location = Literal["body", "author_bio"]
LinkKind = Literal["text", "image", "link_card", "embed"]
# Where in the body a link stands, finer than Location: reports split on it.
Block = Literal[
    "paragraph",
    "heading",
    "list",
    "quote",
    "preformatted",
    "caption",
    "figure",
    "link_card",
    "embed",
    "bio",
]
PageKind = Literal[
    "article", "listing", "profile", "feed", "sitemap", "sitemap_index", "api", "unknown"
]

_R = TypeVar("_R")


def _pickled_as_tuple(cls: type[_R]) -> type[_R]:
    """Pickle a record as its class and field values, rebuilt by one __init__ call.

    Records cross a pipe for every page parsed in a child process. The
    __getstate__/__setstate__ pair that dataclasses give slotted classes walks
    the fields in Python on both sides, and made pickling and unpickling a page's
    records twice as slow (the crawler's thread pays the unpickling).
    """
    values = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: _R) -> tuple[type[_R], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[assignment,method-assign]
    return cls


@_pickled_as_tuple
@dataclass(slots=True)
class Author:
    username: str | None = None
    name: str | None = None


@_pickled_as_tuple
@dataclass(slots=True)
class Publication:
    slug: str | None = None
    name: str | None = None
    domain: str | None = None


Access = Literal["public", "member_only"]


@_pickled_as_tuple
@dataclass(slots=True)
class PageFacts:
    """What the page says about the post as a source of links, beyond its anchors.

    ``None`` everywhere means "the page does not say": a fact is never guessed.
    """

    # "member_only" when any of Medium's locks is on (access_markers says which)
    access: Access | None = None
    access_markers: list[str] = field(default_factory=list)
    # Whether the body read is the whole post: False for a logged-out preview of a
    # member-only post, whose links below the cut are absent from the HTML.
    complete: bool | None = None
    paragraphs_seen: int = 0
    paragraphs_total: int | None = None
    # the body's words, counted when the page gives the post's word count but
    # no paragraphs to compare
    words_seen: int | None = None
    word_count: int | None = None
    # <meta name="robots"> tokens, lowercased, in page order
    robots: list[str] = field(default_factory=list)
    # The canonical URL names a page off Medium (a cross-post): links pass from there.
    canonical_elsewhere: bool = False
    language: str | None = None
    latest_published_at: str | None = None
    updated_at: str | None = None
    author_followers: int | None = None
    publication_followers: int | None = None
    claps: int | None = None
    responses: int | None = None


@_pickled_as_tuple
@dataclass(slots=True)
class Article:
    post_id: str | None
    url: str | None
    canonical_url: str | None
    author: Author | None
    publication: Publication | None
    title: str | None
    published_at: str | None
    tags: list[str] = field(default_factory=list)
    facts: PageFacts = field(default_factory=PageFacts)
    type: Literal["article"] = "article"


@_pickled_as_tuple
@dataclass(slots=True)
class Link:
    """One outbound anchor (or embed) of a post, or of an author's profile."""

    post_id: str | None
    target_url: str
    target_url_raw: str
    domain: str | None
    host: str | None
    anchor_text: str
    kind: LinkKind
    rel: list[str]
    nofollow: bool
    ugc: bool
    sponsored: bool
    location: Location
    position: int
    block: Block
    source_url: str | None = None
    author: str | None = None
    type: Literal["link"] = "link"


@_pickled_as_tuple
@dataclass(slots=True)
class PostRef:
    """A post named by a listing, profile, feed, sitemap or API response."""

    post_id: str
    url: str
    title: str | None = None
    author: str | None = None
    author_name: str | None = None
    publication: str | None = None
    site: str | None = None
    published_at: str | None = None
    tags: list[str] = field(default_factory=list)
    type: Literal["post"] = "post"


@_pickled_as_tuple
@dataclass(slots=True)
class SitemapRef:
    url: str
    lastmod: str | None = None
    type: Literal["sitemap"] = "sitemap"


@_pickled_as_tuple
@dataclass(slots=True)
class PageResult:
    """Everything one page yields, plus what was skipped and why."""

    kind: PageKind
    url: str | None = None
    article: Article | None = None
    links: list[Link] = field(default_factory=list)
    posts: list[PostRef] = field(default_factory=list)
    sitemaps: list[SitemapRef] = field(default_factory=list)
    # reason -> count: hrefs that are not web links, internal links, unresolved embeds
    skipped: Counter[str] = field(default_factory=Counter)
    # Human-readable reasons a page yielded less than expected.
    problems: list[str] = field(default_factory=list)

    def records(self) -> list[Article | Link | PostRef | SitemapRef]:
        out: list[Article | Link | PostRef | SitemapRef] = []
        if self.article is not None:
            out.append(self.article)
        out.extend(self.links)
        out.extend(self.posts)
        out.extend(self.sitemaps)
        return out


def as_json(record: Article | Link | PostRef | SitemapRef) -> dict[str, Any]:
    """A record as a JSON-ready dict with ``type`` first."""
    data = asdict(record)
    return {"type": data.pop("type"), **data}
