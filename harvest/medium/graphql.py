"""Medium's GraphQL listings: the walks harvest makes, their requests, and a strict
reading of the answers.

A *walk* is one cursor-paged listing: a tag's posts (all time, or one month of
them), a user's posts, or a publication's. It is named by the page a reader
would see it on (``https://medium.com/tag/seo/archive/2019/03``,
``https://medium.com/@someone``, ``https://medium.com/the-lab`` or a
publication's own ``https://example.com/``); that page is also the request's
Referer, and its host is where ``/_/graphql`` is asked.

Medium changes these shapes without notice. :func:`read_page` accepts only the
shape it asks for: anything else is a :data:`DRIFT` page naming the first field
that did not fit, never an empty page.

The requests are written to match what public clients that talked to the real
endpoint in 2024-2026 send, because the endpoint checks each variable's
declared type against the argument it is used for (a ``String`` variable where
the schema wants ``String!`` is a validation error, not an answer).
:data:`CHECKED_AGAINST` names, for each part of each request, the client that
sends the same (a test holds every part to the requests), so that the next
change of Medium's schema has a place to be checked against.

A walk's stop decisions follow the listing's own order: a publication's
walk goes by ``listedAt`` (an old post its publication lists late sits among
the new), and a pinned post (``pinnedByCreatorAt`` or ``pinnedAt`` above 0,
fields of Medium's own post-preview fragment, answered 0 when not pinned)
says nothing of where a walk is.

Not checked against a live answer: the user typenames other than ``User``
(``UserNotFound``, ``BlockedUser``, ``SuspendedUser`` appear in no client),
and that a user's listing puts pinned posts first (the simulator does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from harvest.links import host_of, is_medium_host
from harvest.medium.dom import iso_from_ms
from harvest.medium.listing import post_ref_from_url
from harvest.medium.records import PostRef
from harvest.slugs import TAG_SLUG

ENDPOINT_PATH = "/_/graphql"
TAG_OPERATION = "TagArchiveFeedQuery"
USER_OPERATION = "UserProfileQuery"
PUBLICATION_OPERATION = "PublicationContentDataQuery"
# Posts a page at most, by walk: what the endpoint gives (tags: 20 whatever
# is asked) or the most public clients ask for (users, publications: 25).
PAGE_SIZES: dict[str, int] = {"tag": 20, "user": 25, "publication": 25}
MAX_PAGE_SIZE = max(PAGE_SIZES.values())
# An answer is one page of at most MAX_PAGE_SIZE posts. One that lists many
# times more, or names a cursor no real one approaches in length, is not an
# answer to read (it would schedule a million requests, or store a cursor of
# megabytes in every walk record).
MAX_EDGES = 20 * MAX_PAGE_SIZE
MAX_CURSOR = 4096
# Medium's first posts are from August 2012.
FIRST_MONTH = (2012, 8)

OK: Literal["ok"] = "ok"
ERROR: Literal["error"] = "error"  # GraphQL answered, with errors
DRIFT: Literal["drift"] = "drift"  # an answer of a shape harvest does not know
Status = Literal["ok", "error", "drift"]

WalkKind = Literal["tag", "user", "publication"]

_TAG_RE = re.compile(rf"/tag/({TAG_SLUG})/archive(?:/(\d{{4}})/(\d{{2}}))?/?")
_USER_RE = re.compile(r"/@([A-Za-z0-9_.\-]{1,100})/?")
_PUB_RE = re.compile(r"/([a-z0-9][a-z0-9\-]{0,99})/?")
_ID_RE = re.compile(r"^[0-9a-f]{8,16}$")

# Each post is asked for the same fields in every operation.
_POST_FIELDS = """
  id
  title
  mediumUrl
  firstPublishedAt
  pinnedAt
  pinnedByCreatorAt
  creator { id username name }
  collection { id slug name domain }
