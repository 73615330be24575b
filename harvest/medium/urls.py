"""Medium's addresses: building them, pointing them at a mirror or the local
simulator, and reading post ids and author names out of them.

Records always carry Medium's own URLs (``https://medium.com/...``); only the
address a request is sent to changes when ``MEDIUM_BASE_URL`` names a mirror:
``https://medium.com/tag/seo`` is fetched from ``<base>/tag/seo`` and
``https://forge.medium.com/post-id`` from ``<base>/_host/forge.medium.com/post-id``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from harvest.links import host_of, is_medium_host

MEDIUM = "https://medium.com"
HOST_PREFIX = "/_host/"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class BaseUrlError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class MediumUrls:
    """Builds Medium URLs and maps them to the address they are fetched from."""

    base: str = MEDIUM

    @classmethod
    def from_base(cls, base: str | None) -> MediumUrls:
        if not base:
            return cls()
        parts = urlsplit(base.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BaseUrlError(f"MEDIUM_BASE_URL must be an http(s) URL, not {base!r}")
        if parts.query or parts.fragment:
            raise BaseUrlError("MEDIUM_BASE_URL takes no query or fragment")
        return cls(urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")))

    @property
    def is_mirror(self) -> bool:
        return self.base != MEDIUM

    @property
    def mirror_host(self) -> str | None:
        return host_of(self.base) if self.is_mirror else None

    # -- Medium's own addresses ---------------------------------------------------

    def tag(self, tag: str) -> str:
        return f"{MEDIUM}/tag/{quote(tag)}"

    def tag_feed(self, tag: str) -> str:
        return f"{MEDIUM}/feed/tag/{quote(tag)}"

    def profile(self, user: str) -> str:
        return f"{MEDIUM}/@{quote(user)}"

    def user_feed(self, user: str) -> str:
        return f"{MEDIUM}/feed/@{quote(user)}"

    def publication(self, slug: str) -> str:
        return f"{MEDIUM}/{quote(slug)}"

    def publication_feed(self, slug: str) -> str:
        return f"{MEDIUM}/feed/{quote(slug)}"

    def sitemap_index(self) -> str:
        return f"{MEDIUM}/sitemap/sitemap.xml"

    # -- where to fetch -----------------------------------------------------------

    def fetch_url(self, url: str) -> str:
        """The address to request for a Medium (or publication) URL."""
        if not self.is_mirror:
            return url
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host == "medium.com":
            path = parts.path
        elif host == self.mirror_host:
            return url
        else:
            path = HOST_PREFIX + host + (parts.path or "/")
        base = urlsplit(self.base)
        return urlunsplit((base.scheme, base.netloc, base.path + path, parts.query, ""))

    def medium_url(self, fetched: str) -> str:
        """The Medium URL behind an address :meth:`fetch_url` produced."""
        if not self.is_mirror or not fetched.startswith(self.base):
            return fetched
        rest = fetched[len(self.base) :] or "/"
        if rest.startswith(HOST_PREFIX):
            host, _, path = rest[len(HOST_PREFIX) :].partition("/")
            return f"https://{host}/{path}"
        return MEDIUM + rest

    def refusal(self, url: str, publication_domains: Collection[str] = ()) -> str | None:
        """Why the crawl must not request ``url``, or None when it may.

        The one offsite rule, for every request, redirect and robots.txt fetch,
        and for every request the browser makes: without a mirror, Medium,
        ``*.medium.com`` and the publications' own domains Medium named, each on
        its scheme's default port; with a mirror, the mirror's scheme, host and
        port exactly, and nothing else (every Medium address maps onto it).
        Outbound link targets are recorded, never fetched.
        """
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "an unreadable URL"
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return f"a {scheme or 'scheme-less'} URL"
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return "a URL without a host"
        port = port or _DEFAULT_PORTS[scheme]
        if self.is_mirror:
            return self._off_mirror(scheme, host, port)
        if port != _DEFAULT_PORTS[scheme]:
            return f"port {port} of {host}"
        if is_medium_host(host) or host in publication_domains:
            return None
        return f"{host} is neither Medium nor a publication's domain"

    def _off_mirror(self, scheme: str, host: str, port: int) -> str | None:
        """With a mirror, its scheme, host and port exactly, and nothing else."""
        base = urlsplit(self.base)
        want = (
            base.scheme,
            (base.hostname or "").lower(),
            base.port or _DEFAULT_PORTS[base.scheme],
        )
        if (scheme, host, port) == want:
            return None
        return f"{host}:{port} is not the mirror {want[1]}:{want[2]}"


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
