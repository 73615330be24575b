"""Every report, export and query filter is data, never SQL: hostile values in each one
give a clear answer (no rows, or a one-line refusal) and change nothing (real PostgreSQL)."""

from __future__ import annotations

import pytest

from harvest.cli import main
from harvest.db.connection import connect
from tests.cli.test_database import filled  # noqa: F401 (the fixture)
from tests.pg import rows

HOSTILE = [
    "x' OR '1'='1",
    "x'); DROP TABLE links; --",
    "target.example' --",
    "$$; DROP TABLE links; $$",
    "%",
    "_",
    "%target%",
    "\\",
    "*",
    "a\x00b",
    "x" * 100_000,
    "🙂' OR 1=1 --",
]
# command line -> the value goes where "{}" is
COMMANDS = [
    ["report", "--format", "json", "--tag", "{}"],
    ["report", "--format", "json", "--publication", "{}"],
    ["report", "--format", "json", "--domain", "{}"],
    ["export", "links", "--tag", "{}"],
    ["export", "links", "--publication", "{}"],
    ["export", "links", "--domain", "{}"],
    ["export", "posts", "--tag", "{}"],
    ["export", "domains", "--publication", "{}"],
    ["export", "graph", "--level", "author", "--domain", "{}"],
    ["backlinks", "{}"],
    ["backlinks", "{}", "--format", "json"],
]
DATES = ["2020-01-01'; DROP TABLE links; --", "now()", "1' OR '1'='1", "\x00"]
DATED = [
    ["report", "--format", "json", "--since", "{}"],
    ["export", "links", "--published-since", "{}"],
]


def _counts(dsn: str) -> tuple[int, int, int]:
    conn = connect(dsn)
    try:
        ((links, posts, domains),) = rows(
            conn,
            "SELECT (SELECT count(*) FROM links), (SELECT count(*) FROM posts), "
            "(SELECT count(*) FROM domains)",
        )
    finally:
        conn.close()
    return links, posts, domains


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refusing a value
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _each(
    dsn: str, command: list[str], values: list[str], capsys: pytest.CaptureFixture[str]
) -> list[tuple[str, int, str, str]]:
    """Run ``command`` with each value in its "{}"; the tables must be as they were."""
    before = _counts(dsn)
    ran = []
    for value in values:
        argv = [value if part == "{}" else part for part in command]
        code, out, err = _run(capsys, argv)
        assert "Traceback" not in err, (value[:40], err)
        ran.append((value[:40], code, out, err))
    assert _counts(dsn) == before
    return ran


CASES = [(c, HOSTILE) for c in COMMANDS] + [(c, DATES) for c in DATED]


@pytest.mark.parametrize(("command", "values"), CASES, ids=lambda c: " ".join(c[:3]))
def test_hostile_filter_values_match_nothing_and_change_nothing(
    filled: str,  # noqa: F811
    command: list[str],
    values: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for shown, code, out, err in _each(filled, command, values, capsys):
        if values is DATES:
            assert code == 2, (shown, err)  # not a date: refused by the option
        assert code in (0, 2), (shown, code, err[-500:])
        assert "syntax error" not in err.lower() and "psycopg2" not in err, (shown, err)
        # no value is a wildcard or a condition: nothing matches it
        assert "target.example/x" not in out, (shown, out[:500])
        if code == 2:
            assert err.count("\n") <= 2, (shown, err)  # one clear line