"""
# Declared as the clients in the module docstring declare them: the endpoint
# checks each variable's type against the argument it is used for.
_QUERIES = {
    TAG_OPERATION: (
        "query TagArchiveFeedQuery($tagSlug: String!, $timeRange: TagPostsTimeRange!, "
        "$sortOrder: TagPostsSortOrder!, $first: Int!, $after: String) {\n"
        " tagFromSlug(tagSlug: $tagSlug) { id\n"
        "  posts(timeRange: $timeRange, sortOrder: $sortOrder, first: $first, after: $after) {\n"
        "   edges { node {" + _POST_FIELDS + "} }\n"
        "   pageInfo { hasNextPage endCursor }\n"
        "  }\n }\n}"
    ),
    USER_OPERATION: (
        "query UserProfileQuery($id: ID, $username: ID, $homepagePostsLimit: PaginationLimit, "
        "$homepagePostsFrom: String = null, $includeDistributedResponses: Boolean = true) {\n"
        " userResult(id: $id, username: $username) { __typename\n"
        "  ... on User { id username\n"
        "   homepagePostsConnection(paging: {limit: $homepagePostsLimit, "
        "from: $homepagePostsFrom}, includeDistributedResponses: $includeDistributedResponses) "
        "{\n"
        "    posts {" + _POST_FIELDS + "}\n"
        "    pagingInfo { next { from limit } }\n"
        "   }\n  }\n }\n}"
    ),
    PUBLICATION_OPERATION: (
        "query PublicationContentDataQuery($ref: PublicationRef!, $first: Int!, "
        "$after: String!, $orderBy: PublicationPostsOrderBy, "
        "$filter: PublicationPostsFilter) {\n"
        " publication: publicationByRef(ref: $ref) { __typename id slug domain\n"
        "  publicationPostsConnection(first: $first, after: $after, "
        "orderBy: $orderBy, filter: $filter) {\n"
        "   edges { listedAt node {" + _POST_FIELDS + "} }\n"
        "   pageInfo { hasNextPage endCursor }\n"
        "  }\n }\n}"
    ),
}


@dataclass(frozen=True, slots=True)
class Checked:
    """One part of a request and the public client that sends the same."""

    operation: str
    sends: str  # as it appears in the request: its query text or its variables' JSON
    client: str  # repository and file (or issue)
    note: str = ""


_SARPERAVCI = "sarperavci/medium-scraper medium_scraper/explorer/medium_explorer.py"
_ZMEDIUM = "ZhgChgLi/ZMediumToMarkdown lib/User.rb (Medium's own query as its web page sends it)"
_WEBSCULPT = (
    "bqw1013/WebSculpt src/cli/builtin/medium/get-publication/evidence.md "
    "(the query Medium's /all page fires, verified live 2026-08)"
)
CHECKED_AGAINST: tuple[Checked, ...] = (
    Checked(
        TAG_OPERATION,
        "query TagArchiveFeedQuery($tagSlug: String!, $timeRange: TagPostsTimeRange!, "
        "$sortOrder: TagPostsSortOrder!, $first: Int!, $after: String)",
        _SARPERAVCI,
    ),
    Checked(TAG_OPERATION, '"after":""', _SARPERAVCI, "the first page"),
    Checked(
        TAG_OPERATION,
        '"timeRange":{"kind":"IN_MONTH","inMonth":{"year":',
        _SARPERAVCI,
        "a month's archive",
    ),
    Checked(
        TAG_OPERATION,
        '"first":20',
        "pgoslatara/medium_scraper src/ingestion/medium_web_scraper.py; "
        "moalimirinfinity/Medium-Stealth-Bot src/medium_stealth_bot/operations.py",
        "a tag's page holds 20 posts whatever is asked (pgoslatara asks 100 and gets 20); "
        "Medium's own TopicLatestStorieQuery asks 20",
    ),
    Checked(
        USER_OPERATION,
        "query UserProfileQuery($id: ID, $username: ID, $homepagePostsLimit: PaginationLimit, "
        "$homepagePostsFrom: String = null, $includeDistributedResponses: Boolean = true)",
        _ZMEDIUM,
    ),
    Checked(USER_OPERATION, "userResult(id: $id, username: $username)", _ZMEDIUM),
    Checked(
        USER_OPERATION,
        "paging: {limit: $homepagePostsLimit, from: $homepagePostsFrom}",
        _ZMEDIUM,
    ),
    Checked(USER_OPERATION, '"homepagePostsFrom":null', _ZMEDIUM, "the first page"),
    Checked(USER_OPERATION, '"includeDistributedResponses":true', _ZMEDIUM),
    Checked(
        USER_OPERATION,
        '"homepagePostsLimit":25',
        _ZMEDIUM,
        "it asks 10; no client seen asks more than 25",
    ),
    Checked(
        PUBLICATION_OPERATION,
        "query PublicationContentDataQuery($ref: PublicationRef!, $first: Int!, "
        "$after: String!, $orderBy: PublicationPostsOrderBy, $filter: PublicationPostsFilter)",
        _WEBSCULPT,
        'otosky/medium_stats issue #19 declares $after: String! and sends "" too',
    ),
    Checked(PUBLICATION_OPERATION, "publication: publicationByRef(ref: $ref)", _WEBSCULPT),
    Checked(
        PUBLICATION_OPERATION,
        "edges { listedAt node {",
        _WEBSCULPT,
        "its cursor names feed_sort_listed_at: the walk goes by listing time",
    ),
    Checked(PUBLICATION_OPERATION, '"after":""', _WEBSCULPT, "the first page"),
    Checked(PUBLICATION_OPERATION, '"ref":{"slug":null,"domain":', _WEBSCULPT, "by domain"),
    Checked(PUBLICATION_OPERATION, '"domain":null}', _WEBSCULPT, "by slug"),
    Checked(
        PUBLICATION_OPERATION,
        '"orderBy":{"publishedAt":"DESC"},"filter":{"published":true}',
        _WEBSCULPT,
    ),
    Checked(
        PUBLICATION_OPERATION,
        '"first":25',
        _WEBSCULPT,
        "the page asks 10; 25 was answered with 25, 50 with 49-50",
    ),
)


@dataclass(frozen=True, slots=True)
class Walk:
    """One cursor-paged listing, named by the page it belongs to (``url``)."""

    kind: WalkKind
    url: str  # the listing page: the Referer, and the walk's name
    key: str  # tag slug, username, publication slug or domain
    month: tuple[int, int] | None = None  # a tag walk of one month

    @property
    def operation(self) -> str:
        return {"tag": TAG_OPERATION, "user": USER_OPERATION}.get(self.kind, PUBLICATION_OPERATION)

    @property
    def endpoint(self) -> str:
        """Where the walk's requests go: the listing's own host (a publication's
        domain answers GraphQL itself)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{ENDPOINT_PATH}"

    @property
    def by_domain(self) -> bool:
        return self.kind == "publication" and "." in self.key

    def variables(self, after: str | None, first: int) -> dict[str, Any]:
        """What the request sends; ``after`` None is the first page."""
        if self.kind == "tag":
            if self.month is None:
                time_range: dict[str, Any] = {"kind": "ALL_TIME"}
            else:
                year, month = self.month
                time_range = {"kind": "IN_MONTH", "inMonth": {"year": year, "month": month}}
            return {
                "tagSlug": self.key,
                "timeRange": time_range,
                "sortOrder": "NEWEST",
                "first": first,
                "after": after or "",
            }
        if self.kind == "user":
            return {
                "username": self.key,
                "homepagePostsLimit": first,
                "homepagePostsFrom": after,
                "includeDistributedResponses": True,
            }
        ref = (
            {"slug": None, "domain": self.key}
            if self.by_domain
            else {"slug": self.key, "domain": None}
        )
        return {
            "ref": ref,
            "first": first,
            "after": after or "",
            "orderBy": {"publishedAt": "DESC"},
            "filter": {"published": True},
        }

    def body(self, after: str | None, first: int) -> bytes:
        """The POST body: a one-operation batch, as Medium's own client sends it."""
        op = {
            "operationName": self.operation,
            "variables": self.variables(after, min(max(1, first), PAGE_SIZES[self.kind])),
            "query": _QUERIES[self.operation],
        }
        return json.dumps([op], separators=(",", ":")).encode("utf-8")

    def headers(self) -> dict[str, str]:
        parts = urlsplit(self.url)
        return {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "apollographql-client-name": "lite",
            "graphql-operation": self.operation,
            "Origin": f"{parts.scheme}://{parts.netloc}",
            "Referer": self.url,
        }

    def html_listing(self) -> str:
        """The listing page harvest reads instead when GraphQL cannot be used."""
        if self.kind == "tag":
            return f"https://medium.com/tag/{quote(self.key)}"
        return self.url


