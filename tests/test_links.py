"""URL normalization, redirect unwrapping and rel tokens: tables and properties."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harvest.links import (
    classify_href,
    host_of,
    is_medium_host,
    is_same_site,
    normalize_url,
    parse_rel,
    registered_domain,
    robots_tokens,
    unwrap_medium_redirect,
)

BASE = "https://medium.com/@someone/a-post-0123456789ab"


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        # scheme and host case
        ("HTTP://Example.COM/Path", None, "http://example.com/Path"),
        # default ports dropped, others kept
        ("http://example.com:80/a", None, "http://example.com/a"),
        ("https://example.com:443/a", None, "https://example.com/a"),
        ("https://example.com:8443/a", None, "https://example.com:8443/a"),
        # fragments dropped, empty path becomes /
        ("https://example.com#top", None, "https://example.com/"),
        ("https://example.com/a#b", None, "https://example.com/a"),
        # IDNA to punycode
        ("https://Bücher.example/ä", None, "https://xn--bcher-kva.example/%C3%A4"),
        # trailing dot of a fully qualified host
        ("https://example.com./x", None, "https://example.com/x"),
        # userinfo is not part of the target
        ("https://user:pw@example.com/x", None, "https://example.com/x"),
        # relative hrefs against the page
        ("/about", BASE, "https://medium.com/about"),
        ("other", "https://example.com/dir/page", "https://example.com/dir/other"),
        ("../up", "https://example.com/a/b/c", "https://example.com/a/up"),
        ("//cdn.example.com/x.js", BASE, "https://cdn.example.com/x.js"),
        ("?q=1", "https://example.com/p", "https://example.com/p?q=1"),
        # protocol-relative without a base defaults to http
        ("//example.com/x", None, "http://example.com/x"),
        # tracking parameters removed, the rest sorted
        ("https://e.com/?utm_source=x&b=2&a=1&fbclid=z", None, "https://e.com/?a=1&b=2"),
        ("https://e.com/?gclid=1&mc_cid=2&mc_eid=3&UTM_Medium=4", None, "https://e.com/"),
        ("https://e.com/?_hsenc=1&msclkid=2&igshid=3&keep=1", None, "https://e.com/?keep=1"),
        # Medium's source= on Medium hosts, and on outbound links where Medium appended it
        (
            "https://medium.com/p/0123456789ab?source=rss----1",
            None,
            "https://medium.com/p/0123456789ab",
        ),
        (
            "http://www.oreilly.com/tim/wtf-book.html?cmp=ex-business&source=post_page-----e52ab9515573----",
            None,
            "http://www.oreilly.com/tim/wtf-book.html?cmp=ex-business",
        ),
        # a site's own "source" parameter that is not Medium's stays
        (
            "https://shop.example/?source=Newsletter%20May",
            None,
            "https://shop.example/?source=Newsletter%20May",
        ),
        # percent-escapes: case normalized, existing escapes kept, spaces encoded
        ("https://e.com/a%2fb", None, "https://e.com/a%2Fb"),
        ("https://e.com/a b", None, "https://e.com/a%20b"),
        ("https://e.com/100%", None, "https://e.com/100%25"),
        # blank values and repeated keys are kept
        ("https://e.com/?a=&a=1", None, "https://e.com/?a=&a=1"),
        # IPv6 literals
        ("http://[::1]:8080/x", None, "http://[::1]:8080/x"),
        ("http://[2001:DB8::1]/", None, "http://[2001:db8::1]/"),
        # <base> style resolution with whitespace around the href
        ("  https://e.com/x \n", None, "https://e.com/x"),
        ("https://e.com/a\tb", None, "https://e.com/ab"),
    ],
)
def test_normalize_table(raw: str, base: str | None, expected: str) -> None:
    assert normalize_url(raw, base) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("mailto:someone@example.com", "mailto"),
        ("MAILTO:x@y", "mailto"),
        ("tel:+15551234", "tel"),
        ("javascript:void(0)", "javascript"),
        ("  JavaScript:alert(1)", "javascript"),
        ("data:text/html;base64,AAAA", "data"),
        ("#section", "fragment"),
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://example.com/file", "scheme"),
        ("http://[::1", "invalid"),
        ("http://exa mple.com", "invalid"),
        ("http://", "invalid"),
        ("http://example.com:99999/", "invalid"),
        ("http://example.com:abc/", "invalid"),
        ("https://a..b/", "invalid"),
        ("relative/only", "relative"),
    ],
)
def test_non_web_hrefs_are_classified(raw: str, reason: str) -> None:
    href = classify_href(raw)
    assert href.url is None
    assert href.reason == reason


def test_non_string_input_is_invalid_not_an_error() -> None:
    assert classify_href(None).reason == "invalid"
    assert normalize_url(b"http://e.com") is None


@pytest.mark.parametrize(
    ("wrapped", "expected"),
    [
        (
            "https://medium.com/r/?url=https%3A%2F%2Fexample.com%2Fpath%3Fa%3D1%26utm_source%3Dx",
            "https://example.com/path?a=1",
        ),
        ("https://medium.com/r?url=http%3A%2F%2Fexample.org", "http://example.org/"),
        (
            "https://medium.com/m/global-identity?redirectUrl=https%3A%2F%2Fbetterhumans.pub%2Fpost-0123456789ab",
            "https://betterhumans.pub/post-0123456789ab",
        ),
        (
            "https://medium.com/m/global-identity-2?redirectUrl=https%3A%2F%2Fpub.example%2Fx",
            "https://pub.example/x",
        ),
        # nested wrappers
        (
            "https://medium.com/r/?url=https%3A%2F%2Fmedium.com%2Fr%2F%3Furl%3Dhttps%253A%252F%252Fdeep.example%252F",
            "https://deep.example/",
        ),
        # the sign-in redirect is chrome, not a wrapper: left alone
        (
            "https://medium.com/m/signin?redirect=https%3A%2F%2Fexample.com",
            "https://medium.com/m/signin?redirect=https%3A%2F%2Fexample.com",
        ),
        # a /r/ path on some other site is that site's own URL
        (
            "https://example.com/r/?url=https%3A%2F%2Fx.example",
            "https://example.com/r/?url=https%3A%2F%2Fx.example",
        ),
        # the wrapper path without its slash
        (
            "https://medium.com/r?url=https%3A%2F%2Fexample.com%2F",
            "https://example.com/",
        ),
        # Medium addresses with "/r" or "global-identity" elsewhere are not wrappers
        (
            "https://medium.com/@writer/reading-list?from=/r/",
            "https://medium.com/@writer/reading-list?from=/r/",
        ),
        (
            "https://medium.com/p/0123456789ab?next=/m/global-identity",
            "https://medium.com/p/0123456789ab?next=/m/global-identity",
        ),
        # a wrapper around a non-web URL stays as it is
        (
            "https://medium.com/r/?url=javascript%3Aalert(1)",
            "https://medium.com/r/?url=javascript%3Aalert(1)",
        ),
    ],
)
def test_unwrap_medium_redirect(wrapped: str, expected: str) -> None:
    assert unwrap_medium_redirect(normalize_url(wrapped) or wrapped) == expected


def test_unwrap_on_the_page_own_host() -> None:
    url = normalize_url(
        "/r/?url=https%3A%2F%2Fexample.com%2F", "https://pub.example/post-0123456789ab"
    )
    assert url is not None
    assert unwrap_medium_redirect(url) == url  # unknown host: not opened
    assert unwrap_medium_redirect(url, frozenset({"pub.example"})) == "https://example.com/"


@pytest.mark.parametrize(
    ("rel", "tokens"),
    [
        ("nofollow", ("nofollow",)),
        ("noopener nofollow", ("noopener", "nofollow")),
        ("nofollow noopener nofollow noopener", ("nofollow", "noopener")),
        ("noopener ugc nofollow", ("noopener", "ugc", "nofollow")),
        ("NoFollow,UGC", ("nofollow", "ugc")),
        (" sponsored\tnofollow ,, ", ("sponsored", "nofollow")),
        ("", ()),
        (None, ()),
    ],
)
def test_parse_rel(rel: str | None, tokens: tuple[str, ...]) -> None:
    assert parse_rel(rel) == tokens


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("en.wikipedia.org", "wikipedia.org"),
        ("pippinlee.github.io", "pippinlee.github.io"),  # private suffix: each user is a site
        ("a.b.c.example.com", "example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("co.uk", "co.uk"),
        ("203.0.113.9", "203.0.113.9"),
        ("[2001:db8::1]", "[2001:db8::1]"),
        # Ends in a digit without being an address: still a name.
        ("cdn.host1.example2", "host1.example2"),
        ("web3.example.com", "example.com"),
        (None, None),
    ],
)
def test_registered_domain(host: str | None, domain: str | None) -> None:
    assert registered_domain(host) == domain


@pytest.mark.parametrize(
    ("host", "medium"),
    [
        ("medium.com", True),
        ("ev.medium.com", True),
        ("miro.medium.com", True),
        ("notmedium.com", False),
        ("medium.com.evil.example", False),
        ("medium.engineering", False),
        (None, False),
    ],
)
def test_is_medium_host(host: str | None, medium: bool) -> None:
    assert is_medium_host(host) is medium


def test_same_site_and_host_of() -> None:
    assert is_same_site("www.wtfeconomy.com", "wtfeconomy.com")
    assert is_same_site("wtfeconomy.com", "WTFeconomy.com.")
    assert not is_same_site("notwtfeconomy.com", "wtfeconomy.com")
    assert host_of("https://e.com:8080/x") == "e.com"
    assert host_of("http://[::1]/") == "[::1]"
    assert host_of(None) is None


# -- properties ---------------------------------------------------------------------

url_parts = st.builds(
    lambda scheme, host, port, path, query, frag: f"{scheme}://{host}{port}{path}{query}{frag}",
    st.sampled_from(["http", "https", "HTTP", "hTTps"]),
    st.one_of(
        st.from_regex(r"[A-Za-z0-9\-]{1,12}(\.[A-Za-z0-9\-]{1,12}){0,3}", fullmatch=True),
        st.sampled_from(
            ["Bücher.example", "例え.テスト", "[::1]", "127.0.0.1", "xn--bcher-kva.example"]
        ),
    ),
    st.sampled_from(["", ":80", ":443", ":8080", ":0"]),
    st.text(max_size=30),
    st.one_of(st.just(""), st.text(max_size=30).map(lambda q: "?" + q)),
    st.one_of(st.just(""), st.text(max_size=10).map(lambda f: "#" + f)),
)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=200), url_parts))
@example("http://[::1")
@example("http://exa mple.com")
@example("https://e.com/%zz%")
@example("https://e.com/?a=%ZZ&b=\udcff")
@example("http://\u0000/")
def test_normalize_never_raises_and_is_idempotent(raw: str) -> None:
    once = normalize_url(raw)
    if once is not None:
        assert once.startswith(("http://", "https://"))
        assert "#" not in once
        assert normalize_url(once) == once


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80), st.one_of(st.none(), st.text(max_size=80), url_parts))
def test_resolution_never_raises(raw: str, base: str | None) -> None:
    out = normalize_url(raw, base)
    if out is not None:
        assert normalize_url(out) == out


@settings(max_examples=500, deadline=None)
@given(url_parts)
def test_unwrap_is_total_and_yields_normalized_urls(raw: str) -> None:
    norm = normalize_url(raw)
    if norm is None:
        return
    wrapped = normalize_url(
        "https://medium.com/r/?url=" + raw.replace("%", "%25").replace("&", "%26")
    )
    assert wrapped is not None
    out = unwrap_medium_redirect(wrapped)
    assert normalize_url(out) == out


@given(st.one_of(st.none(), st.text(max_size=60)))
def test_parse_rel_is_total_and_canonical(rel: str | None) -> None:
    tokens = parse_rel(rel)
    assert len(tokens) == len(set(tokens))
    assert all(t == t.lower() and t and not any(c.isspace() or c == "," for c in t) for t in tokens)
    assert parse_rel(" ".join(tokens)) == tokens


def _host_by_urlsplit(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return f"[{host}]" if host and ":" in host else host


def _check_host_of(raw: str) -> None:
    # host_of reads plain URLs without urlsplit: on any text, and on what
    # normalize_url makes of it, it must say what urlsplit says.
    for url in (raw, normalize_url(raw)):
        if url:
            assert host_of(url) == _host_by_urlsplit(url)


@pytest.mark.parametrize(
    "raw",
    [
        "http://e.com:/x",
        "http://e.com:99999/",
        "http://u@e.com/",
        "http://e.com?q",
        "https://A.com/",
    ],
)
def test_host_of_on_edge_urls(raw: str) -> None:
    _check_host_of(raw)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=60), url_parts))
def test_host_of_agrees_with_urlsplit(raw: str) -> None:
    _check_host_of(raw)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("noindex, nofollow", ["noindex", "nofollow"]),
        ("index,follow,max-image-preview:large", ["index", "follow", "max-image-preview:large"]),
        ("NOINDEX,  NoFollow", ["noindex", "nofollow"]),
        ("none", ["none"]),
        ("googlebot: noindex", ["noindex"]),
        ("otherbot: noindex, nofollow", []),  # another crawler's, up to the next name
        ("bingbot: noarchive, googlebot: nofollow", ["nofollow"]),
        ("noindex, googlebot: nofollow, otherbot: noarchive", ["noindex", "nofollow"]),
        ("unavailable_after: 25 Jun 2030 15:00:00 PST", ["unavailable_after: 25 jun 2030 15:00:00 pst"]),
        ("", []),
        (None, []),
        ("noindex,noindex", ["noindex"]),
    ],
)  # fmt: skip
def test_robots_tokens(value: object, want: list[str]) -> None:
    assert robots_tokens(value) == want
