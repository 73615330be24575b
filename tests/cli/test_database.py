"""`harvest db ...`, `backlinks`, `top-domains` and `stats` against a real database."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from harvest.cli import main
from harvest.db.connection import connect
from harvest.db.migrate import available as _available
from harvest.db.store import write_batch
from harvest.items import ArticlePage
from tests.factories import T0, make_link, make_page

LATEST = max(m.version for m in _available())


@pytest.fixture
def filled(db_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    conn = connect(db_dsn)
    write_batch(
        conn,
        [
            make_page(
                "0123456789ab",
                [
                    make_link(
                        "https://twitter.com/a",
                        0,
                        rel=("noopener", "ugc", "nofollow"),
                        text="=SUM(A1:A9)",
                    ),
                    make_link("https://blog.target.example/post", 1, rel=(), text="a dofollow one"),
                    make_link("https://target.example/", 2, rel=("nofollow",), text="home"),
                ],
                T0,
            ),
            make_page(
                "abcdef012345",
                [make_link("https://target.example/x", 0, rel=("nofollow",))],
                T0 + timedelta(days=30),
                author="other",
            ),
        ],
    )
    conn.close()
    return db_dsn


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_backlinks_formats_and_filters(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "backlinks", "target.example", "--format", "json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["post_id"], r["target_url"]) for r in records] == [
        ("0123456789ab", "https://blog.target.example/post"),
        ("0123456789ab", "https://target.example/"),
        ("abcdef012345", "https://target.example/x"),
    ]
    assert records[0]["rel"] == [] and records[1]["rel"] == ["nofollow"]

    _, out, _ = run(
        capsys,
        "backlinks",
        "https://www.target.example/some/page",
        "--dofollow-only",
        "--format",
        "json",
    )
    assert [json.loads(line)["target_url"] for line in out.splitlines()] == [
        "https://blog.target.example/post"
    ]

    _, out, _ = run(capsys, "backlinks", "blog.target.example", "--format", "json")  # a host
    assert len(out.splitlines()) == 1

    _, out, _ = run(
        capsys, "backlinks", "target.example", "--since", "2026-01-15", "--format", "json"
    )
    assert [json.loads(line)["post_id"] for line in out.splitlines()] == ["abcdef012345"]

    _, out, _ = run(capsys, "backlinks", "target.example")
    assert out.splitlines()[0].startswith("target_url")
    assert out.splitlines()[-1] == "(3 rows)"


def test_backlinks_csv_is_formula_safe(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "backlinks", "twitter.com", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert table[0]["anchor_text"] == "'=SUM(A1:A9)"
    assert table[0]["rel"] == "noopener ugc nofollow"


def test_top_domains_and_stats(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "top-domains", "--limit", "1", "--format", "json")
    (top,) = [json.loads(line) for line in out.splitlines()]
    assert (top["domain"], top["links"], top["posts"], top["authors"]) == (
        "target.example",
        3,
        2,
        2,
    )
    assert top["nofollow_share"] == pytest.approx(0.6667)
    # a terminal gets the reading columns, the domain never cut
    _, out, _ = run(capsys, "top-domains")
    assert out.split()[0] == "domain" and "target.example " in out and "ugc_links" not in out

    _, out, _ = run(capsys, "stats", "--format", "json")
    stats = json.loads(out)
    assert (stats["posts"], stats["links"], stats["authors"], stats["domains"]) == (2, 4, 2, 2)
    assert (
        stats["nofollow_share"] == 0.75
        and stats["ugc_share"] == 0.25
        and stats["dofollow_share"] == 0.25
    )

    code, out, _ = run(capsys, "stats")
    assert code == 0 and "nofollow_share" in out


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["backlinks", "x.example", "--since", "last week"])
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["top-domains", "--limit", "0"])


def test_db_commands_on_external_server(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "status")
    assert code == 0 and "state: running" in out and f"schema version: {LATEST}" in out
    code, out, _ = run(capsys, "db", "migrate")
    assert code == 0 and out.strip() == f"schema version {LATEST}"
    code, out, _ = run(capsys, "db", "url")
    assert out.strip() == filled
    code, _, err = run(capsys, "db", "start")
    assert code == 1 and "external server" in err


def harvest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harvest", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_embedded_server_lifecycle(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["HARVEST_PGDATA"] = str(tmp_path / "pgdata")
    try:
        assert "state: stopped" in harvest("db", "status", env=env).stdout
        started = harvest("db", "start", env=env)
        assert started.returncode == 0, started.stderr
        dsn = started.stdout.strip()
        assert dsn.startswith("postgresql://")
        # another process uses it and exits: the server the user started stays up
        migrated = harvest("db", "migrate", env=env)
        assert f"schema version {LATEST}" in migrated.stdout
        status = harvest("db", "status", env=env).stdout
        assert "state: running" in status and f"schema version: {LATEST}" in status
        assert harvest("db", "url", env=env).stdout.strip() == dsn
        assert harvest("stats", "--format", "json", env=env).returncode == 0
        stopped = harvest("db", "stop", env=env)
        assert "stopped" in stopped.stderr
        assert "state: stopped" in harvest("db", "status", env=env).stdout
        # a command that needs the database starts it, uses it, and stops it again
        out = harvest("stats", "--format", "json", env=env)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["posts"] == 0
        assert "state: stopped" in harvest("db", "status", env=env).stdout
    finally:
        harvest("db", "stop", env=env)


def test_the_embedded_server_stops_after_psql_and_after_a_killed_user(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["HARVEST_PGDATA"] = str(tmp_path / "pgdata")
    try:
        proc = harvest("db", "psql", "-At", "-c", "SELECT 40 + 2", env=env)
        assert (proc.returncode, proc.stdout.strip()) == (0, "42"), proc.stderr
        assert "state: stopped" in harvest("db", "status", env=env).stdout
        proc = harvest("db", "psql", "-At", "-c", "SELECT nonsense", env=env)
        assert proc.returncode != 0  # psql's own status comes through
        assert "state: stopped" in harvest("db", "status", env=env).stdout
        # a user of the server killed before its exit hook: the server stays up
        # and its pid stays on pgserver's list ...
        user = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import os, sys; from pathlib import Path; "
                "from harvest.db.connection import Embedded; "
                "Embedded(Path(sys.argv[1])).start(); os.kill(os.getpid(), 9)",
                env["HARVEST_PGDATA"],
            ],
            env=env,
        )
        user.wait(timeout=120)
        assert "state: running" in harvest("db", "status", env=env).stdout
        # ... until the next command, the last user alive, stops it on its way out
        assert harvest("db", "migrate", env=env).returncode == 0
        assert "state: stopped" in harvest("db", "status", env=env).stdout
    finally:
        harvest("db", "stop", env=env)


def test_db_psql_runs_a_command(filled: str) -> None:
    env = {**os.environ, "DATABASE_URL": filled}
    proc = harvest("db", "psql", "-At", "-c", "SELECT count(*) FROM links", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "4"


def one_link_page(post_id: str, url: str, *, days: int) -> ArticlePage:
    """A post by a new author with one followed link."""
    link = make_link(url, 0, rel=(), text="followed")
    return make_page(post_id, [link], T0 + timedelta(days=days), author="newcomer")


def store(dsn: str, page: ArticlePage) -> None:
    conn = connect(dsn)
    write_batch(conn, [page])
    conn.close()


def test_the_verdict_in_backlinks_top_domains_stats_export_and_report(
    filled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    noindexed = one_link_page("fedcba987654", "https://target.example/followed", days=2)
    noindexed.article.facts = replace(noindexed.article.facts, robots=["noindex", "nofollow"])
    store(filled, noindexed)

    _, out, _ = run(capsys, "backlinks", "target.example", "--format", "json")
    verdicts = {
        r["target_url"]: (r["passes"], r["reason"]) for r in map(json.loads, out.splitlines())
    }
    assert verdicts == {
        "https://blog.target.example/post": (True, "follow"),
        "https://target.example/": (False, "nofollow"),
        "https://target.example/x": (False, "nofollow"),
        "https://target.example/followed": (False, "page_noindex"),
    }
    _, out, _ = run(capsys, "backlinks", "target.example", "--passing-only", "--format", "json")
    assert [json.loads(line)["target_url"] for line in out.splitlines()] == [
        "https://blog.target.example/post"
    ]
    _, out, _ = run(capsys, "top-domains", "--limit", "1", "--format", "json")
    top = json.loads(out)
    assert (top["dofollow_links"], top["passing_links"]) == (2, 1)

    _, out, _ = run(capsys, "stats", "--format", "json")
    stats = json.loads(out)
    assert stats["passing_share"] == 0.2
    assert stats["dofollow_exceptions"] == {"page_noindex": 1}
    assert stats["why_not_passing"] == {"nofollow": 2, "ugc": 1, "page_noindex": 1}
    _, out, _ = run(capsys, "stats")
    assert "dofollow anchors that pass no value, by reason" in out and "page_noindex" in out

    _, out, _ = run(capsys, "export", "links", "--domain", "target.example")
    table = list(csv.DictReader(io.StringIO(out)))
    assert sorted((r["target_url"], r["passes"], r["reason"]) for r in table) == [
        ("https://blog.target.example/post", "true", "follow"),
        ("https://target.example/", "false", "nofollow"),
        ("https://target.example/followed", "false", "page_noindex"),
        ("https://target.example/x", "false", "nofollow"),
    ]
    _, out, _ = run(capsys, "report", "--domain", "target.example")
    assert "Of 4 links to target.example, <b>1 pass value</b> (25.0%)." in out
    assert "2 nofollow; 1 page_noindex" in out


def test_report_filters_by_publication_name_and_says_when_nothing_matches(
    filled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "report", "--publication", "the pub", "--format", "json")
    assert json.loads(out)["verdict"]["links"] == 4  # the pub's name, in any case
    _, by_slug, _ = run(capsys, "report", "--publication", "pub", "--format", "json")
    assert json.loads(by_slug)["verdict"] == json.loads(out)["verdict"]
    # a domain it has, whose links the other filter leaves out: an empty report
    code, out, _ = run(capsys, "report", "--domain", "target.example", "--since", "2099-01-01")
    assert code == 0
    assert "No links match" in out and "No harvested links to target.example match" in out
    assert "<svg" not in out  # no empty charts
    # a domain it does not have: one line and exit 2 (tests/cli/test_filters.py)
    code, out, _ = run(capsys, "report", "--domain", "nothing-here.example")
    assert code == 2 and out == ""


def test_report_charts_name_their_axes_count_in_whole_numbers_and_show_dofollow_domains(
    filled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store(filled, one_link_page("0a1b2c3d4e5f", "https://all-followed.example/", days=3))
    code, out, _ = run(capsys, "report")
    assert code == 0
    assert "year first published" in out and "where on the page" in out
    assert ">links<" in out  # the count axes are named
    assert ">0.5<" not in out and ">1.5<" not in out  # counts tick in whole numbers
    # the dofollow-only domain is a bar too, with its 0 %
    assert "all-followed.example" in out and ">0%<" in out and "not nofollow" in out
    assert "overflow-wrap: anywhere" in out


def test_stats_csv_is_one_table_and_a_folder_gets_one_file_per_table(
    filled: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, out, _ = run(capsys, "stats", "--format", "csv")
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["metric", "value"] and all(len(row) == 2 for row in table)
    metrics = dict(table[1:])
    assert metrics["links"] == "4" and metrics["why_not_passing/nofollow"] == "2"
    code, _, err = run(capsys, "stats", "--format", "csv", "-o", str(tmp_path))
    assert code == 0 and "runs.csv" in err
    assert dict(list(csv.reader((tmp_path / "stats.csv").open()))[1:]) == metrics
    runs = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert runs == []  # the filled database was written without a crawl
    assert (tmp_path / "runs.csv").read_text().startswith("run_id,spider,status")


def test_backlinks_pages_with_a_token_and_totals(
    filled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "backlinks", "target.example", "--limit", "2", "--format", "json")
    first = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(first) == 2
    # the totals are the whole domain's, whatever the page shows
    assert "target.example: 3 live links" in err and "2 posts by 2 authors" in err
    token = err.rsplit("--after ", 1)[1].strip()
    code, out, err = run(
        capsys, "backlinks", "target.example", "--limit", "2", "--after", token, "--format", "json"
    )
    second = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(second) == 1 and "next page" not in err
    _, out, _ = run(capsys, "backlinks", "target.example", "--all", "--format", "json")
    everything = [json.loads(line) for line in out.splitlines()]
    assert everything == first + second

    code, _, err = run(capsys, "backlinks", "target.example", "--after", "nonsense")
    assert code == 2 and err.startswith("error: not a page token")
    code, _, err = run(capsys, "backlinks", "target.example", "--all")
    assert code == 2 and "--all is for csv and json" in err


def test_db_check_finds_a_wrong_summary_and_repairs_it(
    filled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "db", "check")
    assert code == 0 and "summaries agree with links" in out
    conn = connect(filled)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE domain_totals SET links = links + 5")
    conn.close()
    code, out, err = run(capsys, "db", "check")
    assert code == 1 and "summaries differ" in err and "domain_totals" in out
    code, out, _ = run(capsys, "db", "check", "--repair")
    assert code == 0 and "they agree now" in out
    code, _, _ = run(capsys, "db", "check")
    assert code == 0


READING = [
    ("top-domains",),
    ("stats",),
    ("backlinks", "target.example"),
    ("report",),
    ("crawl-report",),
    ("export", "links"),
]


@pytest.mark.parametrize("argv", READING, ids=lambda a: a[0])
def test_a_reading_command_on_an_empty_database_changes_nothing(
    pg_server: Any, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    name = f"harvest_empty_{os.getpid()}"
    dsn = pg_server.create(name)  # no template: no schema at all
    try:
        monkeypatch.setenv("DATABASE_URL", dsn)
        code, _, err = run(capsys, *argv)
        assert code == 1
        assert err.count("\n") == 1 and "harvest db migrate" in err, err
        conn = connect(dsn)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
            )
            assert cur.fetchone()[0] == 0
        conn.close()
    finally:
        pg_server.drop(name)


def test_a_reading_command_on_an_older_schema_names_the_migration(
    db_dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    conn = connect(db_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM schema_migrations WHERE version = %s", (LATEST,))
    conn.close()
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    code, _, err = run(capsys, "stats")
    assert code == 1
    assert f"schema {LATEST - 1} of {LATEST}" in err and "harvest db migrate" in err


def test_readers_say_what_the_summaries_trail_and_refresh_folds_it(
    db_dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    conn = connect(db_dsn)
    page = make_page("0123456789ab", [make_link("https://target.example/x", 0, rel=())], T0)
    write_batch(conn, [page], fold=False)  # as the crawl's store writes between folds
    conn.close()
    code, out, err = run(capsys, "top-domains", "--format", "json")
    assert code == 0 and out == ""  # nothing folded yet: no domain in the summaries
    assert "stored link changes are not in the summaries yet" in err
    assert "harvest db refresh" in err
    code, out, _ = run(capsys, "db", "refresh")
    assert code == 0 and out.startswith("summaries up to date: 1 pending facets folded")
    code, out, err = run(capsys, "top-domains", "--format", "json")
    assert code == 0 and json.loads(out.splitlines()[0])["domain"] == "target.example"
    assert err == ""
    code, out, _ = run(capsys, "db", "refresh")
    assert out.startswith("summaries up to date: 0 pending facets folded")
