"""The report from the summaries gives the numbers a scan of links gives, for
every filter the summaries serve; and backlinks pages through a domain with no
row twice and none missed, also while a writer adds links between pages."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

import harvest.db.report_numbers as numbers
from harvest.analysis.report import render
from harvest.db import export_rows, queries
from harvest.db.report_numbers import Filters, report_numbers, report_numbers_scan, summarised
from harvest.db.store import write_batch
from tests.factories import T0, make_link, make_page, months_world, random_world
from tests.pg import rows as sql_rows
from tests.pg import scalar, set_large_domain


def comparable(numbers: dict[str, Any]) -> dict[str, Any]:
    aside = ("generated_at", "source", "crawled_from", "crawled_tags")
    out = {k: v for k, v in numbers.items() if k not in aside}
    # Both paths are exact here: nothing waits to be folded.
    assert out.pop("not_counted_yet", 0) == 0
    if numbers["filters"]["domain"]:
        out.pop("by_tag")
        out["dofollow_exceptions"] = {"posts": numbers["dofollow_exceptions"]["posts"]}
    if numbers["filters"]["since"]:
        out["top_domains"] = [
            {k: v for k, v in row.items() if k != "posts"} for row in numbers["top_domains"]
        ]
    return out


FILTERS = [
    Filters(),
    Filters(domain="github.com"),
    Filters(domain="example.org"),
    Filters(domain="nowhere.example"),
    Filters(tag="seo"),
    Filters(tag="data"),
    Filters(publication="pub"),
    Filters(publication="Two"),
    Filters(publication="two.example", tag="python"),
    Filters(published_since=date(2021, 1, 1)),
    Filters(tag="writing", published_since=date(2025, 1, 1)),
]


@pytest.mark.parametrize("seed", [4, 5])
@pytest.mark.parametrize("large", [None, 50], ids=["domains_small", "some_large"])
def test_summaries_report_equals_the_scan(
    db: Any, db_dsn: str, seed: int, large: int | None
) -> None:
    # A domain's report reads its rows by year, placement and verdict from
    # its links while it is small, from the summaries once it is large: the
    # same numbers either way.
    if large is not None:
        set_large_domain(db_dsn, large)
    random_world(db, seed)
    if large is not None:
        assert (
            0
            < scalar(db, "SELECT count(DISTINCT domain_id) FROM domain_stats")
            < scalar(db, "SELECT count(*) FROM domains")
        )
    for filters in FILTERS:
        assert summarised(filters)
        fast = report_numbers(db, filters, top=50)
        assert fast["source"] == "summaries"
        slow = report_numbers_scan(db, filters, top=50)
        assert comparable(fast) == comparable(slow), filters
    assert report_numbers(db, Filters())["verdict"]["links"] > 0


@pytest.mark.parametrize(("least", "top"), [(2, 2), (2, 3), (3, 1), (99, 2)])
def test_top_domains_off_the_partial_index_equal_the_scan(
    db: Any, monkeypatch: pytest.MonkeyPatch, least: int, top: int
) -> None:
    # A group's first domains come off an index of the rows with TOP_FROM links
    # or more when enough rows reach it (here lowered to reach the test's
    # counts), else from all its rows: the same rows either way.
    random_world(db, 6)
    monkeypatch.setattr(numbers, "TOP_FROM", least)
    for filters in (Filters(tag="seo"), Filters(tag="data"), Filters(publication="pub")):
        fast = report_numbers(db, filters, top=top)
        assert comparable(fast) == comparable(report_numbers_scan(db, filters, top=top)), filters
        assert len(fast["top_domains"]) == top


def test_the_top_indexes_hold_the_rows_the_report_reads_off_them(db: Any) -> None:
    with db.cursor() as cur:
        cur.execute(
            "SELECT indexdef FROM pg_indexes "
            "WHERE indexname IN ('tag_domains_top_idx', 'domain_publications_top_idx')"
        )
        definitions = [row[0] for row in cur.fetchall()]
    assert len(definitions) == 2
    assert all(f"(links >= {numbers.TOP_FROM})" in d for d in definitions), definitions


def test_a_name_two_publications_share_adds_both_up(db: Any) -> None:
    random_world(db, 5)
    db.cursor().execute("UPDATE publications SET name = 'The Pub' WHERE slug = 'two'")
    db.commit()
    filters = Filters(publication="the pub")
    fast = report_numbers(db, filters, top=50)
    assert fast["source"] == "summaries"
    assert comparable(fast) == comparable(report_numbers_scan(db, filters, top=50))
    one = report_numbers(db, Filters(publication="pub"), top=50)
    assert fast["overall"]["links"] > one["overall"]["links"] > 0
    assert fast["overall"]["domains"] >= one["overall"]["domains"] > 0


@pytest.mark.parametrize("seed", [12, 13])
def test_since_the_first_of_a_month_from_the_summaries_equals_the_scan(
    db: Any, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    months_world(db, seed)
    with db.cursor() as cur:
        cur.execute("SELECT count(DISTINCT date_trunc('month', first_seen)) FROM links")
        assert cur.fetchone()[0] >= 6
    db.rollback()
    for month in (
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 3, 1),
        date(2026, 7, 1),
        date(2027, 1, 1),
    ):
        filters = Filters(since=month)
        assert summarised(filters)
        fast = report_numbers(db, filters, top=50)
        assert fast["source"] == "summaries"
        assert all(row["posts"] is None for row in fast["top_domains"])
        slow = report_numbers_scan(db, filters, top=50)
        assert comparable(fast) == comparable(slow), month
    # The top rows come from the most linked domains first; a short table stops
    # early, and one that would look at too many domains adds up the months.
    for rows in (1, 2, 3):
        for look_at_most in (20_000, 3):
            monkeypatch.setattr(numbers, "_SEEN_LOOK_AT_MOST", look_at_most)
            for month in (date(2026, 1, 1), date(2026, 4, 1)):
                fast = report_numbers(db, Filters(since=month), top=rows)
                slow = report_numbers_scan(db, Filters(since=month), top=rows)
                assert comparable(fast)["top_domains"] == comparable(slow)["top_domains"]
    # the months add up to the whole harvest, and a later month holds fewer links
    whole = report_numbers(db, Filters(), top=50)
    since_jan = report_numbers(db, Filters(since=date(2026, 1, 1)), top=50)
    since_jul = report_numbers(db, Filters(since=date(2026, 7, 1)), top=50)
    assert since_jan["overall"] == whole["overall"]
    assert 0 < since_jul["overall"]["links"] < whole["overall"]["links"]
    assert report_numbers(db, Filters(since=date(2027, 1, 1)))["verdict"]["links"] == 0
    # the page says what it leaves out, and shows no column of blanks
    page = render(since_jul)
    top = page.split("<h2>Top target domains</h2>", 1)[1].split("<h2>", 1)[0]
    assert "<th>posts</th>" not in top
    assert "not kept per month first seen" in top
    assert "<th>posts</th>" in render(whole).split("<h2>Top target domains</h2>", 1)[1]


def test_filters_the_summaries_do_not_keep_go_to_the_scan(db: Any) -> None:
    random_world(db, 6)
    for filters in (
        Filters(since=date(2026, 1, 15)),
        Filters(since=date(2026, 1, 1), tag="seo"),
        Filters(since=date(2026, 1, 1), domain="github.com"),
        Filters(domain="github.com", tag="seo"),
        Filters(published_since=date(2021, 7, 1)),
    ):
        assert not summarised(filters)
        assert report_numbers(db, filters)["source"] == "links"


def all_pages(db: Any, target: str, limit: int, **kw: Any) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []
    after = None
    while True:
        page = queries.backlinks(
            db, target, limit=limit, after=after, filters=queries.LinkFilters(**kw)
        )
        got = list(page.rows)
        assert len(got) <= limit
        seen += got
        if page.after is None:
            return seen
        after = page.after


def test_paging_gives_every_row_once_in_a_stable_order(db: Any) -> None:
    random_world(db, 8, posts=40)
    whole = queries.backlinks(
        db, "github.com", limit=None, filters=queries.LinkFilters(include_lost=True)
    )
    everything = list(whole.rows)
    db.rollback()
    assert len(everything) > 20
    for limit in (1, 3, 7, 50):
        assert all_pages(db, "github.com", limit, include_lost=True) == everything
    # a host's pages are its own rows
    gist = all_pages(db, "gist.github.com", 2)
    assert gist and all("gist.github.com" in r[0] for r in gist)
    # totals come with every page, from the summaries
    page = queries.backlinks(db, "github.com", limit=5)
    live = [r for r in everything if r[-1] is None]
    assert page.totals["links"] == len(live)
    assert page.totals["posts"] == len({r[1] for r in live})


def test_paging_back_gives_the_same_pages_as_paging_forward(db: Any) -> None:
    random_world(db, 8, posts=40)
    forward = []
    page = queries.backlinks(db, "github.com", limit=3)
    assert page.before is None
    while True:
        forward.append(list(page.rows))
        if page.after is None:
            break
        page = queries.backlinks(db, "github.com", limit=3, after=page.after)
    assert len(forward) > 3
    # from the last page back to the first, each page is the one seen going forward
    back = [list(page.rows)]
    while page.before is not None:
        page = queries.backlinks(db, "github.com", limit=3, before=page.before)
        back.append(list(page.rows))
        assert page.after is not None
    assert back[::-1] == forward


@pytest.mark.parametrize(
    "filters",
    [
        queries.LinkFilters(placement="body"),
        queries.LinkFilters(placement="author_bio"),
        queries.LinkFilters(rel="nofollow"),
        queries.LinkFilters(rel="dofollow", include_lost=True),
        queries.LinkFilters(reason="follow"),
        queries.LinkFilters(since=date(2026, 2, 1), until=date(2026, 5, 1)),
        queries.LinkFilters(until=date(2026, 3, 14), include_lost=True),
        queries.LinkFilters(published_until=date(2021, 7, 30)),
    ],
    ids=repr,
)
def test_each_backlink_filter_matches_a_scan(db: Any, filters: queries.LinkFilters) -> None:
    months_world(db, 5, posts=30)
    scan = {
        (r[0], r[1])
        for r in sql_rows(
            db,
            """SELECT l.target_url, p.medium_id, link_placement(l.location, l.kind, l.block),
                      l.nofollow, l.ugc, l.sponsored, link_verdict(l, p), l.first_seen,
                      p.first_published_at, l.lost_at
               FROM links l JOIN posts p USING (post_id) JOIN domains d USING (domain_id)
               WHERE d.domain = 'github.com'""",
        )
        if _matches(filters, r)
    }
    got = {(r[0], r[1]) for r in all_pages(db, "github.com", 4, **_fields(filters))}
    assert got == scan
    # each filter leaves some links and drops others: a filter that is ignored fails
    whole = scalar(
        db, "SELECT count(*) FROM links JOIN domains USING (domain_id) WHERE domain = 'github.com'"
    )
    assert 0 < len(scan) < whole


def _fields(filters: queries.LinkFilters) -> dict[str, Any]:
    return {f: getattr(filters, f) for f in filters.__slots__}


def _matches(f: queries.LinkFilters, r: tuple[Any, ...]) -> bool:
    _, _, placement, nofollow, ugc, sponsored, reason, first_seen, published, lost = r
    rel = {
        "dofollow": not (nofollow or ugc or sponsored),
        "nofollow": nofollow,
        "ugc": ugc,
        "sponsored": sponsored,
    }
    day = first_seen.date()
    return (
        (f.include_lost or lost is None)
        and (f.placement is None or placement == f.placement)
        and (f.rel is None or rel[f.rel])
        and (f.reason is None or reason == f.reason)
        and (f.since is None or day >= f.since)
        and (f.until is None or day <= f.until)
        and (
            f.published_until is None or published is None or published.date() <= f.published_until
        )
        and (f.published_until is None or published is not None)
    )


def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


def test_paging_under_concurrent_inserts_misses_nothing_that_was_there(db: Any) -> None:
    random_world(db, 9, posts=40)
    before = {key(r) for r in queries.backlinks(db, "github.com", limit=None).rows}
    db.rollback()
    seen: list[tuple[Any, ...]] = []
    after = None
    n = 100
    while True:
        page = queries.backlinks(db, "github.com", limit=4, after=after)
        seen += list(page.rows)
        # another writer adds posts linking to the domain between two pages
        links = [make_link(f"https://github.com/new/{n}/{k}", k) for k in range(3)]
        write_batch(db, [make_page(f"{n:012x}", links, T0 + timedelta(days=2))])
        n += 1
        if page.after is None:
            break
        after = page.after
    keys = [key(r) for r in seen]
    assert len(keys) == len(set(keys)), "a row came twice"
    assert before <= set(keys), "a row that was there all along was missed"


def test_a_bad_page_token_is_refused(db: Any) -> None:
    with pytest.raises(queries.BadCursor):
        queries.backlinks(db, "github.com", after="1.2.body.x")
    with pytest.raises(queries.BadCursor):
        queries.decode_after("1.2.footer.3.-4266524885998034046")
    # a token printed before 0021, when the URL's key was a uuid
    with pytest.raises(queries.BadCursor):
        queries.decode_after("1.2.body.3.c4ca4238-a0b9-2382-0dcc-509a6f75849b")
    assert queries.decode_after("1.2.body.3.-4266524885998034046")[-1] == -4266524885998034046


@pytest.mark.parametrize(
    ("filters", "where"),
    [
        (Filters(until=date(2026, 3, 14)), "l.first_seen < '2026-03-15'"),
        (
            Filters(published_until=date(2021, 7, 30)),
            "p.first_published_at < '2021-07-31'",
        ),
        (Filters(placement="author_bio"), "l.location = 'author_bio'"),
        (Filters(rel="ugc"), "l.ugc"),
        (Filters(rel="dofollow"), "NOT (l.nofollow OR l.ugc OR l.sponsored)"),
        (Filters(reason="page_noindex"), "link_verdict(l, p) = 'page_noindex'"),
        (Filters(author="bob"), "a.username = 'bob'"),
        (Filters(domain="github.com", rel="nofollow"), "d.domain = 'github.com' AND l.nofollow"),
    ],
    ids=repr,
)
def test_the_report_and_export_filters_match_a_scan(db: Any, filters: Filters, where: str) -> None:

    months_world(db, 7, posts=30)
    want = scalar(
        db,
        "SELECT count(*) FROM links l JOIN posts p USING (post_id) "
        "JOIN domains d USING (domain_id) LEFT JOIN authors a ON a.author_id = p.author_id "
        f"WHERE {where}",
    )
    total = scalar(db, "SELECT count(*) FROM links")
    assert 0 < want < total
    assert not summarised(filters)
    assert report_numbers(db, filters)["verdict"]["links"] == want
    db.rollback()
    _, batches = export_rows.rows(db, "links", filters)
    assert sum(len(b) for b in batches) == want
    db.rollback()
