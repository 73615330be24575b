"""Terminal tables: they fit the terminal, shares read as percentages, times stay whole."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from harvest.analysis import output

T = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
COLUMNS = ["target_url", "anchor_text", "first_seen", "nofollow_share"]
ROWS = [
    ("https://example.com/" + "a" * 90, "an anchor " * 12, T, 0.25),
    ("https://example.com/short", "short", T, 1.0),
]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def table(width: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(width))
    out = Terminal()
    output.write(out, "table", COLUMNS, ROWS)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [72, 80, 120])
def test_a_table_fits_the_terminal(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = table(width, monkeypatch)
    assert all(len(line) <= width for line in lines), lines
    assert "…" in lines[2]  # the long URL and anchor are cut, visibly
    assert "2026-03-04 05:06" in lines[2]  # times are never cut
    # a URL keeps its host and its end
    url = lines[2].split()[0]
    assert url.startswith("https://example.com") and url.endswith("aaa") and "…" in url
    assert lines[2].rstrip().endswith("25.0%") and lines[3].rstrip().endswith("100.0%")
    assert lines[-1] == "(2 rows)"


def test_too_narrow_a_terminal_leaves_out_the_last_columns_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = table(50, monkeypatch)
    assert lines[0].split() == COLUMNS[:2]
    assert all(len(line) <= 50 for line in lines[:-1]), lines
    assert lines[-1] == (
        "(2 rows; left out to fit: first_seen, nofollow_share (--format csv has every column))"
    )


def test_a_table_into_a_pipe_or_file_cuts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = io.StringIO()
    output.write(out, "table", COLUMNS, ROWS)
    text = out.getvalue()
    assert ROWS[0][0] in text and ROWS[0][1].strip() in text and "…" not in text


def test_csv_and_json_keep_full_values_and_fractions() -> None:
    out = io.StringIO()
    output.write(out, "csv", COLUMNS, ROWS)
    first = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert first["target_url"] == ROWS[0][0] and first["nofollow_share"] == "0.25"
    out = io.StringIO()
    output.write(out, "json", COLUMNS, ROWS)
    record = json.loads(out.getvalue().splitlines()[0])
    assert record["anchor_text"] == ROWS[0][1] and record["first_seen"] == T.isoformat()


def test_metric_rows_show_shares_as_percentages() -> None:
    assert output.share_rows([("links", 10), ("ugc_share", 0.2016), ("dofollow_share", None)]) == [
        ("links", 10),
        ("ugc_share", "20.2%"),
        ("dofollow_share", None),
    ]


@pytest.mark.parametrize(
    ("cell", "guarded"),
    [
        ("=SUM(A1:A9)", True),
        ("+cmd|' /C calc'!A0", True),
        ("@SUM(1)", True),
        ("\t=1+1", True),
        ("\r=1+1", True),
        (" =1+1", True),  # spreadsheets skip leading blanks before they look
        ("   @x", True),
        ("\u00a0=x", True),
        ("\u3000=x", True),
        ("＝SUM(A1)", True),  # full-width forms
        ("＋1", True),
        ("－1", True),
        ("＠x", True),
        (" ＝x", True),
        ("-3", False),  # numbers are data
        ("+1e5", False),
        (" -3", False),
        ("hello", False),
        (" hello", False),
        ("   ", False),
        ("", False),
        ("a=b", False),
    ],
)
def test_the_csv_guard(cell: str, guarded: bool) -> None:
    out = output.csv_safe(cell)
    assert out == ("'" + cell if guarded else cell)
    assert output.csv_cell(cell) == out
