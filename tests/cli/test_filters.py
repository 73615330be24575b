"""Filters that name nothing in the harvest are one line, exit 2, with the nearest
name it has; names it has whose links the other filters leave out are an empty
answer said in one line, exit 0."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harvest.cli import main
from harvest.db.connection import connect
from tests.factories import random_world
from tests.pg import live_anchor_counts, rows


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


@pytest.mark.parametrize(
    ("by", "key", "sql_key"),
    [
        ("anchors", "anchor_text", "coalesce(l.anchor_text, '')"),
        ("targets", "target_url", "l.target_url"),
        ("authors", "author", "a.username"),
        ("publications", "publication", "pub.key"),
    ],
)
def test_backlinks_by_a_grouping_count_what_a_scan_counts(
    world: str, capsys: pytest.CaptureFixture[str], by: str, key: str, sql_key: str
) -> None:
    conn = connect(world)
    want = rows(
        conn,
        f"""SELECT name, n FROM (SELECT {sql_key} AS name, count(*) AS n
            FROM links l JOIN posts p USING (post_id)
            JOIN authors a ON a.author_id = p.author_id
            LEFT JOIN publications pub ON pub.publication_id = p.publication_id
            JOIN domains d USING (domain_id)
            WHERE d.domain = 'github.com' AND l.lost_at IS NULL AND l.ugc
              AND ({sql_key}) IS NOT NULL GROUP BY 1) g
            ORDER BY n DESC, name COLLATE "C" LIMIT 3""",
    )
    conn.close()
    code, out, _ = run(
        capsys, "backlinks", "github.com", "--by", by, "--rel", "ugc", "--limit", "3",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    got = [json.loads(line) for line in out.splitlines()]
    assert [(g[key], g["links"]) for g in got] == want


def test_backlinks_by_month_adds_up_and_top_domains_ranks_by_what_is_asked(
    world: str, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = connect(world)
    total = rows(
        conn,
        "SELECT count(*) FROM links JOIN domains USING (domain_id) WHERE domain = 'github.com'",
    )[0][0]
    by_posts = rows(
        conn,
        "SELECT d.domain FROM links l JOIN domains d USING (domain_id) WHERE l.lost_at IS NULL "
        "GROUP BY 1 ORDER BY count(DISTINCT l.post_id) DESC, min(d.domain_id) LIMIT 1",
    )[0][0]
    conn.close()
    code, out, _ = run(
        capsys, "backlinks", "github.com", "--by", "months", "--include-lost", "--format", "json"
    )
    assert code == 0
    assert sum(json.loads(line)["new_links"] for line in out.splitlines()) == total
    code, out, _ = run(capsys, "top-domains", "--sort", "posts", "--limit", "1", "--format", "json")
    assert code == 0 and json.loads(out)["domain"] == by_posts


def test_intersect_lists_who_links_to_the_competitors_and_not_to_you(
    db_dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from harvest.db.store import write_batch
    from tests.factories import T0, make_link, make_page

    def page(n: int, author: str, *urls: str, rel: tuple[str, ...] = ("nofollow",)) -> Any:
        links = [make_link(u, i, rel=rel) for i, u in enumerate(urls)]
        return make_page(f"{n:012x}", links, T0 + timedelta(hours=n), author=author)

    conn = connect(db_dsn)
    write_batch(
        conn,
        [
            page(1, "ann", "https://a.example/1", "https://b.example/1"),
            page(2, "ann", "https://a.example/2", rel=()),
            page(3, "bob", "https://a.example/3", "https://mine.example/"),
            page(4, "cyd", "https://b.example/2", rel=()),
            page(5, "dee", "https://c.example/"),
        ],
    )
    conn.close()
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    code, out, err = run(
        capsys, "intersect", "a.example", "b.example", "--not", "mine.example", "--format", "json"
    )
    assert code == 0, err
    got = [json.loads(line) for line in out.splitlines()]
    assert [
        (r["author"], r["domains"], r["links"], r["dofollow_links"], r["posts"]) for r in got
    ] == [
        ("ann", 2, 3, 1, 2),
        ("cyd", 1, 1, 1, 1),
    ]
    assert got[0]["linked_domains"] == ["a.example", "b.example"]
    assert got[0]["dofollow_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert "2 authors link to a.example, b.example and not to mine.example" in err
    code, _, err = run(capsys, "intersect", "a.example", "--not", "mine.exampel")
    assert code == 2 and "the nearest it has: mine.example" in err
    code, _, err = run(capsys, "intersect", "blog.a.example")
    assert code == 2 and "not hosts: blog.a.example" in err


def test_a_domain_s_report_has_its_groupings_as_a_scan_counts_them(
    world: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from harvest import vocabulary
    from tests.test_vocabulary import keys

    anchors = live_anchor_counts(world, "github.com", "nofollow")
    code, out, _ = run(
        capsys, "report", "--domain", "github.com", "--rel", "nofollow", "--groupings",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    numbers = json.loads(out)
    got = {g["anchor_text"]: g["links"] for g in numbers["groupings"]["anchors"]}
    assert got == anchors
    assert sum(m["new_links"] for m in numbers["groupings"]["months"]) > 0
    assert set(keys(numbers)) <= set(vocabulary.FIELDS)
    code, page, _ = run(capsys, "report", "--domain", "github.com", "--groupings", "-o", "-")
    for title in ("Anchor texts", "Target pages", "Referring authors", "New and lost links"):
        assert f"<h2>{title}" in page
    # without --groupings a domain's report reads only the summaries
    code, page, _ = run(capsys, "report", "--domain", "github.com", "-o", "-")
    assert "<h2>Anchor texts" not in page


def test_a_report_by_domain_or_tag_does_not_load_the_public_suffix_list(world: str) -> None:
    import subprocess
    import sys

    # 0.2 s of a command's start: only commands that read hosts or URLs pay it
    code = (
        "import sys; from harvest.cli import main; "
        "assert main(['report', '--domain', 'github.com', '--tag', 'SEO', '-o', '/dev/null']) == 0; "
        "assert 'publicsuffixlist' not in sys.modules, 'loaded'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
