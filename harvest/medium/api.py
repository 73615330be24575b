"""Medium's JSON: the legacy ``?format=json`` / ``/_/api`` streams, GraphQL
responses and Apollo state dumps: the posts they name.

Post objects are recognised by shape, not by path, because the three families
nest them differently: a dict with a 10-12 hex ``id`` and a ``uniqueSlug``,
``mediumUrl`` or ``__typename: Post``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from harvest.links import normalize_url
from harvest.medium.dom import XSSI_PREFIX, first_json_value, iso_from_ms, iter_dicts
from harvest.medium.listing import post_ref_from_url
from harvest.medium.records import PageResult, PostRef

_ID_RE = re.compile(r"^[0-9a-f]{10,12}$")
# Truncated Apollo dumps cannot be decoded as a whole; these find post URLs
# and ids in what is there.
_MEDIUM_URL_RE = re.compile(r'"mediumUrl"\s*:\s*"([^"]+)"')


def looks_like_json(text: str) -> bool:
    head = text[:200].lstrip("\ufeff \t\r\n")
    return head.startswith(("{", "[", XSSI_PREFIX, "window.__APOLLO_STATE__"))


def load_json(text: str) -> Any:
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith(XSSI_PREFIX):
        body = body[len(XSSI_PREFIX) :]
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        pass
    try:
        return first_json_value(body, 0)
    except (ValueError, RecursionError):
        return None


def parse_api_text(text: str, url: str | None) -> PageResult:
    result = PageResult(kind="api", url=normalize_url(url) if url else None)
    value = load_json(text)
    if value is None:
        _scan_truncated(text, result)
        if not result.posts:
            result.problems.append("JSON could not be decoded and names no post URL")
        return result
    users, collections, posts = _objects(value)
    seen: set[str] = set()
    for obj in posts:
        ref = _ref(obj, users, collections)
        if ref is None or ref.post_id in seen:
            continue
        seen.add(ref.post_id)
        result.posts.append(ref)
    if not result.posts:
        result.problems.append("JSON names no posts")
    return result


def _objects(
    value: Any,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The answer's users and collections by id, and its posts in order."""
    users: dict[str, dict[str, Any]] = {}
    collections: dict[str, dict[str, Any]] = {}
    posts: list[dict[str, Any]] = []
    for obj in iter_dicts(value):
        ident = obj.get("id")
        if "username" in obj and isinstance(obj.get("userId"), str):
            users.setdefault(obj["userId"], obj)
        if not isinstance(ident, str):
            continue
        if "username" in obj:
            users.setdefault(ident, obj)
        elif "slug" in obj and ("domain" in obj or obj.get("type") == "Collection"):
            collections.setdefault(ident, obj)
        if _ID_RE.match(ident) and (
            "uniqueSlug" in obj or "mediumUrl" in obj or obj.get("__typename") == "Post"
        ):
            posts.append(obj)
    return users, collections, posts


def _ref(
    obj: dict[str, Any], users: dict[str, dict[str, Any]], collections: dict[str, dict[str, Any]]
) -> PostRef | None:
    pid = obj["id"]
    ref = post_ref_from_url(obj.get("mediumUrl") or None)
    if ref is None:
        # /p/<id> is the one URL form every post answers to.
        ref = PostRef(post_id=pid, url=f"https://medium.com/p/{pid}")
    ref.post_id = pid
    title = obj.get("title")
    ref.title = title if isinstance(title, str) and title else None
    _owner(ref, obj, users, collections)
    first = obj.get("firstPublishedAt")
    if isinstance(first, str) and first.isdigit():
        first = int(first)
    ref.published_at = iso_from_ms(first)
    return ref


def _owner(
    ref: PostRef,
    obj: dict[str, Any],
    users: dict[str, dict[str, Any]],
    collections: dict[str, dict[str, Any]],
) -> None:
    """The post's author and publication: inline, or by id elsewhere in the answer."""
    creator = obj.get("creator")
    user = (
        creator
        if isinstance(creator, dict) and "username" in creator
        else users.get(str(obj.get("creatorId") or ""))
    )
    if user:
        ref.author = ref.author or user.get("username")
        ref.author_name = user.get("name")
    coll = obj.get("collection")
    coll = (
        coll
        if isinstance(coll, dict) and "slug" in coll
        else collections.get(str(obj.get("homeCollectionId") or ""))
    )
    if coll:
        ref.publication = ref.publication or coll.get("slug")
        if coll.get("domain") and not ref.site:
            ref.site = coll.get("domain")


def _scan_truncated(text: str, result: PageResult) -> None:
    seen: set[str] = set()
    for m in _MEDIUM_URL_RE.finditer(text):
        try:
            raw = json.loads(f'"{m.group(1)}"')
        except ValueError:
            continue
        ref = post_ref_from_url(raw)
        if ref is not None and ref.post_id not in seen:
            seen.add(ref.post_id)
            result.posts.append(ref)
