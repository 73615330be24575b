"""`harvest db renormalize`: rows stored under yesterday's URL rules, rewritten."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from harvest.db.renormalize import renormalize
from harvest.db.store import write_batch
from tests.factories import T0, make_link, make_page
from tests.pg import rows


def test_old_forms_move_to_the_new_url_and_merge_keeping_first_seen(db: Any) -> None:
    later = T0 + timedelta(days=3)
    # the first crawl stored the dot-segment form; a later one the resolved form
    write_batch(
        db,
        [
            make_page(
                "0123456789ab",
                [
                    make_link("http://example.com/a/../b", 0, text="old anchor"),
                    make_link("http://example.com/x?q='1'", 1),
                    make_link("http://example.com/fine", 2),
                ],
                T0,
            )
        ],
    )
    write_batch(
        db,
        [make_page("0123456789ab", [make_link("http://example.com/b", 0, text="new")], later)],
    )
    result = renormalize(db)
    assert (result.changed, result.links, result.merged, result.refused) == (2, 2, 1, 0)
    got = rows(
        db,
        "SELECT position, target_url, target_url_raw, anchor_text, first_seen, last_seen, lost_at "
        "FROM links ORDER BY position, target_url",
    )
    assert got == [
        (0, "http://example.com/b", "http://example.com/a/../b", "new", T0, later, None),
        (1, "http://example.com/x?q=%271%27", "http://example.com/x?q='1'", "t", T0, T0, later),
        (2, "http://example.com/fine", None, "t", T0, T0, later),
    ]
    # run again: nothing left to do
    again = renormalize(db)
    assert (again.changed, again.links) == (0, 0)


def test_a_dry_run_counts_and_changes_nothing(db: Any) -> None:
    write_batch(db, [make_page("0123456789ab", [make_link("http://example.com/./a", 0)], T0)])
    result = renormalize(db, dry_run=True)
    assert (result.changed, result.links) == (1, 1)
    assert rows(db, "SELECT target_url FROM links") == [("http://example.com/./a",)]
    assert "would move 1 post links" in " ".join(result.lines(dry_run=True))


def test_a_host_that_changes_gets_its_own_host_and_domain_rows(db: Any) -> None:
    write_batch(db, [make_page("0123456789ab", [make_link("http://0x7f.1/x", 0)], T0)])
    renormalize(db)
    assert rows(
        db,
        "SELECT l.target_url, h.host, d.domain FROM links l JOIN hosts h USING (host_id) "
        "JOIN domains d ON d.domain_id = l.domain_id",
    ) == [("http://127.0.0.1/x", "127.0.0.1", "127.0.0.1")]
