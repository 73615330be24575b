"""CSV written by the server (COPY) is the CSV harvest's own writer writes: the
same bytes for every export and for backlinks --all, hostile cells included;
and the formula guard answers the same in PostgreSQL as in Python."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvest import cells
from harvest.analysis.exports import write_rows
from harvest.analysis.output import csv_safe
from harvest.db import export_rows, queries
from harvest.db.report_numbers import Filters
from harvest.db.store import write_batch
from tests.factories import T0, make_link, make_page, months_world

HOSTILE = [
    '=HYPERLINK("http://x")',
    "+1+1",
    "-3",
    " @SUM(A1)",
    "\t=1",
    "＝x",
    'a "quoted", comma',
    "two\nlines",
    "",
    "   ",
    "\\.",
    "日本語 ✓",
]


@pytest.fixture
def world(db: Any) -> Any:
    months_world(db, 3, posts=20)
    links = [
        make_link(f"https://github.com/h/{i}", i, text=text, rel=("nofollow", "=bad"))
        for i, text in enumerate(HOSTILE)
    ]
    write_batch(db, [make_page("0badce11a0a0", links, T0 + timedelta(days=5))])
    return db


def records(text: str) -> int:
    return len(list(csv.reader(io.StringIO(text)))) - 1


def python_csv(db: Any, what: str, filters: Filters) -> str:
    columns, batches = export_rows.rows(db, what, filters)
    out = io.StringIO()
    write_rows(columns, batches, "csv", out)
    db.rollback()
    return out.getvalue()


@pytest.mark.parametrize("what", list(export_rows.QUERIES))
@pytest.mark.parametrize("filters", [Filters(), Filters(domain="github.com", rel="nofollow")])
def test_the_server_writes_the_csv_harvest_writes(world: Any, what: str, filters: Filters) -> None:
    server = io.StringIO()
    n = export_rows.copy_export(world, what, filters, server)
    world.rollback()
    mine = python_csv(world, what, filters)
    assert server.getvalue() == mine
    assert n == records(mine) > 0


def test_backlinks_all_as_csv_is_the_rows_backlinks_gives(world: Any) -> None:
    server = io.StringIO()
    page = queries.backlinks(world, "github.com", limit=None, csv_to=server)
    world.rollback()
    whole = queries.backlinks(world, "github.com", limit=None)
    out = io.StringIO()
    write_rows(whole.columns, iter([list(whole.rows)]), "csv", out)
    world.rollback()
    assert server.getvalue() == out.getvalue()
    assert page.written == records(out.getvalue()) > len(HOSTILE)
    assert "'=HYPERLINK" in server.getvalue() and ",-3," in server.getvalue()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(alphabet=st.sampled_from(" \t\r\n\u00a0\u3000=+-@|＝＋－＠.eE0123456789ax"), max_size=8)
)
def test_the_guard_is_one_rule_in_python_and_postgresql(db: Any, cell: str) -> None:
    with db.cursor() as cur:
        cur.execute(
            "SELECT %s ~ %s AND %s !~ %s",
            (cell, cells.FORMULA, cell, cells.NUMBER),
        )
        guarded = cur.fetchone()[0] and cell != ""
    db.rollback()
    assert guarded == (csv_safe(cell) != cell), repr(cell)


def python_jsonl(db: Any, what: str, filters: Filters) -> list[dict[str, Any]]:
    columns, batches = export_rows.rows(db, what, filters)
    out = io.StringIO()
    write_rows(columns, batches, "jsonl", out)
    db.rollback()
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("what", list(export_rows.QUERIES))
def test_the_server_writes_the_json_lines_harvest_writes(world: Any, what: str) -> None:
    server = io.StringIO()
    n = export_rows.copy_export(world, what, Filters(), server, "jsonl")
    world.rollback()
    lines = server.getvalue().splitlines()
    assert n == len(lines) > 0
    # the same objects (JSON's own spelling may differ: 0.2500 and 0.25 are one number)
    assert [json.loads(line) for line in lines] == python_jsonl(world, what, Filters())
    if what == "links":
        anchors = {json.loads(line)["anchor_text"] for line in lines}
        assert set(HOSTILE) <= anchors  # quotes, line breaks and backslashes survive


def test_backlinks_all_as_json_lines_are_the_rows_backlinks_gives(world: Any) -> None:
    server = io.StringIO()
    page = queries.backlinks(world, "github.com", limit=None, csv_to=server, fmt="jsonl")
    world.rollback()
    whole = queries.backlinks(world, "github.com", limit=None)
    out = io.StringIO()
    write_rows(whole.columns, iter([list(whole.rows)]), "jsonl", out)
    world.rollback()
    mine = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [json.loads(line) for line in server.getvalue().splitlines()] == mine
    assert page.written == len(mine)