def tag_walk(tag: str, month: tuple[int, int] | None = None) -> Walk:
    url = f"https://medium.com/tag/{quote(tag)}/archive"
    if month is not None:
        url += f"/{month[0]:04d}/{month[1]:02d}"
    return Walk("tag", url, tag, month)


def user_walk(username: str) -> Walk:
    return Walk("user", f"https://medium.com/@{username}", username)


def publication_walk(ref: str) -> Walk:
    """A publication by slug (on medium.com) or by its own domain."""
    if "." in ref:
        return Walk("publication", f"https://{ref}/", ref)
    return Walk("publication", f"https://medium.com/{ref}", ref)


def walk_of(url: str) -> Walk | None:
    """The walk a listing URL names (what :attr:`Walk.url` gives), or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = unquote(parts.path) or "/"
    if host == "medium.com":
        return _medium_walk(path)
    if host and not is_medium_host(host) and path == "/":
        return publication_walk(host)
    return None


def _medium_walk(path: str) -> Walk | None:
    """The walk a medium.com path names: a tag's (or one month of it), a user's
    or a publication's."""
    m = _TAG_RE.fullmatch(path)
    if m:
        month = (int(m.group(2)), int(m.group(3))) if m.group(2) else None
        if month is not None and not 1 <= month[1] <= 12:
            return None
        return tag_walk(m.group(1), month)
    m = _USER_RE.fullmatch(path)
    if m:
        return user_walk(m.group(1))
    m = _PUB_RE.fullmatch(path)
    if m and m.group(1) not in ("tag", "m", "p", "me", "feed", "sitemap"):
        return publication_walk(m.group(1))
    return None


