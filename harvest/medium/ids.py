"""Post ids and author names read out of Medium URLs."""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

from harvest.links import is_medium_host

# Post ids are 10 to 12 lowercase hex digits closing the slug ("...-c2a9b309cf7")
# or standing alone in /p/<id>.
_ID_TAIL_RE = re.compile(r"(?:^|-)([0-9a-f]{10,12})$")
_USER_PATH_RE = re.compile(r"^/@([^/?#]+)")
# Path segments under which a hex tail names a reading list or catalog, not a post
# (medium.com/@user/list/reading-list-3f1e0c2a9b7d).
_NOT_POST_SEGMENTS = frozenset({"list", "lists", "catalog", "catalogs"})
# Subdomains of medium.com that are Medium's own services, not user or
# publication sites.
_SERVICE_SUBDOMAINS = frozenset(
    {
        "www",
        "cdn-images-1",
        "cdn-images-2",
        "miro",
        "cdn-client",
        "cdn-static-1",
        "help",
        "policy",
        "blog",
        "about",
        "status",
        "link",
        "glyph",
        "me",
        "api",
        "jobs",
        "events",
    }
)


def post_id_from_path(path: str) -> str | None:
    """The post id a URL path ends with, or ``None``.

    An id has at least one digit: that keeps words such as "accessibility"'s
    hex-looking tail ("decade", "facade") from passing, at the cost of about one
    id in 50,000 that is all letters.
    """
    segs = [s for s in path.split("/") if s]
    if not segs:
        return None
    last = segs[-1]
    if len(segs) >= 2 and segs[-2] == "p" and re.fullmatch(r"[0-9a-f]{10,12}", last):
        return last
    if last.startswith("@") or segs[0] in ("tag", "topic", "m", "search", "me", "media", "_"):
        return None
    if any(seg in _NOT_POST_SEGMENTS for seg in segs[:-1]):
        return None
    m = _ID_TAIL_RE.search(last)
    if m and any(ch.isdigit() for ch in m.group(1)):
        return m.group(1)
    return None


def post_id_from_url(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return post_id_from_path(urlsplit(url).path)
    except ValueError:
        return None


def is_not_post_url(url: str | None) -> bool:
    """A Medium reading list or catalog URL (``/@user/list/<slug>-<hex>``, ``/@user/lists``)."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not is_medium_host((parts.hostname or "").rstrip(".")):
        return False
    return any(seg in _NOT_POST_SEGMENTS for seg in parts.path.split("/"))


def post_id_on_hosts(url: str | None, known_hosts: Collection[str]) -> str | None:
    """The post id of ``url`` when it is a post URL on Medium or a known Medium host.

    A 12-hex tail on any other site (a UUID, a commit hash) is not a post id.
    """
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return None
    if not (is_medium_host(host) or host in known_hosts):
        return None
    return post_id_from_url(url)


def author_from_url(url: str | None) -> str | None:
    """Username from ``medium.com/@user/...``, ``/@user`` or ``user.medium.com``."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    m = _USER_PATH_RE.match(parts.path)
    if m:
        return m.group(1)
    host = parts.hostname or ""
    if is_medium_host(host) and host.count(".") == 2:
        sub = host.split(".", 1)[0]
        if sub not in _SERVICE_SUBDOMAINS:
            return sub
    return None
