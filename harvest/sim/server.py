"""The simulated Medium over HTTP on 127.0.0.1.

Paths are Medium's own (``/tag/seo``, ``/@user``, ``/<publication>``,
``/feed/...``, ``/sitemap/...``, ``/<publication>/<slug>-<id>``); pages of
other hosts (``*.medium.com``, publications on their own domains) are served
under ``/_host/<host>/...``, which is how harvest's MEDIUM_BASE_URL mapping
addresses them. ``/_sim/manifest.json`` is the ground truth.

Fault knobs (for reliability tests): a share of responses answered with 429
(with Retry-After), 503, a slow response, or a truncated body; and the ways the
real Medium refuses a crawler (2025-2026, see shared/medium-graphql.md):

* Cloudflare managed challenges (403, ``cf-mitigated: challenge``, a "Just a
  moment..." page with ``_cf_chl_opt``) for paths matching a pattern, or for
  every request once a client has made K of them; a challenged path stays
  challenged for that client, as Cloudflare keeps a URL+address pair;
* 429 bursts: over N page requests within a window, everything is answered 429
  with Retry-After until the time it names has passed;
* unreachable Medium: :func:`refused_url` (nothing listens) and
  :data:`DNS_FAIL_URL` (a name that never resolves) as MEDIUM_BASE_URL.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from harvest.sim import graphql, render
from harvest.sim.model import World, build_world


@dataclass
class Faults:
    rate: float = 0.0  # share of page requests that fail once
    kinds: tuple[str, ...] = ("429", "503", "slow", "truncate")
    retry_after: int = 1
    slow_seconds: float = 2.0
    timeout_seconds: float = 5.0  # longer than the crawler's DOWNLOAD_TIMEOUT in tests
    seed: int = 0
    # Cloudflare: paths matching this pattern are challenged ...
    challenge: str | None = None
    # ... and so is everything after this many page requests from one client
    challenge_after: int | None = None
    # 429 bursts: more than burst_limit page requests within burst_window seconds
    burst_limit: int | None = None
    burst_window: float = 1.0
    burst_retry_after: int = 2
    burst_once: bool = False  # one burst, then no more limiting
    # paths matching this pattern are sent a byte at a time, trickle_interval apart:
    # a host that never stops sending and never finishes
    trickle: str | None = None
    trickle_interval: float = 0.2
    _rng: random.Random = field(default_factory=random.Random, repr=False)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler killed mid-response (a test does that on purpose) is not news.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


# A MEDIUM_BASE_URL whose host never resolves (.invalid is reserved for that).
DNS_FAIL_URL = "http://medium-sim.invalid"


def refused_url() -> str:
    """A MEDIUM_BASE_URL on 127.0.0.1 where nothing listens: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _Served:
    """An HTTP server of the tests' on 127.0.0.1, in a thread of its own."""

    httpd: _QuietServer

    def _serve(
        self, handler: type[BaseHTTPRequestHandler], port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.httpd = _QuietServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimServer(_Served):
    """Start with ``with SimServer(seed, size) as sim:``; ``sim.url`` is the base URL."""

    def __init__(
        self,
        seed: int = 1,
        size: int = 10,
        port: int = 0,
        faults: Faults | None = None,
        *,
        fates: bool = False,
    ) -> None:
        self.world: World = build_world(seed, size, fates=fates)
        # post id -> X-Robots-Tag its page is served with
        self.x_robots: dict[str, str] = {}
        self.variant = 0
        self.faults = faults or Faults()
        self.faults._rng.seed(self.faults.seed)
        self.requests: dict[str, int] = {}
        # A hostile mirror: pages that attack the crawler's browser (see
        # render.hostile), and redirects of some paths to other hosts and ports.
        self.canary: str | None = None
        # path -> where it redirects: 302 for a GET, 307 (body kept) for a POST
        self.redirects: dict[str, str] = {}
        # tag -> hostile markup its listing carries (render.escapes builds them)
        self.tag_scripts: dict[str, str] = {}
        # path -> (content type, body) served as is: a worker's script, say
        self.files: dict[str, tuple[str, str]] = {}
        self.challenged: dict[str, set[str]] = {}  # client -> paths it was challenged on
        self._page_requests: dict[str, int] = {}  # client -> page requests made
        self._recent: deque[float] = deque()
        self._limited_until = 0.0
        self._bursts_over = False
        self.answered: dict[int, int] = {}  # status -> responses sent
        # robots.txt lines added for every host ("Disallow: /_/graphql", say)
        self.robots_extra: list[str] = []
        # sitemap children listed and served as .xml.gz, as Medium may
        self.gzip_sitemaps = False
        self.graphql = graphql.GraphqlMode()
        self.graphql_requests: list[dict[str, Any]] = []  # each operation asked, in order
        # requests by the client they look like: "browser" when they carry a
        # browser's client hints (sec-ch-ua), as curl_cffi's impersonation does
        # and Scrapy's client does not, else "plain"
        self.clients: dict[str, int] = {}
        self._lock = threading.Lock()
        self._serve(type("Handler", (_Handler,), {"sim": self}), port)

    def arm_escapes(
        self, tags: dict[str, str], canary: str, other: str, udp_port: int, turn_port: int
    ) -> None:
        """Make the listings of ``tags`` (tag -> channel) hostile: see render.escapes."""
        markup, files = render.escapes(canary, other, udp_port, turn_port)
        self.tag_scripts.update({tag: markup[channel] for tag, channel in tags.items()})
        self.files.update(files)
        for name in render.ESCAPE_REDIRECTS:
            self.redirects[f"/_sim/escape/{name}"] = f"{canary}/{name}"

    def manifest(self) -> dict[str, Any]:
        return render.manifest(self.world, self.variant)

    def sent(self, status: int) -> None:
        with self._lock:
            self.answered[status] = self.answered.get(status, 0) + 1

    def refusal(self, client: str, path: str) -> tuple[int, int | None] | None:
        """(403, None) for a challenge, (429, seconds) inside a burst, else None."""
        f = self.faults
        if path.startswith("/_sim/"):
            return None
        with self._lock:
            challenged = self.challenged.setdefault(client, set())
            if path != "/robots.txt":
                self._page_requests[client] = self._page_requests.get(client, 0) + 1
            if path in challenged:
                return 403, None
            over = f.challenge_after is not None and self._page_requests.get(client, 0) > (
                f.challenge_after
            )
            if path != "/robots.txt" and (
                over or (f.challenge is not None and re.search(f.challenge, path))
            ):
                challenged.add(path)
                return 403, None
            if f.burst_limit is not None and path != "/robots.txt":
                return self._burst()
        return None

    def _burst(self) -> tuple[int, int | None] | None:
        """A 429 once more than burst_limit pages came within burst_window, and
        for burst_retry_after seconds after (the caller holds the lock)."""
        f = self.faults
        now = time.monotonic()
        if now < self._limited_until:
            return 429, f.burst_retry_after
        self._recent.append(now)
        while self._recent and self._recent[0] < now - f.burst_window:
            self._recent.popleft()
        if len(self._recent) > (f.burst_limit or 0) and not self._bursts_over:
            self._recent.clear()
            self._limited_until = now + f.burst_retry_after
            self._bursts_over = f.burst_once
            return 429, f.burst_retry_after
        return None

    def count(self, path: str) -> int:
        with self._lock:
            self.requests[path] = self.requests.get(path, 0) + 1
            return self.requests[path]

    # -- routing --------------------------------------------------------------------

    def route(self, path: str, query: str) -> tuple[int, str, str | bytes, dict[str, str]]:
        """(status, content type, body, headers) for a request path; a redirect's body
        is its Location."""
        host = "medium.com"
        if path.startswith("/_host/"):
            host, _, rest = path[len("/_host/") :].partition("/")
            path = "/" + rest
        for pattern, medium_only, handler in _ROUTES:
            if medium_only and host != "medium.com":
                continue
            m = pattern.fullmatch(path)
            if m is not None:
                out = handler(self, m, host)
                return (out[0], out[1], out[2], out[3] if len(out) == 4 else {})
        return (*_404(), {})

    # One handler per kind of page: (match, host) -> (status, type, body).

    def _robots(self, m: re.Match[str], host: str) -> Response:
        lines = ["User-agent: *", "Disallow: /m/", "Disallow: /_sim/manifest.json"]
        return 200, "text/plain", "\n".join([*lines, *self.robots_extra]) + "\n"

    def answer_graphql(self, host: str, body: bytes) -> tuple[int, bytes]:
        with self._lock:
            status, value = graphql.answer(
                self.world, host, body, self.graphql, self.graphql_requests
            )
        return status, json.dumps(value).encode("utf-8")

    def _manifest(self, m: re.Match[str], host: str) -> Response:
        return 200, "application/json", json.dumps(self.manifest())

    def _tag_batch(self, m: re.Match[str], host: str) -> Response:
        return 200, _HTML, render.tag_batch(self.world, m.group(1), int(m.group(2)))

    def _tag(self, m: re.Match[str], host: str) -> Response:
        tag = m.group(1)
        return (
            200,
            _HTML,
            render.tag_page(self.world, tag, self.canary, self.tag_scripts.get(tag, "")),
        )

    def _tag_feed(self, m: re.Match[str], host: str) -> Response:
        tag = m.group(1)
        w = self.world
        return 200, _XML, render.rss(w, tag, f"https://medium.com/tag/{tag}", w.tagged(tag))

    def _user_feed(self, m: re.Match[str], host: str) -> Response:
        user = m.group(1)
        w = self.world
        return 200, _XML, render.rss(w, user, f"https://medium.com/@{user}", w.by_author(user))

    def _publication_feed(self, m: re.Match[str], host: str) -> Response:
        slug = m.group(1)
        posts = self.world.in_publication(slug)
        if not posts:
            return _404()
        return 200, _XML, render.rss(self.world, slug, f"https://medium.com/{slug}", posts)

    def _sitemap_index(self, m: re.Match[str], host: str) -> Response:
        return 200, _XML, render.sitemap_index(self.world, gz=self.gzip_sitemaps)

    def _sitemap_day(self, m: re.Match[str], host: str) -> Response:
        xml = render.sitemap_day(self.world, m.group(1))
        if not m.group(2):
            return 200, _XML, xml
        # A gzipped file, not a gzip Content-Encoding: the client must open it.
        return 200, _GZIP, gzip.compress(xml.encode("utf-8"), mtime=0)

    def _profile(self, m: re.Match[str], host: str) -> Response:
        page = render.profile_page(self.world, m.group(1))
        return (200, _HTML, page) if page else _404()

    def _post(self, m: re.Match[str], host: str) -> Response:
        try:
            post = self.world.post(m.group(1))
        except KeyError:
            return _404()
        if host not in (post.host, post.served_host):
            return _404()
        if post.fate == "deleted":
            return 404, _HTML, render.NOT_FOUND_PAGE
        if post.fate == "suspended":
            return 410, _HTML, render.GONE_PAGE
        if host != post.served_host:
            return 301, _HTML, "/_host/" + post.served_host + "/" + post.served_url.split("/", 3)[3]
        headers = {"medium-fulfilled-by": f"sim/lite/main-{self.world.seed}"}
        if post.post_id in self.x_robots:
            headers["X-Robots-Tag"] = self.x_robots[post.post_id]
        return 200, _HTML, render.article_page(self.world, post, self.variant), headers

    def _publication(self, m: re.Match[str], host: str) -> Response:
        page = render.publication_page(self.world, m.group(1))
        return (200, _HTML, page) if page else _404()

    def _publication_home(self, m: re.Match[str], host: str) -> Response:
        """A publication's own domain answers its home page at /."""
        pub = next((p for p in self.world.publications if p.domain == host), None)
        page = render.publication_page(self.world, pub.slug) if pub else None
        return (200, _HTML, page) if page else _404()


Response = tuple[int, str, str | bytes] | tuple[int, str, str | bytes, dict[str, str]]
_HTML = "text/html; charset=utf-8"
_GZIP = "application/x-gzip"
_XML = "application/xml; charset=utf-8"
# In order: the first whose pattern matches the whole path answers; some pages
# exist on medium.com only (a publication's own domain serves its posts).
Handler = Callable[[SimServer, re.Match[str], str], Response]
_ROUTES: tuple[tuple[re.Pattern[str], bool, Handler], ...] = (
    (re.compile(r"/robots\.txt"), False, SimServer._robots),
    (re.compile(r"/_sim/manifest\.json"), False, SimServer._manifest),
    (re.compile(r"/_sim/tag/([a-z0-9\-]+)/batch/(\d+)"), False, SimServer._tag_batch),
    (re.compile(r"/tag/([a-z0-9\-]+)/?"), True, SimServer._tag),
    (re.compile(r"/feed/tag/([a-z0-9\-]+)/?"), False, SimServer._tag_feed),
    (re.compile(r"/feed/@([^/]+)/?"), False, SimServer._user_feed),
    (re.compile(r"/feed/([a-z0-9\-]+)/?"), False, SimServer._publication_feed),
    (re.compile(r"/sitemap/sitemap\.xml"), False, SimServer._sitemap_index),
    (
        re.compile(r"/sitemap/posts/\d{4}/posts-(\d{4}-\d{2}-\d{2})\.xml(\.gz)?"),
        False,
        SimServer._sitemap_day,
    ),
    (re.compile(r"/@([^/]+)/?"), True, SimServer._profile),
    (re.compile(r".*-([0-9a-f]{10,12})/*"), False, SimServer._post),
    (re.compile(r"/([a-z0-9\-]+)/?"), True, SimServer._publication),
    (re.compile(r"/"), False, SimServer._publication_home),
)


def _404() -> tuple[int, str, str]:
    return 404, "text/html; charset=utf-8", "<html><body>Not found</body></html>"


class _Handler(BaseHTTPRequestHandler):
    sim: SimServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the manifest, not the access log

    def do_GET(self) -> None:
        self._answer(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(min(length, 1 << 20)))

    def _answer(self, posted: bytes | None) -> None:
        client = "browser" if self.headers.get("sec-ch-ua") else "plain"
        with self.sim._lock:
            self.sim.clients[client] = self.sim.clients.get(client, 0) + 1
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        # A POST is one request per body: each page of a GraphQL walk may fail once.
        key = path if posted is None else f"{path}#{hashlib.sha256(posted).hexdigest()[:16]}"
        attempt = self.sim.count(key)
        refusal = self.sim.refusal(self.client_address[0], path)
        if refusal is not None:
            self._refuse(*refusal)
            return
        location = self.sim.redirects.get(path)
        if location is not None:
            self.send_response(302 if posted is None else 307)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if posted is not None:
            self._post(path, posted, attempt)
            return
        if path in self.sim.files:
            ctype, text = self.sim.files[path]
            self._send(path, attempt, 200, ctype, text.encode("utf-8"), {})
            return
        status, ctype, body, headers = self.sim.route(path, parts.query)
        if status in (301, 302):
            self.sim.sent(status)
            self.send_response(status)
            self.send_header("Location", str(body))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._send(path, attempt, status, ctype, data, headers)

    def _post(self, path: str, posted: bytes, attempt: int) -> None:
        host = "medium.com"
        if path.startswith("/_host/"):
            host, _, rest = path[len("/_host/") :].partition("/")
            path = "/" + rest
        if path != "/_/graphql":
            self._send(path, attempt, 405, "text/plain", b"", {})
            return
        status, data = self.sim.answer_graphql(host, posted)
        self._send(path, attempt, status, "application/json; charset=utf-8", data, {})

    def _send(
        self, path: str, attempt: int, status: int, ctype: str, data: bytes, headers: dict[str, str]
    ) -> None:
        fault = self._fault(path, attempt)
        if fault in {"429", "503"}:
            self.sim.sent(int(fault))
            self.send_response(int(fault))
            self.send_header("Retry-After", str(self.sim.faults.retry_after))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "reset":
            # Hang up without a response: the client sees a connection reset.
            self.close_connection = True
            import socket as _socket

            self.connection.setsockopt(
                _socket.SOL_SOCKET, _socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            return
        if fault == "timeout":
            time.sleep(self.sim.faults.timeout_seconds)
        if fault == "slow":
            time.sleep(self.sim.faults.slow_seconds)
        self.sim.sent(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        trickle = self.sim.faults.trickle
        if trickle is not None and re.search(trickle, path):
            with contextlib.suppress(OSError):
                for i in range(len(data)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(self.sim.faults.trickle_interval)
            self.close_connection = True
            return
        if fault == "truncate":
            # Promise the whole body, send half, hang up: a truncated response.
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def _refuse(self, status: int, retry_after: int | None) -> None:
        self.sim.sent(status)
        if status == 403:
            body = render.challenge_page(f"{random.getrandbits(40):010x}").encode()
            self.send_response(403)
            self.send_header("cf-mitigated", "challenge")
            self.send_header("Content-Type", "text/html; charset=UTF-8")
            self.send_header("Cache-Control", "private, max-age=0, no-store, no-cache")
        else:
            body = b""
            self.send_response(status)
            self.send_header("Retry-After", str(retry_after))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fault(self, path: str, attempt: int) -> str | None:
        faults = self.sim.faults
        if faults.rate <= 0 or attempt > 1 or path.startswith("/_sim/") or path == "/robots.txt":
            return None  # every page fails at most once, so a retrying crawler gets it all
        with self.sim._lock:
            roll = faults._rng.random()
            kind = faults._rng.choice(faults.kinds)
        return kind if roll < faults.rate else None


class Canary(_Served):
    """A host the crawler must never reach: it counts every request that comes.

    Start with ``with Canary() as canary:``; ``canary.url`` is its base URL and
    ``canary.hits`` the request lines it received.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        hits: list[str] = []
        self.hits = hits
        self.host = host

        class Handler(BaseHTTPRequestHandler):
            def handle_one_request(self) -> None:
                line = self.rfile.readline(65537)
                if line:
                    hits.append(line.decode("latin-1").strip())
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.wfile.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._serve(Handler, host=host)
