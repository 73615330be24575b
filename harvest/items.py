"""Items the spiders yield and the pipelines store.

One item per fetched page: the article together with every outbound link the
page carries, so the store knows the complete link set of a post at one
moment and can mark links that a recrawl no longer finds as lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from harvest.medium.records import Article, Link
from harvest.medium.status import PostStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class FetchFacts:
    """What the HTTP exchange said about a page, beside its content."""

    http_status: int | None = None
    # The addresses before the final one, in order (custom-domain moves).
    redirects: list[str] = field(default_factory=list)
    final_url: str | None = None
    fulfilled_by: str | None = None  # Medium's medium-fulfilled-by header
    x_robots: list[str] = field(default_factory=list)  # X-Robots-Tag directives


@dataclass(slots=True)
class ArticlePage:
    """A fetched article and its links.

    ``links_normalized`` is set when the links come straight from harvest's
    parsers, which build every URL, host, domain and rel with the rules of
    ``harvest.links``; NormalizePipeline then only cleans their text instead
    of normalizing each URL a second time.
    """

    article: Article
    links: list[Link] = field(default_factory=list)
    fetched_at: datetime = field(default_factory=utcnow)
    url: str | None = None
    links_normalized: bool = False
    fetch: FetchFacts = field(default_factory=FetchFacts)
    status: PostStatus = "live"


@dataclass(slots=True)
class PostGone:
    """An article URL that answered 404 or 410: the post was deleted or suspended.

    Stored as the post's status with the date; its links keep their last state.
    """

    post_id: str
    url: str
    status: PostStatus
    http_status: int
    at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ProfilePage:
    """An author's profile: the bio links that belong to the author, not a post."""

    username: str
    name: str | None = None
    links: list[Link] = field(default_factory=list)
    fetched_at: datetime = field(default_factory=utcnow)
    url: str | None = None
    links_normalized: bool = False  # as on ArticlePage


@dataclass(slots=True)
class PageProblem:
    """A page that yielded nothing: a fetch that failed for good, markup no parser
    knows, a block (a challenge, or a host the crawl gave up on), or a page
    robots.txt forbids.

    Stored in ``crawl_failures`` with the run, so nothing fails silently.
    """

    url: str
    kind: str  # "failed" | "unparsed" | "blocked" | "skipped" (robots.txt)
    reason: str
    at: datetime = field(default_factory=utcnow)
    raw_path: str | None = None
    # What the crawl's summary counts it under ("HTTP 404", "unreachable", ...);
    # empty: the reason up to its first colon.
    cause: str = ""


@dataclass(slots=True)
class WalkDone:
    """A GraphQL walk that reached its end (or what an earlier walk saw): the next
    crawl of the same listing lists only posts newer than ``newest``."""

    walk: str  # the listing page naming the walk
    newest: str | None  # the newest first-publish time it has seen (ISO 8601)
    posts: int
    requests: int
    at: datetime = field(default_factory=utcnow)
