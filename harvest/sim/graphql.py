"""The simulator's ``POST /_/graphql``: Medium's listing operations over the whole world.

It answers what Medium's front end asks (a batch of ``{operationName,
variables, query}``) for the three listing operations harvest walks, with
keyset cursors that stay right while the world grows, and it can answer the
ways the real endpoint surprises a client: a shape that changed (``drift``),
GraphQL errors (``error``), or a batch it does not take (``bad_request``).
Challenges and 429s come from the server's page-wide fault knobs, as for any
other path.

Like the real endpoint it validates each operation before answering it: a
variable must be declared with the type of the argument it is used for (a
``String`` where the schema wants ``String!`` is refused), and a required one
must be given. The argument types are those the public clients named in
:mod:`harvest.medium.graphql` declare. Its pages hold what the real ones
hold: a tag's at most 20 posts whatever ``first`` asks, a user's at most 25.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harvest.sim.model import Post, World, ms, profile_order, publication_order, tag_order

MAX_FIRST = 50
DRIFT_KINDS = ("renamed_edges", "cursor_moved", "post_url_gone")

# The schema's type of each argument a listing operation passes a variable to.
ARGUMENTS: dict[str, dict[str, str]] = {
    "TagArchiveFeedQuery": {
        "tagSlug": "String!",
        "timeRange": "TagPostsTimeRange!",
        "sortOrder": "TagPostsSortOrder!",
        "first": "Int!",
        "after": "String",
    },
    "UserProfileQuery": {
        "id": "ID",
        "username": "ID",
        "limit": "PaginationLimit",
        "from": "String",
        "includeDistributedResponses": "Boolean",
    },
    "PublicationContentDataQuery": {
        "ref": "PublicationRef!",
        "first": "Int!",
        "after": "String!",
        "orderBy": "PublicationPostsOrderBy",
        "filter": "PublicationPostsFilter",
    },
}
# Posts a page at most, whatever is asked.
PAGE_CAPS = {"TagArchiveFeedQuery": 20, "UserProfileQuery": 25, "PublicationContentDataQuery": 50}
_DECLARED = re.compile(r"\$(\w+)\s*:\s*(\w+!?)(?:\s*=\s*([^,)]+))?")
_USED = re.compile(r"(\w+)\s*:\s*\$(\w+)")


@dataclass
class GraphqlMode:
    """How the endpoint misbehaves from the ``after``-th answer on (0: every
    answer): ``drift`` (one of DRIFT_KINDS), ``error``, or a listing that does
    not move: ``stuck`` (the next cursor is the one asked with) or
    ``empty_more`` (no posts, yet a next page)."""

    fault: str | None = None  # "drift", "error", "stuck", "empty_more"
    drift: str = "renamed_edges"
    after: int = 0
    answered: int = 0
    # username -> the typename its userResult answers instead of User (one the
    # reader knows, such as SuspendedUser, or one it does not)
    typenames: dict[str, str] = field(default_factory=dict)


def answer(
    world: World,
    host: str,
    body: bytes,
    mode: GraphqlMode,
    asked: list[dict[str, Any]] | None = None,
) -> tuple[int, Any]:
    """(HTTP status, JSON value) for one request to ``/_/graphql`` on ``host``;
    each operation the batch names is noted in ``asked``."""
    try:
        batch = json.loads(body)
    except ValueError:
        return 400, {"errors": [{"message": "Body is not valid JSON"}]}
    if asked is not None and isinstance(batch, list):
        asked.extend(
            {"host": host, "operation": op.get("operationName"), "variables": op.get("variables")}
            for op in batch
            if isinstance(op, dict)
        )
    if not isinstance(batch, list) or not batch or not all(isinstance(op, dict) for op in batch):
        return 400, {"errors": [{"message": "Expected a batch of operations"}]}
    mode.answered += 1
    return 200, [_one(world, host, op, mode) for op in batch]


def _one(world: World, host: str, op: dict[str, Any], mode: GraphqlMode) -> dict[str, Any]:
    """The answer to one operation of a batch, with the fault ``mode`` plays."""
    name = op.get("operationName")
    variables = op.get("variables") or {}
    faulty = mode.answered > mode.after
    if mode.fault == "error" and faulty:
        return {"errors": [{"message": "Internal server error", "path": [name]}]}
    if name not in _OPERATIONS:
        return {"errors": [{"message": f"Unknown operation {name!r}"}]}
    invalid = validate(name, op.get("query"), variables)
    if invalid:
        code = {"code": "GRAPHQL_VALIDATION_FAILED"}
        return {"errors": [{"message": m, "extensions": code} for m in invalid]}
    try:
        data = _OPERATIONS[name](world, host, variables)
    except (TypeError, ValueError) as exc:
        return {"errors": [{"message": f"Variable error: {exc}"}]}
    return {"data": _played(name, data, variables, mode, faulty=faulty)}


def _played(
    name: str, data: Any, variables: dict[str, Any], mode: GraphqlMode, *, faulty: bool
) -> Any:
    """An answer as the fault ``mode`` plays it: a user of an odd typename, a
    drifted shape, or a listing that does not move."""
    if name == "UserProfileQuery" and variables.get("username") in mode.typenames:
        data = {"userResult": {"__typename": mode.typenames[variables["username"]]}}
    if mode.fault == "drift" and faulty:
        data = _drift(data, mode.drift)
    elif mode.fault in ("stuck", "empty_more") and faulty:
        _stall(data, mode.fault, variables)
    return data


def validate(operation: str, query: Any, variables: dict[str, Any]) -> list[str]:
    """What the endpoint says of an operation it will not run (nothing: it runs):
    the messages a GraphQL server gives for a variable used where its declared
    type does not fit, or a required one not given."""
    if not isinstance(query, str) or "{" not in query:
        return ["Must provide query string."]
    header, _, body = query.partition("{")
    declared = {v: (kind, default) for v, kind, default in _DECLARED.findall(header)}
    arguments = ARGUMENTS[operation]
    problems = []
    for argument, var in _USED.findall(body):
        problem = _misused(operation, argument, var, declared, arguments)
        if problem:
            problems.append(problem)
    for var, (have, _default) in declared.items():
        if have.endswith("!") and variables.get(var) is None:
            problems.append(f'Variable "${var}" of required type "{have}" was not provided.')
    return problems


def _misused(
    operation: str,
    argument: str,
    var: str,
    declared: dict[str, tuple[str, str]],
    arguments: dict[str, str],
) -> str | None:
    """What the server says of ``$var`` given as ``argument``, if anything."""
    if var not in declared:
        return f'Variable "${var}" is not defined by operation "{operation}".'
    want = arguments.get(argument)
    if want is None:
        return f'Unknown argument "{argument}" in operation "{operation}".'
    have, default = declared[var]
    # a non-null variable fits a nullable argument, not the other way round
    # (unless it has a default that is not null)
    nullable_into_required = (
        want.endswith("!") and not have.endswith("!") and (not default or default.strip() == "null")
    )
    if have.rstrip("!") != want.rstrip("!") or nullable_into_required:
        return f'Variable "${var}" of type "{have}" used in position expecting type "{want}".'
    return None


def _first(variables: dict[str, Any], name: str = "first", cap: int = MAX_FIRST) -> int:
    first = variables.get(name, 10)
    if not isinstance(first, int) or first < 1:
        raise ValueError(f"{name} must be a positive Int")
    return min(first, cap)


# A listing's order (harvest.sim.model): its cursors name a post's key in it.
Key = Callable[[Post], tuple[Any, ...]]


def _cursor(post: Post, order: Key) -> str:
    """Opaque to clients; the position after ``post`` in its listing."""
    return base64.urlsafe_b64encode(json.dumps(order(post)).encode()).decode()


def _after(posts: list[Post], cursor: Any, order: Key) -> list[Post]:
    """``posts`` (in ``order``, descending) after the cursor: by key, so posts
    published since the walk began neither shift nor repeat what is left."""
    if cursor is None or cursor == "":  # clients send "" for the first page
        return posts
    if not isinstance(cursor, str):
        raise ValueError("after must be a String")
    try:
        key = tuple(json.loads(base64.urlsafe_b64decode(cursor.encode()).decode()))
        return [p for p in posts if order(p) < key]
    except (ValueError, UnicodeDecodeError, TypeError):
        raise ValueError("invalid cursor") from None


def _user_id(username: str) -> str:
    return f"{zlib.crc32(username.encode()):012x}"


def _node(post: Post) -> dict[str, Any]:
    pub = post.publication
    return {
        "__typename": "Post",
        "id": post.post_id,
        "title": post.title,
        "mediumUrl": post.url,
        "firstPublishedAt": ms(post.published),
        # Medium answers 0 for a post not pinned
        "pinnedAt": 0,
        "pinnedByCreatorAt": ms(post.published) + 86_400_000 if post.pinned else 0,
        "creator": {
            "__typename": "User",
            "id": _user_id(post.author.username),
            "username": post.author.username,
            "name": post.author.name,
        },
        "collection": None
        if pub is None
        else {
            "__typename": "Collection",
            "id": f"c{pub.slug}",
            "slug": pub.slug,
            "name": pub.name,
            "domain": pub.domain,
        },
    }


def _page(
    posts: list[Post], variables: dict[str, Any], cap: int, order: Key, *, listed: bool = False
) -> dict[str, Any]:
    rest = _after(posts, variables.get("after"), order)
    first = _first(variables, cap=cap)
    page = rest[:first]
    more = len(rest) > first
    edges = []
    for p in page:
        edge: dict[str, Any] = {"cursor": _cursor(p, order), "node": _node(p)}
        if listed:
            edge = {"listedAt": ms(p.listed_at), **edge}
        edges.append(edge)
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": more,
            "endCursor": _cursor(page[-1], order) if page else None,
        },
    }


def _tag(world: World, host: str, v: dict[str, Any]) -> dict[str, Any]:
    slug = v.get("tagSlug")
    if not isinstance(slug, str):
        raise ValueError("tagSlug must be a String")
    if slug not in world.tags:
        return {"tagFromSlug": None}
    posts = _in_time_range(world.tagged(slug), v.get("timeRange") or {"kind": "ALL_TIME"})
    if v.get("sortOrder", "NEWEST") != "NEWEST":
        raise ValueError("the simulator sorts NEWEST only")
    return {
        "tagFromSlug": {
            "__typename": "Tag",
            "id": slug,
            "posts": _page(posts, v, PAGE_CAPS["TagArchiveFeedQuery"], tag_order),
        },
    }


def _in_time_range(posts: list[Post], time_range: Any) -> list[Post]:
    """A tag's posts within ``timeRange`` (all time, a month or a year)."""
    kind = time_range.get("kind") if isinstance(time_range, dict) else None
    if kind == "IN_MONTH":
        month = time_range.get("inMonth") or {}
        year, mon = month.get("year"), month.get("month")
        if not isinstance(year, int) or not isinstance(mon, int) or not 1 <= mon <= 12:
            raise ValueError("inMonth needs a year and a month")
        return [p for p in posts if (p.published.year, p.published.month) == (year, mon)]
    if kind == "IN_YEAR":
        year = time_range.get("inYear")
        if not isinstance(year, int):
            raise ValueError("inYear must be an Int")
        return [p for p in posts if p.published.year == year]
    if kind != "ALL_TIME":
        raise ValueError(f"unknown timeRange {kind!r}")
    return posts


