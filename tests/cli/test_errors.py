"""Expected errors: one line on stderr, a non-zero status, never a traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harvest.cli import main
from harvest.crawl.args import CrawlArgs, SpiderArgumentError


def refused_dsn() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://harvest:s3cret@127.0.0.1:{port}/harvest"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's way out
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


COMMANDS = [
    ("stats",),
    ("backlinks", "example.com"),
    ("top-domains",),
    ("report",),
    ("export", "links"),
    ("crawl-report", "last"),
    ("db", "migrate"),
    ("db", "renormalize", "--dry-run"),
    ("db", "grant-readonly", "reader"),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_an_unreachable_database_is_one_line(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", refused_dsn())
    code, err = run(capsys, *argv)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    name = " ".join(argv[:2] if argv[0] == "db" else argv[:1])
    assert lines[0].startswith(f"harvest {name}: cannot reach the database at ")
    assert "s3cret" not in err and "Connection refused" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("crawl-report", "abc"), "a run id is a whole number from 1, or last, not 'abc'"),
        (("crawl-report", "0"), "a run id is a whole number from 1, or last, not '0'"),
        (("backlinks", ""), "give a domain, host or URL to look up"),
        (("backlinks", " . "), "give a domain, host or URL to look up"),
        (("stats", "--format", "xml"), "invalid choice: 'xml'"),
        (("db",), "the following arguments are required: ACTION"),
    ],
)
def test_wrong_arguments_are_one_line(
    argv: tuple[str, ...], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert says in err and "--help" in err


@pytest.mark.parametrize("command", [("report", "-o"), ("export", "links", "-o")])
def test_an_output_file_in_a_missing_folder_is_refused_before_any_query(
    command: tuple[str, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", refused_dsn())  # never reached
    target = tmp_path / "missing" / "out.html"
    code, err = run(capsys, *command, str(target))
    assert code == 2
    assert err.count("\n") == 1
    assert f"no folder '{target.parent}'" in err
    code, err = run(capsys, *command, str(tmp_path))
    assert code == 2 and "is a folder, not a file" in err


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2024-13-01..2024-12-31", "month must be in 1..12"),
        ("2024-02-30", "day is out of range for month"),
        ("2024-1-1", "dates are YYYY-MM-DD"),
        ("last week", "dates are YYYY-MM-DD"),
    ],
)
def test_spider_dates_say_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(SpiderArgumentError, match=says):
        CrawlArgs.parse({"tags": "seo", "sitemap": value})


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_database_url_that_cannot_be_used_is_one_line(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "garbage://x")
    code, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "HARVEST_DATABASE_URL must be a postgresql://" in lines[0]
    assert "(from environment DATABASE_URL)" in lines[0]


def test_settings_masks_passwords_and_nothing_else(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://harvest:s3cret@db.example/harvest")
    monkeypatch.setenv("HARVEST_USER_AGENT", "harvest/0.1 (+https://example.org/bot)")
    assert main(["settings", "--format", "json"]) == 0
    out = capsys.readouterr().out
    values = {r["setting"]: r["value"] for r in map(json.loads, out.splitlines())}
    assert values["HARVEST_DATABASE_URL"] == "postgresql://harvest:***@db.example/harvest"
    assert values["HARVEST_USER_AGENT"] == "harvest/0.1 (+https://example.org/bot)"
    assert "s3cret" not in out


def test_the_simulator_explains_itself() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harvest.sim", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for words in ("--seed", "which world", "--size", "MEDIUM_BASE_URL", "/_sim/manifest.json"):
        assert words in done.stdout
