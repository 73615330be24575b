"""Decoding bytes to text: BOM first, then the HTTP header's charset, then <meta>."""

import pytest

from harvest.medium.dom import decode

META_UTF8 = b"<html><head><meta charset='utf-8'></head><body>"


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        # the common case, a UTF-8 page, with and without a header charset
        (META_UTF8 + "café".encode(), None, "café"),
        (META_UTF8 + "café".encode(), "text/html; charset=UTF-8", "café"),
        (META_UTF8 + "café".encode(), "text/html", "café"),
        (b"<p>" + "café".encode(), None, "café"),
        # the header outranks the page's own declaration
        (META_UTF8 + "café".encode("latin-1"), "text/html; charset=iso-8859-1", "café"),
        (b"<meta charset='iso-8859-1'>" + "café".encode(), 'text/html; charset="utf-8"', "café"),
        # no header: <meta> decides
        (b"<meta charset='windows-1252'>" + "café".encode("cp1252"), "text/html", "café"),
        # a BOM outranks both
        ("\ufeffcafé".encode("utf-16-le"), "text/html; charset=iso-8859-1", "café"),
    ],
)
def test_decode_order(body: bytes, content_type: str | None, text: str) -> None:
    assert decode(body, content_type).endswith(text)


def test_utf8_said_but_not_true_is_repaired_not_raised() -> None:
    body = META_UTF8 + "café".encode("latin-1")
    assert decode(body, "text/html; charset=utf-8").endswith("caf\ufffd")