def months(first: tuple[int, int], last: tuple[int, int]) -> Iterator[tuple[int, int]]:
    """Every (year, month) from ``last`` back to ``first``: newest first, as the
    walks go."""
    year, month = last
    while (year, month) >= first:
        yield (year, month)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


@dataclass(slots=True)
class WalkPage:
    """One answer of a walk, read strictly."""

    status: Status
    posts: list[PostRef] = field(default_factory=list)
    after: str | None = None  # the cursor of the next page; None: this was the last
    reason: str = ""  # error or drift: what the answer said, or which field did not fit
    seen: int = 0  # posts the answer listed, duplicates within it included
    # posts pinned by their author or publication: a user's come first,
    # whatever their age, and say nothing of where the walk is
    pinned: set[str] = field(default_factory=set)
    # post id -> when its publication listed it (a publication's walk goes in
    # that order, and an old post added lately sits among the new)
    listed: dict[str, str] = field(default_factory=dict)

    @property
    def more(self) -> bool:
        """Whether there is a next page."""
        return self.after is not None


class Drift(ValueError):
    """The answer is not of the shape asked for; the message names where."""


def read_page(walk: Walk, text: str | bytes) -> WalkPage:
    """The posts and next cursor of one answer to ``walk``'s request; never raises."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return WalkPage(DRIFT, reason="the answer is not JSON")
    try:
        return _read(walk, value)
    except Drift as exc:
        return WalkPage(DRIFT, reason=str(exc)[:500])
    except RecursionError:
        return WalkPage(DRIFT, reason="the answer nests too deep")


def _read(walk: Walk, value: Any) -> WalkPage:
    if isinstance(value, dict) and "errors" in value and "data" not in value:
        value = [value]  # a refused batch is answered with one object
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise Drift(f"expected a batch of one answer, got {_what(value)}")
    answer = value[0]
    errors = answer.get("errors")
    if errors:
        return WalkPage(ERROR, reason=_errors(errors))
    data = _obj(answer, "data", "")
    if walk.kind == "tag":
        return _read_tag(data)
    if walk.kind == "user":
        return _read_user(data)
    return _read_publication(data)


def _read_tag(data: dict[str, Any]) -> WalkPage:
    tag = data.get("tagFromSlug", _MISSING)
    if tag is None:
        return WalkPage(OK)  # no such tag: nothing to list
    if tag is _MISSING:
        raise Drift("data.tagFromSlug is missing")
    conn = _obj(_as_obj(tag, "data.tagFromSlug"), "posts", "data.tagFromSlug")
    return _connection(conn, "data.tagFromSlug.posts")


def _read_publication(data: dict[str, Any]) -> WalkPage:
    pub = data.get("publication", _MISSING)
    if pub is None:
        return WalkPage(OK)
    if pub is _MISSING:
        raise Drift("data.publication is missing")
    where = "data.publication"
    conn = _obj(_as_obj(pub, where), "publicationPostsConnection", where)
    return _connection(conn, f"{where}.publicationPostsConnection", listed=True)


def _read_user(data: dict[str, Any]) -> WalkPage:
    where = "data.userResult"
    user = data.get("userResult", _MISSING)
    if user is None:
        return WalkPage(OK)
    if user is _MISSING:
        raise Drift(f"{where} is missing")
    user = _as_obj(user, where)
    typename = user.get("__typename")
    if typename in ("UserNotFound", "BlockedUser", "SuspendedUser"):
        return WalkPage(OK, reason=str(typename))
    if typename != "User":
        raise Drift(f"{where}.__typename: expected User, got {_what(typename)}")
    conn = _obj(user, "homepagePostsConnection", where)
    where += ".homepagePostsConnection"
    nodes = _list(conn, "posts", where)
    paging = _obj(conn, "pagingInfo", where)
    nxt = paging.get("next", _MISSING)
    if nxt is _MISSING:
        raise Drift(f"{where}.pagingInfo.next is missing")
    after = None
    if nxt is not None:
        after = _cursor(
            _text(_as_obj(nxt, f"{where}.pagingInfo.next"), "from", f"{where}.pagingInfo.next"),
            f"{where}.pagingInfo.next.from",
        )
    page = WalkPage(OK, after=after)
    _posts(page, [(n, f"{where}.posts[{i}]", None) for i, n in enumerate(nodes)])
    return page


def _connection(conn: dict[str, Any], where: str, *, listed: bool = False) -> WalkPage:
    edges = _list(conn, "edges", where)
    info = _obj(conn, "pageInfo", where)
    more = info.get("hasNextPage")
    if not isinstance(more, bool):
        raise Drift(f"{where}.pageInfo.hasNextPage: expected true or false, got {_what(more)}")
    cursor = info.get("endCursor")
    if cursor is not None and not isinstance(cursor, str):
        raise Drift(f"{where}.pageInfo.endCursor: expected text, got {_what(cursor)}")
    if more and not cursor:
        raise Drift(f"{where}.pageInfo: a next page without an endCursor")
    if cursor:
        _cursor(cursor, f"{where}.pageInfo.endCursor")
    nodes = []
    for i, edge in enumerate(edges):
        at = f"{where}.edges[{i}]"
        edge = _as_obj(edge, at)
        when = _ms(edge, "listedAt", at) if listed else None
        nodes.append((_obj(edge, "node", at), f"{at}.node", when))
    page = WalkPage(OK, after=cursor if more else None)
    _posts(page, nodes)
    return page


def _posts(page: WalkPage, nodes: list[tuple[Any, str, str | None]]) -> None:
    seen: set[str] = set()
    for node, where, listed in nodes:
        node = _as_obj(node, where)
        ref = _post(node, where)
        page.seen += 1
        if ref.post_id in seen:
            continue
        seen.add(ref.post_id)
        page.posts.append(ref)
        if _pinned(node, where):
            page.pinned.add(ref.post_id)
        if listed is not None:
            page.listed[ref.post_id] = listed


def _ms(parent: dict[str, Any], name: str, where: str) -> str:
    """A time in milliseconds (required), as ISO text."""
    value = parent.get(name, _MISSING)
    if value is _MISSING:
        raise Drift(f"{where}.{name} is missing")
    when = iso_from_ms(value)
    if when is None:
        raise Drift(f"{where}.{name}: expected milliseconds, got {_what(value)}")
    return when


def _pinned(node: dict[str, Any], where: str) -> bool:
    """Whether the post is pinned: Medium answers 0 (or null) when it is not."""
    pinned = False
    for name in ("pinnedByCreatorAt", "pinnedAt"):
        value = node.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise Drift(f"{where}.{name}: expected milliseconds or 0, got {_what(value)}")
        pinned = pinned or value > 0
    return pinned


def _post(node: dict[str, Any], where: str) -> PostRef:
    pid = _text(node, "id", where)
    if not _ID_RE.match(pid):
        raise Drift(f"{where}.id: expected a post id, got {_what(pid)}")
    url = _text(node, "mediumUrl", where)
    ref = post_ref_from_url(url)
    if ref is None or ref.post_id != pid:
        raise Drift(f"{where}.mediumUrl: not the URL of post {pid}: {url[:200]!r}")
    first = node.get("firstPublishedAt")
    if isinstance(first, bool) or not isinstance(first, (int, float)) or first <= 0:
        raise Drift(f"{where}.firstPublishedAt: expected milliseconds, got {_what(first)}")
    ref.published_at = iso_from_ms(first)
    title = node.get("title")
    ref.title = title if isinstance(title, str) and title else None
    _owner(ref, node, where)
    host = host_of(ref.url)
    if host and not is_medium_host(host) and not ref.site:
        ref.site = host
    return ref


def _owner(ref: PostRef, node: dict[str, Any], where: str) -> None:
    """The post's author and publication (and the publication's own domain)."""
    creator = node.get("creator")
    if creator is not None:
        creator = _as_obj(creator, f"{where}.creator")
        ref.author = ref.author or _text(creator, "username", f"{where}.creator")
        name = creator.get("name")
        ref.author_name = name if isinstance(name, str) else None
    coll = node.get("collection")
    if coll is not None:
        coll = _as_obj(coll, f"{where}.collection")
        ref.publication = ref.publication or _text(coll, "slug", f"{where}.collection")
        domain = coll.get("domain")
        if domain is not None and not isinstance(domain, str):
            raise Drift(f"{where}.collection.domain: expected text, got {_what(domain)}")
        if domain and not ref.site:
            ref.site = domain.lower()


_MISSING: Any = object()


def _obj(parent: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = parent.get(name, _MISSING)
    path = f"{where}.{name}" if where else name
    if value is _MISSING:
        raise Drift(f"{path} is missing")
    return _as_obj(value, path)


def _as_obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Drift(f"{where}: expected an object, got {_what(value)}")
    return value


def _list(parent: dict[str, Any], name: str, where: str) -> list[Any]:
    value = parent.get(name, _MISSING)
    if value is _MISSING:
        raise Drift(f"{where}.{name} is missing")
    if not isinstance(value, list):
        raise Drift(f"{where}.{name}: expected a list, got {_what(value)}")
    if len(value) > MAX_EDGES:
        raise Drift(f"{where}.{name}: {len(value):,} entries in one page (at most {MAX_EDGES:,})")
    return value


def _text(parent: dict[str, Any], name: str, where: str) -> str:
    value = parent.get(name, _MISSING)
    if value is _MISSING:
        raise Drift(f"{where}.{name} is missing")
    if not isinstance(value, str) or not value:
        raise Drift(f"{where}.{name}: expected text, got {_what(value)}")
    return value


def _cursor(value: str, where: str) -> str:
    if len(value) > MAX_CURSOR:
        raise Drift(f"{where}: a cursor of {len(value):,} characters (at most {MAX_CURSOR:,})")
    return value


def _what(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return f"{type(value).__name__} of {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _errors(errors: Any) -> str:
    if not isinstance(errors, list):
        return f"errors: {_what(errors)}"
    messages = []
    for err in errors[:3]:
        message = err.get("message") if isinstance(err, dict) else None
        messages.append(str(message)[:200] if message else _what(err))
    return "; ".join(messages) or "errors"
