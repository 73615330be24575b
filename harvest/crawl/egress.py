"""The browser's only way out: a forward proxy that asks the offsite rule at every hop.

Playwright's request interception sees what a page asks for, but not a
redirect's next hop, nor what dedicated and shared workers fetch. Chromium
itself, though, sends every HTTP request and every TLS tunnel of every frame,
worker and redirect hop through its proxy, loopback included once
``<-loopback>`` is in the bypass list. So the crawl's Chromium is started
behind this proxy (:func:`chromium_switches`), and the proxy is where the
rule holds:

- a plain ``http`` request is forwarded only if the offsite rule allows its
  absolute URL; the upstream answer's ``Location`` is checked too, and a
  redirect to anywhere else is answered ``403`` (its next hop would be
  refused anyway; this way the cause is counted as a redirect);
- a ``CONNECT`` tunnel is opened only to a host and port the rule allows for
  ``https``; every new host a redirect or script names needs a tunnel of its
  own, so each hop inside TLS is decided the same way;
- anything else (another method form, a head too large or too slow, a
  malformed line) is refused.

Each refusal is counted by cause (``harvest/browser/refused/<cause>``). The
proxy listens on an ephemeral loopback port; what it forwards to is only what
the rule allows, so another local process gains nothing by using it.
WebRTC's UDP, QUIC and the browser's own DNS never reach the proxy, so the
same switches turn them off: non-proxied UDP is disabled for WebRTC (its TCP
relays must tunnel through here, and are refused), QUIC is off, and with a
fixed proxy Chromium resolves no hostnames itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

log = logging.getLogger(__name__)

# A request or response head larger than this is refused: no page needs more,
# and the proxy must not buffer without bound.
HEAD_LIMIT = 64 * 1024
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
_REFUSED = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
    b"Connection: close\r\n\r\n%s"
)


class EgressProxy:
    """One crawl's proxy: ``await start()`` gives its port, ``await close()`` ends it.

    ``refusal(url)`` is the crawl's offsite rule (None: allowed); ``count(cause)``
    records a refusal. ``head_timeout`` bounds how long a client may take to
    send its request head, ``idle_timeout`` how long a connection may carry no
    bytes either way.
    """

    def __init__(
        self,
        refusal: Callable[[str], str | None],
        count: Callable[[str], None],
        *,
        connect_timeout: float = 15.0,
        head_timeout: float = 30.0,
        idle_timeout: float = 120.0,
    ) -> None:
        self.refusal = refusal
        self.count = count
        self.connect_timeout = connect_timeout
        self.head_timeout = head_timeout
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the egress proxy is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> int:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, host="127.0.0.1", port=0, limit=HEAD_LIMIT
            )
        return self.port

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=5)

    # -- one client connection: one request --------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._one_request(reader, writer)
        except (asyncio.CancelledError, ConnectionError, TimeoutError, asyncio.LimitOverrunError):
            pass
        except Exception:  # a bug here must not end the crawl: the request is lost
            log.exception("the browser's egress proxy failed on a request")
        finally:
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=self.head_timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            self.count("malformed")
            return
        line, _, rest = head.partition(b"\r\n")
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            await self._refuse(writer, "malformed", "a malformed request line")
            return
        method, target = parts[0].decode("latin-1"), parts[1].decode("latin-1")
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
        else:
            await self._forward(method, target, rest, reader, writer)

    async def _refuse(self, writer: asyncio.StreamWriter, cause: str, why: str) -> None:
        self.count(cause)
        log.debug("egress proxy refused a browser request (%s): %s", cause, why[:300])
        body = f"harvest refused this request: {why}\n".encode("utf-8", "replace")
        writer.write(_REFUSED % (len(body), body))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.drain(), timeout=5)

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=HEAD_LIMIT), timeout=self.connect_timeout
        )

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, sep, port_text = target.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            await self._refuse(writer, "malformed", f"a CONNECT to {target!r}")
            return
        why = self.refusal(f"https://{_bracketed(host)}:{port_text}/")
        if why is not None:
            await self._refuse(writer, "tunnel", f"a tunnel to {target}: {why}")
            return
        try:
            up_reader, up_writer = await self._open(host, int(port_text))
        except (OSError, TimeoutError) as exc:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            log.debug("egress proxy could not reach %s: %s", target, exc)
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await self._splice(reader, writer, up_reader, up_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        headers: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            parts = urlsplit(target)
            port = parts.port or 80
        except ValueError:
            parts, port = None, 0
        if parts is None or parts.scheme.lower() != "http" or not parts.hostname:
            # Only absolute http:// URLs come to a forward proxy; https comes by CONNECT.
            await self._refuse(writer, "malformed", f"a {method} for {target[:200]!r}")
            return
        why = self.refusal(target)
        if why is not None:
            await self._refuse(writer, "request", f"{method} {target[:200]}: {why}")
            return
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + _end_to_end(headers)
        try:
            up_reader, up_writer = await self._open(parts.hostname, port)
        except (OSError, TimeoutError) as exc:
            writer.write(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            log.debug("egress proxy could not reach %s: %s", target[:200], exc)
            return
        up_writer.write(head)
        # The request body (if any) flows on while the answer's head is read.
        upload = asyncio.ensure_future(self._pump(reader, up_writer))
        try:
            if await self._answer(target, up_reader, writer):
                await self._pump(up_reader, writer)
        finally:
            upload.cancel()
            with contextlib.suppress(Exception):
                up_writer.close()

    async def _answer(
        self, target: str, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Pass the upstream answer's head(s) on, unless it redirects off the rule."""
        while True:
            try:
                head = await asyncio.wait_for(
                    up_reader.readuntil(b"\r\n\r\n"), timeout=self.idle_timeout
                )
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return False
            line, _, headers = head.partition(b"\r\n")
            status = line.split(b" ", 2)[1] if line.count(b" ") else b""
            if status[:1] == b"3":
                location = _header(headers, b"location")
                if location is not None:
                    to = urljoin(target, location.decode("latin-1").strip())
                    why = self.refusal(to)
                    if why is not None:
                        await self._refuse(
                            writer, "redirect", f"{target[:200]} -> {to[:200]}: {why}"
                        )
                        return False
            if status == b"101":  # no protocol switch (a WebSocket) through the proxy
                await self._refuse(writer, "upgrade", f"{target[:200]} switched protocols")
                return False
            writer.write(line + b"\r\n" + _end_to_end(headers))
            if not status.startswith(b"1"):
                return True

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            while True:
                chunk = await asyncio.wait_for(src.read(65536), timeout=self.idle_timeout)
                if not chunk:
                    break
                dst.write(chunk)
                await asyncio.wait_for(dst.drain(), timeout=self.idle_timeout)

    async def _splice(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        down = asyncio.ensure_future(self._pump(up_reader, writer))
        up = asyncio.ensure_future(self._pump(reader, up_writer))
        try:
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            down.cancel()
            up.cancel()
            with contextlib.suppress(Exception):
                up_writer.close()


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _header(headers: bytes, name: bytes) -> bytes | None:
    for raw in headers.split(b"\r\n"):
        key, sep, value = raw.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return None


def _end_to_end(headers: bytes) -> bytes:
    """A head's header lines without hop-by-hop ones, closed with ``Connection: close``.

    One request per upstream connection: the answer ends when upstream hangs
    up, so no body framing is parsed here, and no second request can ride a
    connection whose first was checked.
    """
    kept = [
        raw
        for raw in headers.split(b"\r\n")
        if raw and raw.partition(b":")[0].strip().lower() not in _HOP_BY_HOP
    ]
    return b"\r\n".join([*kept, b"Connection: close", b"", b""])


def chromium_switches(port: int) -> list[str]:
    """The switches that put Chromium behind the proxy on ``port``, with nothing around it."""
    return [
        f"--proxy-server=http://127.0.0.1:{port}",
        # Chromium sends loopback addresses past a proxy unless told not to.
        "--proxy-bypass-list=<-loopback>",
        # WebRTC may not use UDP that the proxy does not carry, nor name local addresses.
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--enforce-webrtc-ip-permission-check",
        "--disable-quic",
    ]
