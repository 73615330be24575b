"""harvest's URLs against the WHATWG URL standard's own tests (web-platform-tests).

Each case is read by harvest.links.normalize_url and compared with what the
standard says, with harvest's normalizations applied to the expected side (no
userinfo, default port or fragment, one percent-encoding, tracking parameters
out, the query sorted, no trailing dot on a name): none may raise, none may
differ in host, and every remaining difference is one of the intended kinds
named in INTENDED.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harvest import links

DATA = Path(__file__).parent / "url_data" / "urltestdata.json"
CASES: list[dict[str, Any]] = [c for c in json.loads(DATA.read_text()) if isinstance(c, dict)]

# Why harvest says "no web link" where the standard gives a URL.
INTENDED = {
    # An empty href, or one that is only a fragment, names the page it is on.
    "empty": "an empty href is the page itself, not an outbound link",
    "fragment": "a fragment-only href is a place on the page itself",
    # Hosts the standard accepts but no DNS name can be: "http://./", "http://../".
    "dns": "a host of empty labels names nothing a browser could reach",
}


def expected(case: dict[str, Any]) -> str | None:
    """The standard's result in harvest's form (None: no http(s) URL)."""
    if case.get("failure"):
        return None
    scheme = case["protocol"][:-1]
    if scheme not in ("http", "https"):
        return None
    host = case["hostname"]
    if not host.startswith("["):
        host = host.rstrip(".")
        if not host or ".." in host or host.startswith(".") or len(host) > 253:
            return None  # the "dns" difference: both sides say None
    port = int(case["port"]) if case["port"] else None
    return links._assemble(scheme, host, port, case["pathname"], case["search"][1:])


def difference(case: dict[str, Any]) -> str | None:
    """None when harvest agrees with the standard; else the kind of difference."""
    ours = links.classify_href(case["input"], case.get("base"))
    want = expected(case)
    if ours.url == want:
        if want is None and not case.get("failure") and case["protocol"] in ("http:", "https:"):
            return "dns"
        return None
    if ours.url is None and ours.reason in ("empty", "fragment"):
        return ours.reason
    return f"unexpected: {case['input']!r} on {case.get('base')!r}: {ours} vs {want!r}"


def test_every_case_is_read_without_an_exception() -> None:
    for case in CASES:
        links.classify_href(case["input"], case.get("base"))  # never raises


def test_harvest_agrees_with_the_standard_but_for_the_intended_differences() -> None:
    kinds = Counter(difference(case) for case in CASES)
    agreed = kinds.pop(None)
    unexpected = [k for k in kinds if k is not None and k not in INTENDED]
    assert not unexpected, "\n".join(unexpected)
    # The suite is the March 2025 one: most of it agrees outright.
    assert agreed > 850 and sum(kinds.values()) < 20, kinds


@pytest.mark.parametrize(
    ("href", "base", "want"),
    [
        # what the issue named: how a browser reads what people type
        (r"https:\\example.com\x", "https://medium.com/@a/p-0123456789ab", "https://example.com/x"),
        ("http://example.com/a/../b", None, "http://example.com/b"),
        ("///example.com/x", "https://medium.com/@a/p-0123456789ab", "https://example.com/x"),
        ("http://i❤.ws/", None, "http://xn--i-7iq.ws/"),
        ("http://256.256.256.256/", None, None),
        ("http://0x7f.1/", None, "http://127.0.0.1/"),
        ("http://example.com/%2e%2E/x", None, "http://example.com/x"),
        ("http://EXAMPLE.com./?b=2&a=1&utm_source=x", None, "http://example.com/?a=1&b=2"),
    ],
)
def test_hrefs_land_where_browsers_land(href: str, base: str | None, want: str | None) -> None:
    assert links.normalize_url(href, base) == want


_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=8)
_SEGMENT = st.text(alphabet="abcAZ09-._~!$&'()*+,;=:@%é |^`{}", max_size=8)


@given(
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    labels=st.lists(_LABEL, min_size=1, max_size=4),
    port=st.one_of(st.none(), st.integers(0, 70000)),
    segments=st.lists(_SEGMENT, max_size=4),
    query=st.one_of(st.none(), st.text(alphabet="ab=&'%?é /", max_size=10)),
)
def test_the_fast_path_gives_what_the_standard_parser_gives(
    scheme: str, labels: list[str], port: int | None, segments: list[str], query: str | None
) -> None:
    url = f"{scheme}://{'.'.join(labels)}" + ("" if port is None else f":{port}")
    url += "".join("/" + s for s in segments) + (f"?{query}" if query is not None else "")
    url = url.strip(links._C0_AND_SPACE)  # as classify_href has it before either path
    fast = links._fast(url)
    if fast is not None:
        assert fast == links._whatwg(url, None), url


@given(
    base=st.sampled_from(
        ["https://medium.com/@a/p-0123456789ab", "http://pub.example:8080/x/y?b=1", "https://a.b/"]
    ),
    double=st.booleans(),
    labels=st.lists(_LABEL, min_size=1, max_size=3),
    segments=st.lists(_SEGMENT, max_size=4),
    query=st.one_of(st.none(), st.text(alphabet="ab=&'%?é /", max_size=10)),
)
def test_the_fast_join_gives_what_the_standard_parser_gives(
    base: str, double: bool, labels: list[str], segments: list[str], query: str | None
) -> None:
    href = ("//" + ".".join(labels)) if double else ""
    href += "".join("/" + s for s in segments) or "/"
    href += f"?{query}" if query is not None else ""
    href = href.strip(links._C0_AND_SPACE)
    fast = links._fast_relative(href, base)
    if fast is not None:
        assert fast == links._whatwg(href, base), href
