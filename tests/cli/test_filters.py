"""Filters that name nothing in the harvest are one line, exit 2, with the nearest
name it has; names it has whose links the other filters leave out are an empty
answer said in one line, exit 0."""

from __future__ import annotations

import pytest

from harvest.cli import main
from harvest.db.connection import connect
from tests.db.test_report_summaries import random_world


@pytest.fixture
def world(db_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    conn = connect(db_dsn)
    random_world(conn, 4, posts=30)
    conn.close()
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    return db_dsn


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("backlinks", "not a domain!!"), "no domain 'not a domain!!' in this harvest"),
        (
            ("backlinks", "githib.com"),
            "no domain 'githib.com' in this harvest; the nearest it has: github.com",
        ),
        (
            ("report", "--tag", "sel", "-o", "-"),
            "no tag 'sel' in this harvest; the nearest it has: seo",
        ),
        (("report", "--publication", "field-notes", "-o", "-"), "no publication 'field-notes'"),
        (("export", "links", "--domain", "gthub.com"), "the nearest it has: github.com"),
        (
            ("export", "posts", "--tag", "Machine Learning"),
            "no tag 'machine-learning' in this harvest",
        ),
    ],
)
def test_a_name_the_harvest_does_not_have_is_one_line_and_exit_2(
    world: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], says: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and says in err, err
    assert out == ""


def test_a_tag_is_slugged_before_it_is_looked_up(
    world: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "report", "--tag", "#SEO", "--format", "json", "-o", "-")
    assert code == 0 and '"tag": "seo"' in out


def test_a_name_it_has_whose_links_are_filtered_away_is_an_empty_answer(
    world: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "report", "--domain", "github.com", "--since", "2031-01-01", "-o", "-"
    )
    assert code == 0 and "No harvested links to github.com match." in out
    assert "no harvested link matches these filters" in err
    code, out, err = run(
        capsys, "export", "links", "--domain", "github.com", "--since", "2031-01-01"
    )
    assert code == 0 and err.strip().endswith("0 rows: no harvested link matches these filters")
