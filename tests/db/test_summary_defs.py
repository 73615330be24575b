"""The summary declarations (harvest/db/summary_defs.py) against the tables they
declare, and the layer migrate installs from them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from harvest.db import summary_defs
from harvest.db.migrate import migrate
from tests.pg import rows, scalar

README = Path(__file__).resolve().parents[2] / "deploy" / "README.md"


def _columns(db: Any, table: str) -> tuple[str, ...]:
    return tuple(
        r[0]
        for r in rows(
            db,
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum",
            (table,),
        )
    )


def _unique_indexes(db: Any, table: str) -> list[tuple[str, ...]]:
    return [
        tuple(r[0])
        for r in rows(
            db,
            "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = %s::regclass AND i.indisunique GROUP BY i.indexrelid",
            (table,),
        )
    ]


@pytest.mark.parametrize("summary", summary_defs.SUMMARIES, ids=lambda s: s.table)
def test_a_declaration_is_its_tables_columns_and_unique_key(db: Any, summary: Any) -> None:
    # The rebuild inserts the recount's columns in the declared order, and the
    # fold's upserts name the declared unique key: both must be the table's.
    assert _columns(db, summary.table) == summary.columns
    assert summary.conflict in _unique_indexes(db, summary.table)
    assert summary.why
    # a key column is matched with = unless it may be NULL
    nullable = {
        r[0]
        for r in rows(
            db,
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped AND NOT attnotnull",
            (summary.table,),
        )
    }
    assert set(summary.nullable) == nullable & set(summary.key_columns)


# What the crawl writes and the bookkeeping: every other table is a summary.
NOT_SUMMARIES = {
    "author_links",
    "authors",
    "crawl_failures",
    "crawl_runs",
    "domains",
    "hosts",
    "links",
    "listing_walks",
    "post_history",
    "posts",
    "publications",
    "rels",
    "schema_migrations",
    "summary_fresh_posts",
    "summary_layer",
    "summary_pending",
}


def test_every_summary_table_is_declared(db: Any) -> None:
    # A summary table left out would be kept by nothing and checked by nothing.
    tables = {
        r[0]
        for r in rows(
            db,
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'",
        )
    }
    assert tables - NOT_SUMMARIES == set(summary_defs.BY_TABLE)


def test_the_installed_layer_is_what_the_declarations_generate(db: Any) -> None:
    assert scalar(db, "SELECT checksum FROM summary_layer") == summary_defs.layer_checksum()
    body = scalar(db, "SELECT prosrc FROM pg_proc WHERE proname = 'summaries_apply'")
    assert body in summary_defs.apply_sql()
    # what 0006-0018 wrote by hand is gone: the facets, the triggers that
    # append them and the fold that takes them are what is left
    assert {
        r[0] for r in rows(db, "SELECT proname FROM pg_proc WHERE proname ~ '^summaries_'")
    } == {
        "summaries_apply",
        "summaries_delta_table",
        "summaries_delta_table_0006",
        "summaries_facets",
        "summaries_fold",
        "summaries_links_deleted",
        "summaries_links_inserted",
        "summaries_links_updated",
        "summaries_patch",
        "summaries_pend_net",
        "summaries_posts_updated",
        "summaries_regate",
    }
    body = scalar(db, "SELECT prosrc FROM pg_proc WHERE proname = 'summaries_regate'")
    assert body in summary_defs.regate_sql()
    assert scalar(db, "SELECT large_domain()") == summary_defs.LARGE_DOMAIN


def test_migrate_installs_a_changed_layer_once(db: Any, caplog: Any) -> None:
    with db.cursor() as cur:
        cur.execute("UPDATE summary_layer SET checksum = 'older'")
        cur.execute(
            "CREATE OR REPLACE FUNCTION summaries_apply() RETURNS void LANGUAGE sql AS $$ $$"
        )
    db.commit()
    with caplog.at_level(logging.INFO, logger="harvest.db.migrate"):
        assert migrate(db) == []
    assert scalar(db, "SELECT checksum FROM summary_layer") == summary_defs.layer_checksum()
    assert "fold_pairs" in scalar(
        db, "SELECT prosrc FROM pg_proc WHERE proname = 'summaries_apply'"
    )
    assert "installed the summaries" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="harvest.db.migrate"):
        migrate(db)
    assert "installed the summaries" not in caplog.text


def test_a_count_that_does_not_add_up_is_never_summed() -> None:
    distinct = summary_defs.Count("posts", distinct="post_id")
    with pytest.raises(AssertionError):
        distinct.delta()
    # and each table with one is kept by a written step
    for summary in summary_defs.SUMMARIES:
        if not summary.adds:
            assert summary.table in summary_defs.KEPT_BY_HAND


def test_generated_statements_read_the_declared_filters() -> None:
    stats = summary_defs.BY_TABLE["domain_stats"]
    delta = stats.delta_sql("f")
    assert delta.startswith("SELECT domain_id, year, placement, reason, sum(sign) AS links, ")
    assert "coalesce(sum(sign) FILTER (WHERE lost), 0) AS lost" in delta
    recount = summary_defs.BY_TABLE["domain_totals"].recount_sql("f")
    # a pass counts what is exact in its ranges, and leaves the rest to the other
    assert "AS domains, 0::bigint AS posts" in summary_defs.BY_TABLE[
        "seen_last_counts"
    ].recount_sql("f", "domain_id")
    assert "count(DISTINCT post_id) FILTER (WHERE NOT lost) AS posts" in recount
    upsert = summary_defs.BY_TABLE["group_stats"].upsert_sql("d")
    assert "ORDER BY 2, 1, 3, 4, 5 ON CONFLICT (tag, publication_id, year, placement, reason)" in (
        upsert
    )
    prune = summary_defs.BY_TABLE["domain_publications"].prune_sql("f")
    assert "s.publication_id IS NOT DISTINCT FROM d.publication_id" in prune
    assert "s.tag = d.tag" in summary_defs.BY_TABLE["tag_dofollow_posts"].prune_sql("f")
    assert prune.endswith(
        "s.links = 0 AND s.nofollow = 0 AND s.ugc = 0 AND s.sponsored = 0 AND s.dofollow = 0"
    )


def test_deploy_readme_summaries_table_is_the_declarations() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- summaries: start -->") + len("<!-- summaries: start -->\n")
    end = text.index("<!-- summaries: end -->")
    assert text[start:end] == summary_defs.markdown_table(), (
        "deploy/README's summaries table differs from harvest.db.summary_defs: paste "
        "`python -c 'from harvest.db import summary_defs as s; print(s.markdown_table(), end=\"\")'`"
    )
