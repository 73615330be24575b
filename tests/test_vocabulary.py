"""One vocabulary: every field name an answer uses (the CLI's JSON, the exports,
the report's JSON, the explorer's tables, the SQL views) is declared once in
harvest.vocabulary, and the views' column comments say what it declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harvest import vocabulary
from harvest.analysis.exports import write_graph
from harvest.db import explore, export_rows, queries
from harvest.db.report_numbers import Filters, report_numbers
from harvest.explorer.app import BACKLINK_PAGE_COLUMNS
from tests.factories import random_world
from tests.pg import rows


def keys(value: Any, leaves: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every key of nested dicts and lists (a leaf's own keys are values)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            if key not in leaves:
                yield from keys(inner, leaves)
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner, leaves)


@pytest.fixture
def world(db: Any) -> Any:
    random_world(db, 2, posts=30)
    with db, db.cursor() as cur:
        cur.execute("INSERT INTO crawl_runs (spider, status) VALUES ('medium', 'finished')")
        cur.execute(
            "INSERT INTO crawl_failures (run_id, url, kind, reason, at) "
            "SELECT max(run_id), 'https://medium.com/p/x', 'failed', 'timeout', now() "
            "FROM crawl_runs"
        )
    return db


def answer_fields(db: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    found["backlinks"] = set(queries.BACKLINK_COLUMNS)
    found["top-domains"] = set(queries.top_domains(db)[0])
    # stats: why_not_passing and dofollow_exceptions map reasons (values) to counts
    found["stats"] = set(
        keys(queries.stats(db), frozenset({"why_not_passing", "dofollow_exceptions"}))
    )
    for f in (Filters(), Filters(domain="github.com"), Filters(tag="seo"), Filters(since=None)):
        found.setdefault("report", set()).update(keys(report_numbers(db, f)))
    db.rollback()
    for what in export_rows.QUERIES:
        columns, batches = export_rows.rows(db, what, Filters())
        list(batches)
        found[f"export {what}"] = set(columns)
        db.rollback()
    found["export graph"] = {"source", "target", "links", "nofollow_share", "dofollow_links"}
    target = explore.find_target(db, "github.com")
    assert target is not None
    none = queries.LinkFilters()
    for grouping in explore.GROUPINGS:
        found[f"--by {grouping}"] = set(explore.grouped(db, target, grouping, none)[0])
    found["--by months"] = set(explore.months(db, target, none)[0])
    found["intersect"] = set(explore.intersect(db, ["github.com"], ["b.io"])[0])
    post_id = rows(db, "SELECT medium_id FROM posts LIMIT 1")[0][0]
    post, (link_columns, _) = explore.post(db, post_id)
    assert post is not None
    found["explorer post"] = set(post) | set(link_columns)
    found["explorer posts"] = set(explore.posts_of(db, tag="seo")[0])
    found["explorer search"] = set(explore.search(db, "g")[0])
    found["explorer backlinks"] = set(BACKLINK_PAGE_COLUMNS)
    info, (failure_columns, _) = queries.crawl_report(db, "last")
    assert info is not None
    found["crawl-report"] = set(info) | set(failure_columns)
    found["views"] = {
        r[0]
        for r in rows(
            db,
            "SELECT column_name FROM information_schema.columns WHERE table_name IN "
            "('backlinks', 'domain_summary', 'rel_summary')",
        )
    }
    return found


def test_every_field_name_an_answer_uses_is_declared_once(world: Any) -> None:
    undeclared = {
        where: sorted(names - set(vocabulary.FIELDS))
        for where, names in answer_fields(world).items()
        if names - set(vocabulary.FIELDS)
    }
    assert not undeclared, undeclared


def test_the_graph_header_is_the_vocabulary_s() -> None:
    import io

    out = io.StringIO()
    write_graph(iter([[("publication:pub", "github.com", 1, 0.0, 1)]]), "csv-edges", out)
    assert set(out.getvalue().splitlines()[0].split(",")) <= set(vocabulary.FIELDS)


def test_the_views_explain_every_column_in_its_words(db: Any) -> None:
    found = rows(
        db,
        """SELECT c.relname, a.attname, col_description(c.oid, a.attnum),
                  obj_description(c.oid, 'pg_class')
           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
           WHERE c.relkind = 'v' AND c.relname IN ('backlinks', 'domain_summary', 'rel_summary')
             AND a.attnum > 0""",
    )
    assert len(found) > 40
    for view, column, comment, view_comment in found:
        assert comment == vocabulary.FIELDS[column], (view, column)
        assert view_comment
    placement = rows(db, "SELECT count(*) FROM backlinks WHERE placement IS NULL")[0][0]
    assert placement == 0
