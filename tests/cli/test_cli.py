"""The `harvest extract` contract other tools rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harvest.cli import main

PAGES = Path(__file__).parents[1] / "medium" / "pages"
ARTICLE = PAGES / "article_2022_jakobulbrich_flag-attributes_postlight.html"

ARTICLE_KEYS = {
    "type",
    "post_id",
    "url",
    "canonical_url",
    "author",
    "publication",
    "title",
    "published_at",
    "tags",
}
LINK_KEYS = {
    "type",
    "post_id",
    "target_url",
    "target_url_raw",
    "domain",
    "host",
    "anchor_text",
    "kind",
    "rel",
    "nofollow",
    "ugc",
    "sponsored",
    "location",
    "position",
}
POST_KEYS = {"type", "post_id", "url"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_article_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, records, err = run(capsys, "extract", str(ARTICLE))
    assert code == 0
    assert err == ""
    assert [r["type"] for r in records] == ["article", "link", "link"]
    assert ARTICLE_KEYS <= records[0].keys()
    for link in records[1:]:
        assert LINK_KEYS <= link.keys()
        assert link["rel"] == ["noopener", "ugc", "nofollow"]
        assert (link["nofollow"], link["ugc"], link["sponsored"], link["location"]) == (
            True,
            True,
            False,
            "body",
        )


def test_url_option_sets_the_page_address(capsys: pytest.CaptureFixture[str]) -> None:
    topic = PAGES / "topic_2019_popular_raw-server-html_light-bringer.html"
    _, records, _ = run(capsys, "extract", str(topic), "--url", "https://medium.com/topic/popular")
    assert {r["type"] for r in records} == {"post"}
    assert all(POST_KEYS <= r.keys() and "?" not in r["url"] for r in records)
    assert len(records) == 10


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty page"),
        (bytes(range(256)) * 10, "binary content"),
        (b"<html><body><p>nothing</p></body></html>", "not a Medium page"),
    ],
)
def test_garbage_exits_zero_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, reason: str
) -> None:
    page = tmp_path / "page"
    page.write_bytes(content)
    code, records, err = run(capsys, "extract", str(page))
    assert code == 0
    assert records == []
    assert "yields nothing" in err and reason in err


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, records, err = run(capsys, "extract", "/nonexistent/page.html")
    assert code == 2 and records == [] and "cannot read" in err


def test_console_script_and_stdin() -> None:
    # the installed entry point, reading the page from standard input
    proc = subprocess.run(
        [sys.executable, "-m", "harvest", "extract", "-", "-v"],
        input=ARTICLE.read_bytes(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 3
    assert "article, 3 records" in proc.stderr.decode()
