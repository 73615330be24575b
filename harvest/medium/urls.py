"""Medium's addresses, and pointing them at a mirror or the local simulator.

Records always carry Medium's own URLs (``https://medium.com/...``); only the
address a request is sent to changes when ``MEDIUM_BASE_URL`` names a mirror:
``https://medium.com/tag/seo`` is fetched from ``<base>/tag/seo`` and
``https://forge.medium.com/post-id`` from ``<base>/_host/forge.medium.com/post-id``.
"""

from __future__ import annotations

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
            base = urlsplit(self.base)
            want = (
                base.scheme,
                (base.hostname or "").lower(),
                base.port or _DEFAULT_PORTS[base.scheme],
            )
            if (scheme, host, port) == want:
                return None
            return f"{host}:{port} is not the mirror {want[1]}:{want[2]}"
        if port != _DEFAULT_PORTS[scheme]:
            return f"port {port} of {host}"
        if is_medium_host(host) or host in publication_domains:
            return None
        return f"{host} is neither Medium nor a publication's domain"
