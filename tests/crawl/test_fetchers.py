"""HARVEST_FETCHER=impersonate: curl_cffi fetches what the browser does not
render, with a browser's fingerprint, under the crawl's own rules.

A local HTTPS server (a certificate made for the test, trusted through
HARVEST_IMPERSONATE_CA_FILE) checks that the handler in use is curl_cffi's:
Scrapy's client sends no client hints. The crawl goes through the simulator,
which counts the requests that carry them.
"""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvest.db.connection import connect
from harvest.sim.server import SimServer
from tests.child import ROOT, json_from
from tests.pg import rows
from tests.sim.crawl import finish, start_crawl

pytestmark = pytest.mark.slow


BOMB = gzip.compress(b" " * 50_000_000, compresslevel=9)


class _Hints(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def do_GET(self) -> None:
        tls = self.connection
        self.seen.append(
            {
                "hints": self.headers.get("sec-ch-ua"),
                "agent": self.headers.get("User-Agent"),
                "tls": tls.version() if isinstance(tls, ssl.SSLSocket) else None,
            }
        )
        body = b"hello over TLS"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.path == "/bomb":
            # 50 MB of spaces in a hundred kilobytes
            body = BOMB
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[Any]]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    seen: list[Any] = []
    handler = type("Hints", (_Hints,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", cert, seen
    server.shutdown()


def test_curl_cffi_fetches_over_tls_with_a_browsers_hints_and_the_ca_it_is_given(
    https: tuple[str, Path, list[Any]],
) -> None:
    url, cert, seen = https
    got = json_from(
        "tests.crawl.fetch_child",
        url,
        "HARVEST_FETCHER=impersonate",
        "HARVEST_BROWSER=0",
        f"HARVEST_IMPERSONATE_CA_FILE={cert}",
        "USER_AGENT=harvest-test/1",
    )
    assert got["status"] == 200 and got["body"] == "hello over TLS", got
    assert "impersonate" in got["flags"]
    assert got["fetched"] == {"harvest/fetch/impersonate": 1}
    assert seen[-1]["hints"] and "Chrome" in seen[-1]["hints"]
    assert seen[-1]["agent"] == "harvest-test/1"  # the crawl's own user agent
    assert seen[-1]["tls"] == "TLSv1.3"


def test_a_body_over_the_size_limit_once_decoded_is_cancelled(
    https: tuple[str, Path, list[Any]],
) -> None:
    url, cert, _ = https
    assert len(BOMB) < 1_000_000
    got = json_from(
        "tests.crawl.fetch_child",
        url + "bomb",
        "HARVEST_FETCHER=impersonate",
        "HARVEST_BROWSER=0",
        f"HARVEST_IMPERSONATE_CA_FILE={cert}",
        "DOWNLOAD_MAXSIZE=1000000",
    )
    assert got.get("error") == "PageTooLarge", got
    assert "over the download size limit (1,000,000 bytes) once decoded" in got["message"]


def test_the_certificate_is_checked(https: tuple[str, Path, list[Any]]) -> None:
    url, _, seen = https
    before = len(seen)
    got = json_from(
        "tests.crawl.fetch_child", url, "HARVEST_FETCHER=impersonate", "HARVEST_BROWSER=0"
    )
    assert "error" in got and "certificate" in got["message"].lower(), got
    assert len(seen) == before


def test_scrapys_own_client_sends_no_hints(https: tuple[str, Path, list[Any]]) -> None:
    url, _, seen = https
    got = json_from("tests.crawl.fetch_child", url, "HARVEST_BROWSER=0")
    # Scrapy's client does not check certificates: it fetches, without hints
    assert got["status"] == 200 and got["fetched"] == {}, got
    assert seen[-1]["hints"] is None


def crawl_seo(sim: SimServer, dsn: str, **settings: str) -> str:
    """A crawl of tag seo's walk, which robots.txt refuses, so its page is read
    instead: the rules hold whichever client fetches; its log."""
    sim.robots_extra = ["Disallow: /_/graphql"]
    log = finish(
        start_crawl(
            sim.url,
            dsn,
            ("tags=seo", "history=all"),
            {"AUTOTHROTTLE_ENABLED": "0", "HARVEST_BROWSER": "0", **settings},
        )
    )
    assert sim.graphql_requests == []
    assert "fell back to listing pages: robots.txt ×1" in log
    conn = connect(dsn)
    stored = {r[0] for r in rows(conn, "SELECT medium_id FROM posts")}
    conn.close()
    assert {p.post_id for p in sim.world.tagged("seo")[:5]} <= stored
    return log


def test_a_crawl_with_impersonate_keeps_its_rules_and_says_which_client_fetched(
    db_dsn: str,
) -> None:
    with SimServer(seed=1, size=60) as sim:
        log = crawl_seo(sim, db_dsn, HARVEST_FETCHER="impersonate")
        assert sim.clients.get("plain", 0) == 0, sim.clients
        assert sim.clients["browser"] > 5
        assert f"fetched: {sim.clients['browser']} requests by curl_cffi" in log


def test_the_setting_is_checked() -> None:
    command = ["crawl", "medium", "-a", "tags=seo", "-s", "HARVEST_FETCHER=curl"]
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "HARVEST_FETCHER" in proc.stderr + proc.stdout
    assert "must be one of scrapy, impersonate" in proc.stderr + proc.stdout


class _ZyteApi(http.server.BaseHTTPRequestHandler):
    """Zyte API's extract endpoint, as far as a crawl through scrapy-zyte-api
    uses it: it fetches the URL (from the simulator) and answers its status,
    headers and body, following no redirect when asked not to."""

    asked: list[dict[str, Any]]

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.asked.append({"auth": self.headers.get("Authorization"), **query})
        body = query.get("httpRequestBody")
        fetch = urllib.request.Request(
            query["url"],
            method=query.get("httpRequestMethod", "GET"),
            data=base64.b64decode(body) if body else None,
            headers={h["name"]: h["value"] for h in query.get("customHttpRequestHeaders", [])},
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(fetch, timeout=30) as got:
                status, data, headers = got.status, got.read(), got.getheaders()
        except urllib.error.HTTPError as exc:
            status, data, headers = exc.code, exc.read(), list(exc.headers.items())
        answer = json.dumps(
            {
                "url": query["url"],
                "statusCode": status,
                "httpResponseBody": base64.b64encode(data).decode(),
                "httpResponseHeaders": [{"name": k, "value": v} for k, v in headers],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_a_crawl_through_zyte_api_keeps_its_rules_and_says_so(db_dsn: str) -> None:
    asked: list[dict[str, Any]] = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Zyte", (_ZyteApi,), {"asked": asked})
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with SimServer(seed=1, size=60) as sim:
            log = crawl_seo(
                sim,
                db_dsn,
                HARVEST_FETCHER="zyte",
                ZYTE_API_KEY="k-test",
                ZYTE_API_URL=f"http://127.0.0.1:{server.server_address[1]}/v1/",
            )
    finally:
        server.shutdown()
    assert len(asked) > 5
    assert all(a["followRedirect"] is False for a in asked)
    assert all(a["auth"] == "Basic " + base64.b64encode(b"k-test:").decode() for a in asked)
    assert any(a["url"].endswith("/robots.txt") for a in asked)
    assert f"fetched: {len(asked)} requests by Zyte API" in log


def test_zyte_without_a_key_is_refused_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "medium", "-a", "tags=seo",
         "-s", "HARVEST_FETCHER=zyte"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "ZYTE_API_KEY"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "HARVEST_FETCHER=zyte needs a Zyte API key" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
