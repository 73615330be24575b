"""The browser's egress proxy: every request, tunnel and redirect hop asks the offsite rule."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harvest.crawl.egress import HEAD_LIMIT, EgressProxy, chromium_switches
from harvest.medium.urls import MediumUrls
from harvest.sim.server import SimServer
from tests.security.canaries import TcpCanary


async def _exchange(port: int, data: bytes, *, read: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    out = await asyncio.wait_for(reader.read(), timeout=10) if read else b""
    writer.close()
    return out


def _run(
    mirror: str, body: Callable[[int, Counter[str]], Awaitable[Any]], **kwargs: Any
) -> Counter[str]:
    urls = MediumUrls.from_base(mirror)
    counts: Counter[str] = Counter()

    async def main() -> None:
        proxy = EgressProxy(urls.refusal, lambda c: counts.update([c]), **kwargs)
        port = await proxy.start()
        try:
            await body(port, counts)
        finally:
            await proxy.close()

    asyncio.run(main())
    return counts


def _get(url: str, method: str = "GET", body: bytes = b"") -> bytes:
    host = url.split("/")[2]
    head = f"{method} {url} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Proxy-Connection: keep-alive\r\n\r\n" + body


def test_an_allowed_request_is_forwarded_whole() -> None:
    with SimServer(seed=1, size=6) as sim:

        async def body(port: int, counts: Counter[str]) -> None:
            out = await _exchange(port, _get(f"{sim.url}/robots.txt"))
            assert out.startswith(b"HTTP/1.0 200") or out.startswith(b"HTTP/1.1 200"), out[:100]
            assert b"Disallow: /m/" in out
            assert b"connection: close" in out.lower()

        counts = _run(sim.url, body)
    assert not counts


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{canary}/addversion.json",  # the mirror's address, another port
        "http://127.0.0.2:{mirror}/tag/seo",  # the mirror's port, another address
        "http://localhost:{mirror}/tag/seo",
        "http://evil.example/x",
    ],
)
def test_a_request_off_the_rule_is_refused_and_never_sent(target: str) -> None:
    with TcpCanary() as canary, SimServer(seed=1, size=6) as sim:
        url = target.format(canary=canary.port, mirror=sim.url.rsplit(":", 1)[1])

        async def body(port: int, counts: Counter[str]) -> None:
            out = await _exchange(port, _get(url, "POST", b"egg"))
            assert out.startswith(b"HTTP/1.1 403"), out[:100]

        counts = _run(sim.url, body)
    assert counts == Counter({"request": 1})
    assert canary.hits == []


@pytest.mark.parametrize("method", ["GET", "POST"])  # the mirror answers 302 and 307
def test_a_redirect_off_the_rule_is_answered_403_not_passed_on(method: str) -> None:
    with TcpCanary() as canary, SimServer(seed=1, size=6) as sim:
        sim.redirects["/go"] = f"{canary.url}/addversion.json"
        sim.redirects["/home"] = "/robots.txt"  # a redirect inside the mirror passes

        async def body(port: int, counts: Counter[str]) -> None:
            out = await _exchange(port, _get(f"{sim.url}/go", method, b"egg"))
            assert out.startswith(b"HTTP/1.1 403"), out[:200]
            assert b"addversion" in out  # it says where it would have gone
            out = await _exchange(port, _get(f"{sim.url}/home"))
            assert out.startswith(b"HTTP/1.1 302"), out[:100]
            assert b"Location: /robots.txt" in out

        counts = _run(sim.url, body)
    assert counts == Counter({"redirect": 1})
    assert canary.hits == []


def test_tunnels_go_only_where_https_may() -> None:
    # Without a mirror: Medium on 443 is allowed, anything else is not.
    urls = MediumUrls()
    decided: list[str] = []

    def rule(url: str) -> str | None:
        decided.append(url)
        return urls.refusal(url)

    counts: Counter[str] = Counter()
    with TcpCanary() as canary:

        async def main() -> None:
            proxy = EgressProxy(rule, lambda c: counts.update([c]))
            port = await proxy.start()
            try:
                for target in (
                    f"127.0.0.1:{canary.port}",
                    "medium.com:8443",
                    "evil.example:443",
                    "[::1]:443",
                ):
                    out = await _exchange(port, f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
                    assert out.startswith(b"HTTP/1.1 403"), (target, out[:100])
            finally:
                await proxy.close()

        asyncio.run(main())
    assert counts == Counter({"tunnel": 4})
    assert canary.hits == []
    assert "https://[::1]:443/" in decided


def test_an_allowed_tunnel_carries_bytes_both_ways() -> None:
    with SimServer(seed=1, size=6) as sim:
        host_port = sim.url.split("//")[1]
        # A mirror over https: the rule allows its host and port for a tunnel.
        https = "https://" + host_port

        async def body(port: int, counts: Counter[str]) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"CONNECT {host_port} HTTP/1.1\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.write(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            out = await asyncio.wait_for(reader.read(), timeout=10)
            writer.close()
            assert b"Disallow: /m/" in out

        counts = _run(https, body)
    assert not counts


@pytest.mark.parametrize(
    "data",
    [
        b"GET /tag/seo HTTP/1.1\r\nHost: x\r\n\r\n",  # origin-form: not a proxy request
        b"GET ftp://127.0.0.1/x HTTP/1.1\r\n\r\n",
        b"GET http://[bad/x HTTP/1.1\r\n\r\n",
        b"NONSENSE\r\n\r\n",
        b"CONNECT nohost HTTP/1.1\r\n\r\n",
        b"CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n",
        b"GET http://127.0.0.1/ HTTP/1.1\r\nX: " + b"a" * HEAD_LIMIT + b"\r\n\r\n",
    ],
)
def test_malformed_requests_are_refused_and_counted(data: bytes) -> None:
    with SimServer(seed=1, size=6) as sim:

        async def body(port: int, counts: Counter[str]) -> None:
            out = await _exchange(port, data)
            assert not out or out.startswith(b"HTTP/1.1 403"), out[:100]

        counts = _run(sim.url, body)
    assert counts == Counter({"malformed": 1})


def test_a_client_that_trickles_its_head_is_dropped_at_the_timeout() -> None:
    with SimServer(seed=1, size=6) as sim:

        async def body(port: int, counts: Counter[str]) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            loop = asyncio.get_running_loop()
            started = loop.time()
            writer.write(b"GET http://")
            out = await asyncio.wait_for(reader.read(), timeout=10)
            assert out == b""
            assert loop.time() - started < 3
            writer.close()

        counts = _run(sim.url, body, head_timeout=0.5)
    assert counts == Counter({"malformed": 1})


def test_chromium_is_sent_through_the_proxy_loopback_included() -> None:
    switches = chromium_switches(4321)
    assert "--proxy-server=http://127.0.0.1:4321" in switches
    assert "--proxy-bypass-list=<-loopback>" in switches
    assert "--disable-quic" in switches
    assert "--force-webrtc-ip-handling-policy=disable_non_proxied_udp" in switches
