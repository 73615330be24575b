"""Who may talk to the explorer, and what its answers allow a browser to do.

A page on another site can make the analyst's browser send requests to
127.0.0.1, and DNS rebinding can make its own name point there; so the
explorer answers only requests that name it by a Host of its own, sends no
CORS permission (another origin cannot read an answer), is read-only (GET and
HEAD only, no state to change), and beyond loopback asks for a token.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "harvest_explorer"
# Nothing loads from elsewhere and nothing runs: the pages are plain HTML and one
# stylesheet of the explorer's own; they may not be framed or send a referrer.
HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)


class UnsafeBind(ValueError):
    """An address beyond loopback without a token."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Guard:
    """The Hosts the explorer answers to, and the token asked beyond loopback."""

    hosts: tuple[str, ...]
    # asked of every request when set (it must be, beyond loopback)
    token: str | None = None

    @classmethod
    def for_bind(cls, bind: str, token: str | None, extra_hosts: tuple[str, ...] = ()) -> Guard:
        """The guard for listening on ``bind``: loopback needs no token, any other
        address does (and then every request must carry it)."""
        if not is_loopback(bind) and not token:
            raise UnsafeBind(
                f"{bind} is reachable from other machines: give --token (or "
                "HARVEST_EXPLORER_TOKEN) so only those who have it can read the harvest"
            )
        names = {"127.0.0.1", "localhost", "::1", "[::1]"} if is_loopback(bind) else set()
        # the wildcard addresses name no host of their own
        if not is_loopback(bind) and bind not in ("0.0.0.0", "::"):  # noqa: S104
            names.add(bind)
        names.update(extra_hosts)
        if not names:
            raise UnsafeBind(
                f"listening on {bind} answers every name: give --allow-host with the "
                "name or address people reach it by"
            )
        return cls(tuple(sorted(names)), token)

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def middleware(app: ASGIApp, guard: Guard) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            if scope["method"] not in ("GET", "HEAD"):
                await _reply(send, 405, b"the explorer only reads\n", [(b"allow", b"GET, HEAD")])
                return
            if guard.token:
                given = _given_token(scope)
                if given is None or not hmac.compare_digest(given, guard.token):
                    await _reply(send, 401, b"this explorer asks for its token\n")
                    return
                if _query_token(scope) is not None:
                    # the token moves to a cookie, out of the address bar and history
                    await _reply(send, 303, b"", [(b"location", _without_token(scope))],
                                 cookie=guard.token)  # fmt: skip
                    return

            started = time.perf_counter()

            async def with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    # the page's time in the server, for the browser's tools and benchmarks
                    took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                    timing = (b"server-timing", took.encode("ascii"))
                    message["headers"] = [*message.get("headers", []), *HEADERS, timing]
                await send(message)

            await app(scope, receive, with_headers)

        return guarded


def _query_token(scope: Scope) -> str | None:
    query: bytes = scope.get("query_string", b"")
    for name, value in parse_qsl(query.decode("latin-1")):
        if name == "token":
            return value
    return None


def _given_token(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization" and value.lower().startswith(b"bearer "):
            return value[7:].decode("latin-1").strip()
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, token = part.strip().partition("=")
                if key == COOKIE:
                    return token
    return _query_token(scope)


def _without_token(scope: Scope) -> bytes:
    query: bytes = scope.get("query_string", b"")
    rest = urlencode([(k, v) for k, v in parse_qsl(query.decode("latin-1")) if k != "token"])
    path: str = scope["path"]
    return (quote(path) + (f"?{rest}" if rest else "")).encode("latin-1")


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    cookie: str | None = None,
) -> None:
    out = [(b"content-type", b"text/plain; charset=utf-8"), *(headers or []), *HEADERS]
    if cookie is not None:
        out.append(
            (
                b"set-cookie",
                f"{COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/".encode("latin-1"),
            )
        )
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})