def _user(world: World, host: str, v: dict[str, Any]) -> dict[str, Any]:
    name = v.get("username")
    author = next((a for a in world.authors if a.username == name), None)
    if author is None:
        return {"userResult": {"__typename": "UserNotFound"}}
    posts = world.profile_listing(author.username)
    cap = PAGE_CAPS["UserProfileQuery"]
    paging = {"first": _first(v, "homepagePostsLimit", cap), "after": v.get("homepagePostsFrom")}
    page = _page(posts, paging, cap, profile_order)
    cursor = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    return {
        "userResult": {
            "__typename": "User",
            "id": _user_id(author.username),
            "username": author.username,
            "homepagePostsConnection": {
                "posts": [edge["node"] for edge in page["edges"]],
                "pagingInfo": {"next": None if cursor is None else {"from": cursor, "limit": 25}},
            },
        }
    }


def _publication(world: World, host: str, v: dict[str, Any]) -> dict[str, Any]:
    ref = v.get("ref")
    if not isinstance(ref, dict):
        raise ValueError("ref must be a PublicationRef")
    if ref.get("domain") is not None:
        pub = next((p for p in world.publications if p.domain == ref["domain"]), None)
    else:
        pub = next((p for p in world.publications if p.slug == ref.get("slug")), None)
    if pub is None:
        return {"publication": None}
    return {
        "publication": {
            "__typename": "Collection",
            "id": f"c{pub.slug}",
            "slug": pub.slug,
            "domain": pub.domain,
            "publicationPostsConnection": _page(
                world.publication_listing(pub.slug),
                v,
                PAGE_CAPS["PublicationContentDataQuery"],
                publication_order,
                listed=True,
            ),
        }
    }


