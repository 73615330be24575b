"""URL normalization, Medium redirect unwrapping and rel-token handling.

Everything here is pure and total: any string goes in, a value or ``None`` comes
out, never an exception. The crawl feeds this module whatever a page's authors
typed into an ``href``, so "never raises" is part of the contract (property-tested
in ``tests/test_links.py``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import ada_url
import idna
from publicsuffixlist import PublicSuffixList

__all__ = [
    "Href",
    "classify_href",
    "host_of",
    "is_medium_host",
    "is_same_site",
    "normalize_url",
    "parse_rel",
    "registered_domain",
    "rel_flags",
    "robots_tokens",
    "strip_medium_tracking",
    "unwrap_medium_redirect",
]

# The bundled list that ships inside the publicsuffixlist wheel: nothing is
# downloaded at run time, so results are reproducible for a given release.
_PSL = PublicSuffixList()

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
# WHATWG URL parsing drops ASCII tab and newlines anywhere in the input.
_STRIP_INNER = str.maketrans("", "", "\t\n\r")
_C0_AND_SPACE = "".join(chr(i) for i in range(0x21))
_PCT_RE = re.compile(r"%([0-9a-fA-F]{2})")
_BAD_PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Characters kept literally in a path or query component; everything else is
# percent-encoded as UTF-8. "%" is kept so that existing escapes survive, and a
# stray "%" is escaped separately (see _quote).
_PATH_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/%"
)
# A query keeps "?" and, as the WHATWG parser does in http(s) queries, escapes "'".
_QUERY_SAFE = (_PATH_SAFE - {"'"}) | frozenset("?")
# The common case (nothing to escape) checked in C: index False for paths, True for queries.
_ALL_SAFE_RE = (
    re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*"),
    re.compile(r"[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*"),
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SIMPLE_URL_RE = re.compile(
    r"([hH][tT][tT][pP][sS]?)://([A-Za-z0-9._\-]+)(?::([0-9]{1,5}))?(/[^?#]*)?(?:\?([^#]*))?(?:#.*)?",
    re.DOTALL,
)

# Query parameters that only identify a campaign or a click, never a resource.
_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wickedid",
        "rb_clickid",
        "ncid",
        "sr_share",
        "s_cid",
        "cmpid",
        "spm",
    }
)
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "mtm_", "ga_")
# Medium appends ?source=<surface>-----<post id>---... to links it renders,
# outbound ones included (seen on 2019 custom-domain pages).
_MEDIUM_SOURCE_RE = re.compile(r"^[A-Za-z0-9_]+(?:-{2,}|$)")
_REDIRECT_PATHS = {
    "/r": "url",
    "/r/": "url",
    "/m/global-identity": "redirectUrl",
    "/m/global-identity-2": "redirectUrl",
}
_NON_WEB = {"mailto", "tel", "javascript", "data", "sms", "callto", "about", "blob", "file"}


@dataclass(frozen=True, slots=True)
class Href:
    """The outcome of reading one raw ``href``.

    ``url`` is the normalized absolute http(s) URL, or ``None`` with ``reason``
    saying why the href is not a web link (``mailto``, ``tel``, ``javascript``,
    ``data``, ``fragment``, ``empty``, ``relative``, ``scheme``, ``invalid``).
    """

    url: str | None
    reason: str | None = None


def normalize_url(raw: object, base: str | None = None) -> str | None:
    """Return the normalized absolute http(s) URL for ``raw``, or ``None``.

    Lowercases scheme and host, converts IDNs to punycode, drops default ports,
    userinfo and the fragment, resolves against ``base``, removes tracking
    parameters and sorts the remaining ones. Idempotent and total.
    """
    return classify_href(raw, base).url


def classify_href(raw: object, base: str | None = None) -> Href:
    """Normalize ``raw`` like :func:`normalize_url` and say why when it fails."""
    if not isinstance(raw, str):
        return Href(None, "invalid")
    try:
        return _classify(raw, base)
    except (ValueError, UnicodeError, TypeError, OverflowError):
        # The parsers signal malformed input with these; any of them means
        # "not a usable URL", which is an answer, not an error.
        return Href(None, "invalid")


def _classify(raw: str, base: str | None) -> Href:
    s = raw.strip(_C0_AND_SPACE).translate(_STRIP_INNER)
    if not s:
        return Href(None, "empty")
    if s.startswith("#"):
        return Href(None, "fragment")
    m = _SCHEME_RE.match(s)
    if m:
        scheme = m.group(1).lower()
        if scheme not in ("http", "https"):
            return Href(None, scheme if scheme in _NON_WEB else "scheme")
    base_url = _base(base) if base is not None else None
    if m is None and base_url is None:
        if base is not None or not s.startswith(_SCHEME_RELATIVE):
            return Href(None, "relative")
        # A scheme-relative href read without its page: as a browser on an http page.
        s = "http:" + s
    url = _fast(s) if m is not None else _fast_relative(s, base_url)
    if url is None:
        url = _whatwg(s, base_url)
    return Href(url, None if url else "invalid")


def _fast_relative(s: str, base: str | None) -> str | None:
    """A path-absolute (/path) or scheme-relative (//host) href on a page: most
    of a page's relative hrefs, joined without the parser; None: ask it."""
    if base is None or s[0] != "/" or "\\" in s:
        return None
    scheme, _, rest = base.partition("://")
    if s[1:2] == "/":
        return _fast(f"{scheme}:{s}")
    return _fast(f"{scheme}://{rest.split('/', 1)[0]}{s}")


# "//host", and the backslashed forms browsers read the same way.
_SCHEME_RELATIVE = ("//", "\\\\", "/\\", "\\/")


@lru_cache(maxsize=1024)
def _base(base: str) -> str | None:
    # A page resolves dozens of hrefs against the same base: normalize it once.
    return normalize_url(base)


def _fast(s: str) -> str | None:
    """The common case, an absolute http(s) URL that the WHATWG parser would
    only lowercase and percent-encode, done without it; None: ask the parser."""
    fast = _SIMPLE_URL_RE.fullmatch(s)
    if fast is None or "\\" in s:
        return None
    host = fast.group(2).lower()
    last = host.rstrip(".").rpartition(".")[2]
    # Numeric last labels are IPv4 in the WHATWG host parser (0x7f.1, 1.2.3);
    # empty labels, punycode and dot segments in the path are the parser's to read.
    if not last or last.isdigit() or last.startswith("0x") or ".." in host or host[0] == ".":
        return None
    if "xn--" in host:
        return None
    raw_path = fast.group(4) or ""
    if "/." in raw_path or "%2e" in raw_path.lower():
        return None
    port_text = fast.group(3)
    port = int(port_text) if port_text else None
    if port is not None and port > 65535:
        return None
    scheme = fast.group(1).lower()
    return _assemble(scheme, host.rstrip("."), port, raw_path, fast.group(5) or "")


def _whatwg(s: str, base: str | None) -> str | None:
    """``s`` parsed (against ``base``) as browsers do, by the WHATWG URL standard
    (ada, the parser Node.js uses), then put in harvest's form."""
    try:
        url = ada_url.URL(s, base) if base else ada_url.URL(s)
    except ValueError:
        return None
    scheme = url.protocol[:-1]
    if scheme not in ("http", "https"):
        return None
    host = url.hostname
    if url.host_type == ada_url.HostType.DEFAULT:
        host = host.rstrip(".")
        # Names DNS cannot carry: an empty label, or too long.
        if not host or ".." in host or host[0] == "." or len(host) > 253:
            return None
        if "xn--" in host and not all(map(_punycode_ok, host.split("."))):
            return None
    port = int(url.port) if url.port else None
    return _assemble(scheme, host, port, url.pathname, url.search[1:])


def _punycode_ok(label: str) -> bool:
    """A label that is not punycode, or punycode of a label already in UTS #46
    mapped form: the standard refuses the rest, and ada 4 lets some through."""
    if not label.startswith("xn--"):
        return True
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
        return bool(decoded) and idna.uts46_remap(decoded, std3_rules=False) == decoded
    except UnicodeError:
        return False


def _assemble(scheme: str, host: str, port: int | None, raw_path: str, raw_query: str) -> str:
    """harvest's form of a parsed URL: no userinfo, default port or fragment, one
    percent-encoding, tracking parameters out and the rest sorted."""
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _quote(raw_path, _PATH_SAFE) or "/"
    query = _clean_query(raw_query, host)
    return f"{scheme}://{netloc}{path}?{query}" if query else f"{scheme}://{netloc}{path}"


def _quote(component: str, safe: frozenset[str]) -> str:
    if not component:
        return component
    # A "%" that does not start an escape is data; escaping it keeps the
    # function idempotent (the second pass sees a proper %25 escape).
    component = _BAD_PCT_RE.sub("%25", component)
    if _ALL_SAFE_RE[safe is _QUERY_SAFE].fullmatch(component):
        out = component
    else:
        out = "".join(
            c if c in safe else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
            for c in component
        )
    return _PCT_RE.sub(lambda mm: "%" + mm.group(1).upper(), out)


def _clean_query(query: str, host: str) -> str:
    if not query:
        return ""
    medium = is_medium_host(host)
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        name = unquote(key).lower()
        if name in _TRACKING_EXACT or name.startswith(_TRACKING_PREFIXES):
            continue
        if name == "source" and (medium or _MEDIUM_SOURCE_RE.match(unquote(value))):
            continue
        kept.append(_quote(piece, _QUERY_SAFE))
    kept.sort()
    return "&".join(kept)


# scheme://host[:port] followed by the path, query, fragment or nothing, with
# the host already lowercase: what normalize_url gives for all but IP literals.
_PLAIN_HOST_RE = re.compile(r"[a-z][a-z0-9+.-]*://([a-z0-9._-]+)(?::[0-9]*)?(?:[/?#]|$)")


def host_of(url: str | None) -> str | None:
    """Host of an already normalized URL (without port), or ``None``."""
    if not url:
        return None
    # Called for every link a page holds; urlsplit is the slow general case.
    plain = _PLAIN_HOST_RE.match(url)
    if plain is not None:
        return plain.group(1)
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if host and ":" in host:
        return "[" + host + "]"
    return host


def is_medium_host(host: str | None) -> bool:
    """medium.com and every *.medium.com subdomain (users, publications, CDN)."""
    return bool(host) and (host == "medium.com" or host.endswith(".medium.com"))  # type: ignore[union-attr]


def is_same_site(host: str | None, domain: str | None) -> bool:
    """True when ``host`` is ``domain`` or one of its subdomains."""
    if not host or not domain:
        return False
    domain = domain.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


# Names that are never a publication's public site: they reach the crawler's
# own machine or network.
_PRIVATE_NAMES = ("localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa")


def is_public_hostname(host: str | None) -> bool:
    """A name a publication could have its site on: not an address, not a
    one-label or local name, and below a public suffix."""
    if not host or "." not in host.strip("."):
        return False
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(_PRIVATE_NAMES):
        return False
    try:
        ipaddress.ip_address(name.strip("[]"))
        return False
    except ValueError:
        pass
    return _PSL.privatesuffix(name) is not None


@lru_cache(maxsize=65536)
def registered_domain(host: str | None) -> str | None:
    """The registrable domain of ``host`` by the bundled Public Suffix List.

    Private suffixes count (``github.io`` users are separate sites), IP literals
    and hosts that are themselves a public suffix are returned as they are.
    """
    if not host:
        return None
    bare = host.strip("[]")
    # An IP address ends in a digit (v4) or holds a colon (v6); a name whose
    # last label were all digits is no registrable domain either way.
    if ":" in bare or bare[-1:].isdigit():
        try:
            ipaddress.ip_address(bare)
            return host
        except ValueError:
            pass
    return _PSL.privatesuffix(host) or host


def unwrap_medium_redirect(url: str, internal_hosts: frozenset[str] = frozenset()) -> str:
    """Follow Medium's own redirect wrappers to the URL they point at.

    ``/r/?url=`` wraps external links; ``/m/global-identity[-2]?redirectUrl=``
    sends readers to publications on their own domains. Only wrappers served by
    Medium (or by the page's own host, given in ``internal_hosts``) are opened.
    ``url`` must already be normalized; a wrapper that does not decode to a web
    URL is returned unchanged.
    """
    for _ in range(4):  # wrappers nest at most a couple of times in practice
        # Every wrapper path contains one of these; most links contain neither,
        # and skipping their split is a tenth of an article's parse.
        if "/r" not in url and "/m/global-identity" not in url:
            return url
        try:
            parts = urlsplit(url)
        except ValueError:
            return url
        host = parts.hostname or ""
        if not (is_medium_host(host) or host in internal_hosts):
            return url
        param = _REDIRECT_PATHS.get(parts.path)
        if param is None:
            return url
        target = None
        for piece in parts.query.split("&"):
            key, _, value = piece.partition("=")
            if unquote(key) == param:
                target = normalize_url(unquote(value.replace("+", " ")))
                break
        if target is None or target == url:
            return url
        url = target
    return url


def strip_medium_tracking(url: str) -> str:
    """A Medium post URL without query or fragment: the form posts are compared in."""
    return url.split("#", 1)[0].split("?", 1)[0]


def parse_rel(rel: object) -> tuple[str, ...]:
    """rel tokens lowercased, split on whitespace and commas, de-duplicated, in order."""
    if not isinstance(rel, str) or not rel:
        return ()
    seen: dict[str, None] = {}
    for token in rel.replace(",", " ").lower().split():
        seen.setdefault(token, None)
    return tuple(seen)


# Crawlers whose named directives count (unnamed ones apply to every crawler).
_ROBOTS_AGENTS = frozenset({"googlebot"})
# Directives that carry a value after a colon, so "name:" is not a crawler's name.
_VALUED_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)


def robots_tokens(value: object) -> list[str]:
    """Directives of a robots meta content or an X-Robots-Tag header, lowercased.

    ``"googlebot: noindex, nofollow"`` names a crawler for the directives that
    follow it, up to the next name: Google's are kept, other crawlers' dropped.
    """
    if not isinstance(value, str):
        return []
    out: dict[str, None] = {}
    agent: str | None = None
    for part in value.lower().split(","):
        token = part.strip()
        name, sep, rest = token.partition(":")
        if sep and name.strip() not in _VALUED_DIRECTIVES:
            agent, token = name.strip(), rest.strip()
        if agent is not None and agent not in _ROBOTS_AGENTS:
            continue
        if token:
            out.setdefault(token, None)
    return list(out)


class RelFlags(NamedTuple):
    """What a link's rel tokens tell search engines (Google's three hints)."""

    nofollow: bool
    ugc: bool
    sponsored: bool


def rel_flags(rel: Iterable[str]) -> RelFlags:
    """The flags of parsed rel tokens (see parse_rel): the one rule for them."""
    tokens = set(rel)
    return RelFlags("nofollow" in tokens, "ugc" in tokens, "sponsored" in tokens)
