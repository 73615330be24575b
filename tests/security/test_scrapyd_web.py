"""The shipped scrapyd is no web target: no page, in any browser, commands it or reads it.

scrapyd is started as deploy/README says (``harvest scrapyd --config
deploy/scrapyd.conf``, credentials made at set-up). The attacks: a cross-origin
egg upload as a CORS "simple" request, with the operator's cached credentials;
a preflight; a page on another port of the same address (same-site); a host
name rebound to 127.0.0.1; and a real Chromium page that tries to read and write.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harvest.ops.scrapyd_web import host_name, refusal
from tests.ops.scrapyd_run import Creds, get

pytestmark = pytest.mark.slow


def _egg(marker: Path) -> bytes:
    """An egg whose code, were it ever run, would leave ``marker``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("pwn/__init__.py", f"open({str(marker)!r}, 'w').write('ran')\n")
        z.writestr("pwn/settings.py", f"open({str(marker)!r}, 'w').write('ran')\n")
        z.writestr("EGG-INFO/entry_points.txt", "[scrapy]\nsettings = pwn.settings\n")
    return out.getvalue()


def _multipart(fields: dict[str, str], egg: bytes) -> tuple[bytes, str]:
    boundary = "harvesttestboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="egg"; filename="x.egg"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + egg
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _call(
    url: str,
    creds: Creds,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    **more: str,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    for name, value in {**(headers or {}), **more}.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_a_cross_origin_egg_upload_is_refused_and_nothing_runs(
    scrapyd: tuple[str, dict[str, str], Creds], tmp_path: Path
) -> None:
    url, _, creds = scrapyd
    marker = tmp_path / "pwned"
    body, ctype = _multipart({"project": "pwn", "version": "1"}, _egg(marker))
    port = url.rsplit(":", 1)[1]
    attacks: list[dict[str, str]] = [
        {"Origin": "http://evil.example"},  # any site the operator visits
        {"Origin": "null"},  # a sandboxed frame, a data: page
        {"Origin": "http://127.0.0.1:8000", "Sec_Fetch_Site": "same-site"},  # another port
        {"Sec_Fetch_Site": "cross-site"},
        {"Host": f"rebound.example:{port}"},  # DNS rebinding: same origin to the browser
    ]
    for headers in attacks:
        status, answer, text = _call(
            f"{url}/addversion.json", creds, "POST", body, headers, Content_Type=ctype
        )
        assert status == 403, (headers, status, text)
        assert not any(k.startswith("access-control-") for k in answer), answer
        status, answer, _ = _call(f"{url}/daemonstatus.json", creds, headers=headers)
        assert status == 403 and "access-control-allow-origin" not in answer
        status, answer, _ = _call(
            f"{url}/addversion.json",
            creds,
            "OPTIONS",
            headers=headers,
            Access_Control_Request_Method="POST",
        )
        assert status == 403 and "access-control-allow-origin" not in answer
    assert get(f"{url}/listprojects.json", creds)["projects"] == []
    assert not marker.exists()
    # the operator's own tools send no Origin, and no answer grants other origins access
    status, answer, text = _call(f"{url}/daemonstatus.json", creds)
    assert status == 200 and json.loads(text)["status"] == "ok"
    assert not any(k.startswith("access-control-") for k in answer), answer
    status, _, _ = _call(f"{url}/daemonstatus.json", creds, Origin=url)
    assert status == 200  # scrapyd's own console page


def test_a_page_in_chromium_cannot_command_or_read_scrapyd(
    scrapyd: tuple[str, dict[str, str], Creds], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from harvest.crawl.browser import CHROMIUM_ARGS, playwright_chromium_installed, system_chromium
    from harvest.sim.server import SimServer

    url, _, creds = scrapyd
    executable = None if playwright_chromium_installed() else system_chromium()
    if executable is None and not playwright_chromium_installed():
        pytest.skip("no Chromium")
    marker = tmp_path / "pwned"
    egg = base64.b64encode(_egg(marker)).decode()
    script = f"""async () => {{
        const s = {json.dumps(url)}, out = {{}};
        const bytes = Uint8Array.from(atob({json.dumps(egg)}), c => c.charCodeAt(0));
        const form = new FormData();
        form.append('project', 'pwn'); form.append('version', '1');
        form.append('egg', new Blob([bytes]), 'x.egg');
        try {{
            await fetch(s + '/addversion.json', {{method: 'POST', body: form, mode: 'no-cors',
                                                   credentials: 'include'}});
            out.upload = 'sent';
        }} catch (e) {{ out.upload = 'failed'; }}
        try {{
            const r = await fetch(s + '/daemonstatus.json', {{credentials: 'include'}});
            out.read = await r.text();
        }} catch (e) {{ out.read = 'blocked'; }}
        try {{
            const r = await fetch(s + '/listjobs.json', {{credentials: 'omit'}});
            out.read_anon = r.status + ' ' + await r.text();
        }} catch (e) {{ out.read_anon = 'blocked'; }}
        return out;
    }}"""
    with SimServer(seed=1, size=6) as sim, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        # the operator logged in to scrapyd's console once: the browser has the credentials
        context = browser.new_context(http_credentials={"username": creds[0], "password": creds[1]})
        page = context.new_page()
        page.goto(f"{sim.url}/tag/seo")  # a page of another origin, on the same machine
        result: dict[str, Any] = page.evaluate(script)
        # a plain HTML form posted at scrapyd, as a page can without any script API
        page.set_content(
            f'<form id=f method=POST enctype="multipart/form-data" '
            f'action="{url}/addversion.json"><input name=project value=pwn>'
            "<input name=version value=2></form>"
        )
        with page.expect_navigation():
            page.evaluate("document.getElementById('f').submit()")
        form_answer = page.content()
        browser.close()
    # no Access-Control-Allow-Origin: not even scrapyd's refusals can be read
    assert result["read"] == "blocked" and result["read_anon"] == "blocked", result
    assert "refused" in form_answer, form_answer[:500]
    assert get(f"{url}/listprojects.json", creds)["projects"] == []
    assert not marker.exists()


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"host": "127.0.0.1:6800"}, False),
        ({"host": "localhost:6800"}, False),
        ({"host": "[::1]:6800"}, False),
        ({"host": "crawl.example.org"}, False),  # in allowed_hosts
        ({"host": "127.0.0.1:6800", "origin": "http://127.0.0.1:6800"}, False),
        ({"host": "127.0.0.1:6800", "sec-fetch-site": "none"}, False),
        ({"host": "127.0.0.1:6800", "sec-fetch-site": "same-origin"}, False),
        ({"host": "evil.example:6800"}, True),
        ({}, True),
        ({"host": "127.0.0.1:6800", "origin": "http://127.0.0.1:6801"}, True),
        ({"host": "127.0.0.1:6800", "origin": "null"}, True),
        ({"host": "127.0.0.1:6800", "sec-fetch-site": "same-site"}, True),
        ({"host": "127.0.0.1:6800", "sec-fetch-site": "cross-site"}, True),
    ],
)
def test_refusal_table(headers: dict[str, str], refused: bool) -> None:
    why = refusal(headers, frozenset({"crawl.example.org"}))
    assert (why is not None) is refused, why


def test_host_names() -> None:
    assert host_name("[::1]:6800") == "::1"
    assert host_name("Example.ORG:80") == "example.org"
    assert host_name("::1") == "::1"
    assert host_name("localhost") == "localhost"