_OPERATIONS = {
    "TagArchiveFeedQuery": _tag,
    "UserProfileQuery": _user,
    "PublicationContentDataQuery": _publication,
}


def _drift(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """The same answer in a shape Medium might change to overnight."""
    text = json.dumps(data)
    value: Any = json.loads(text)
    for conn in _connections(value):
        if kind == "renamed_edges":
            conn["items"] = conn.pop("edges" if "edges" in conn else "posts")
        elif kind == "cursor_moved" and "pageInfo" in conn:
            info = conn.pop("pageInfo")
            conn["pagination"] = {"hasMore": info["hasNextPage"], "next": info["endCursor"]}
        elif kind == "cursor_moved":
            conn["paging"] = conn.pop("pagingInfo")
        elif kind == "post_url_gone":
            for node in _nodes(conn):
                node["url"] = node.pop("mediumUrl")
    return dict(value)


def _stall(data: dict[str, Any], kind: str, variables: dict[str, Any]) -> None:
    """Make the answer's listing one that does not move (in place)."""
    asked = variables.get("after") or variables.get("homepagePostsFrom")
    for conn in _connections(data):
        if kind == "empty_more":
            cursor = base64.urlsafe_b64encode(f"0:{asked or 'first'}".encode()).decode()
            if "edges" in conn:
                conn["edges"] = []
            else:
                conn["posts"] = []
        elif asked:
            cursor = asked
        else:
            continue  # the first page of a stuck walk is right
        if "pageInfo" in conn:
            conn["pageInfo"] = {"hasNextPage": True, "endCursor": cursor}
        else:
            conn["pagingInfo"] = {"next": {"from": cursor, "limit": 25}}


def _connections(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "edges" in value or "pagingInfo" in value or "pageInfo" in value:
            found.append(value)
        for child in value.values():
            found.extend(_connections(child))
    elif isinstance(value, list):
        for child in value:
            found.extend(_connections(child))
    return found


def _nodes(conn: dict[str, Any]) -> list[dict[str, Any]]:
    if "edges" in conn:
        return [e["node"] for e in conn["edges"]]
    return list(conn.get("posts", []))
