"""scrapyd's web root as harvest starts it: no web page can command it or read it.

scrapyd 1.6 answers every API call with ``Access-Control-Allow-Origin: *`` and
takes a multipart POST (a CORS "simple" request, sent without a preflight)
from any origin. A page the operator opens, or a page the crawler's browser
renders, could then upload an egg, which scrapyd runs. Basic auth alone does
not stop it: a browser that once logged in to scrapyd's console sends the
cached credentials with a cross-origin form post.

This root is scrapyd's own (named by the ``webroot`` option, which
``harvest scrapyd`` sets), with three rules before any resource renders:

- a request a browser marks as coming from another origin (``Origin`` that is
  not scrapyd's own, ``Origin: null``, ``Sec-Fetch-Site`` other than
  ``same-origin`` or ``none``) is refused with 403;
- a ``Host`` that is not scrapyd's (a loopback address, ``localhost``, its
  bind address, or a name in the ``allowed_hosts`` option) is refused, so a
  name rebound to 127.0.0.1 gains nothing;
- ``Access-Control-*`` headers never leave: no other origin may read an answer.

Clients that are not browsers (``harvest schedule``, ``scrapyd-deploy``, curl)
send no ``Origin`` and are unaffected.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from scrapyd.website import Root as ScrapydRoot  # type: ignore[import-untyped]
from twisted.web import resource
from twisted.web.http_headers import Headers

_CORS = b"access-control-"
_LOCAL_NAMES = frozenset({"localhost", "localhost."})


class _NoCorsHeaders(Headers):
    """Response headers that drop whatever grants another origin access."""

    def setRawHeaders(self, name: Any, values: Any) -> None:
        if _is_cors(name):
            return
        super().setRawHeaders(name, values)

    def addRawHeader(self, name: Any, value: Any) -> None:
        if _is_cors(name):
            return
        super().addRawHeader(name, value)


def _is_cors(name: Any) -> bool:
    raw = name.encode("latin-1") if isinstance(name, str) else bytes(name)
    return raw.lower().startswith(_CORS)


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header value (``[::1]:6800`` -> ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _loopback(host: str) -> bool:
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(
    headers: dict[str, str], allowed_hosts: frozenset[str], scheme: str = "http"
) -> str | None:
    """Why a request with these (lower-cased) headers may not reach scrapyd, or None."""
    host_header = headers.get("host", "")
    host = host_name(host_header)
    if not host or not (_loopback(host) or host in allowed_hosts):
        return f"host {host_header[:100]!r} is not this scrapyd's"
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"a {site} request from a web page"
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/") not in (
        f"{scheme}://{host_header}",
        f"http://{host_header}",
        f"https://{host_header}",
    ):
        return f"a request from the web origin {origin[:100]!r}"
    return None


class _Refused(resource.Resource):
    isLeaf = True

    def __init__(self, why: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.why = why

    def render(self, request: Any) -> bytes:
        request.setResponseCode(403)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return f"refused: {self.why}\n".encode()


class Root(ScrapydRoot):  # type: ignore[misc]
    """scrapyd's root resource, with the rules above in front of every child."""

    def __init__(self, config: Any, app: Any) -> None:
        super().__init__(config, app)
        names = {
            config.get("bind_address", "127.0.0.1").strip().lower(),
            *(h.strip().lower() for h in config.get("allowed_hosts", "").split(",")),
        }
        # A wildcard bind address names no host a client would ask for.
        wildcard = {"0.0.0.0", "::"}  # noqa: S104 (names compared, nothing bound)
        self.allowed_hosts = frozenset(n for n in names if n and n not in wildcard)

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        request.responseHeaders = _NoCorsHeaders(dict(request.responseHeaders.getAllRawHeaders()))
        headers = {
            k.decode("latin-1").lower(): v[-1].decode("latin-1")
            for k, v in request.requestHeaders.getAllRawHeaders()
        }
        why = refusal(headers, self.allowed_hosts, "https" if request.isSecure() else "http")
        if why is not None:
            return _Refused(why)
        return super().getChildWithDefault(path, request)
