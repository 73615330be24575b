"""The maintained summaries (migrations 0006, 0008, 0009, 0011, 0012 and 0024) equal a recount of links after any
sequence of batches: new posts, recrawls that drop and restore links, late
batches, member-only previews, robots and canonical changes, deleted posts,
posts that move between publications, years and tags, and renormalized URLs."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import psycopg2
import pytest

from harvest.db import summaries, summary_defs
from harvest.db.connection import connect
from harvest.db.migrate import migrate
from harvest.db.renormalize import renormalize
from harvest.db.store import write_batch, write_gone
from harvest.items import PostGone
from harvest.medium.records import Author, Publication
from tests.db.writers import side_by_side
from tests.factories import (
    T0,
    make_link,
    make_page,
    random_page,
)
from tests.pg import rows, scalar, set_large_domain

# A threshold the worlds here cross: some domains keep rows in the
# large-domains-only tables, the others are counted from their links, and
# domains move across as the tests write.
LARGE = 8


@pytest.fixture(autouse=True)
def _large_domains_in_reach(db_dsn: str) -> None:
    set_large_domain(db_dsn, LARGE)


def assert_agree(db: Any, per_range: int = summaries.RANGE_LINKS) -> None:
    result = summaries.check(db, per_range=per_range)
    assert result.agree, {t: n for t, n in result.differing.items() if n}
    # The recount is not empty by construction: the world has links by now.
    assert result.rows["domain_totals"] > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summaries_equal_a_recount_after_random_batches(db: Any, seed: int) -> None:
    rng = random.Random(seed)
    posts = [f"{n:012x}" for n in range(1, 25)]
    for step in range(40):
        # over seven months: links first seen, lost and found again in different ones
        at = T0 + timedelta(days=5 * step, hours=step)
        roll = rng.random()
        if roll < 0.1:
            gone = rng.sample(posts, 2)
            write_gone(
                db,
                [
                    PostGone(
                        p,
                        f"https://medium.com/p/{p}",
                        rng.choice(["deleted", "suspended"]),
                        410,
                        at,
                    )
                    for p in gone
                ],
            )
        else:
            # a late batch now and then: fetched before what is stored
            when = at - timedelta(hours=rng.randint(3, 9)) if roll > 0.9 else at
            write_batch(db, [random_page(rng, p, when) for p in rng.sample(posts, 5)])
        if step % 10 == 9:
            # in one range, and in ranges of a few links (the recount adds up
            # the ranges of each pass)
            assert_agree(db)
            assert_agree(db, per_range=7)
    assert scalar(db, "SELECT count(*) FROM links WHERE lost_at IS NOT NULL") > 0
    assert scalar(db, "SELECT count(*) FROM posts WHERE status <> 'live'") > 0
    # what the renormalizer merges and rewrites moves the summaries too
    db.cursor().execute(
        "UPDATE links SET target_url = target_url || '?utm_source=x', "
        "target_url_raw = NULL WHERE position = 0"
    )
    db.commit()
    assert_agree(db)
    renormalize(db)
    assert_agree(db)


def test_check_finds_a_tampered_summary_and_repair_mends_it(db: Any) -> None:
    rng = random.Random(7)
    write_batch(db, [random_page(rng, f"{n:012x}", T0) for n in range(1, 8)])
    assert_agree(db)
    with db.cursor() as cur:
        cur.execute(
            "UPDATE domain_totals SET posts = posts + 1 WHERE domain_id = "
            "(SELECT min(domain_id) FROM domain_totals)"
        )
        cur.execute("DELETE FROM group_posts WHERE tag = ''")
        cur.execute("UPDATE tag_domains SET posts = posts + 1 WHERE tag = 'seo'")
        cur.execute("DELETE FROM publication_domains")
        cur.execute("UPDATE group_domain_totals SET domains = domains + 1 WHERE tag = 'seo'")
        cur.execute(
            "UPDATE seen_domains SET links = links + 1 WHERE domain_id = "
            "(SELECT min(domain_id) FROM seen_domains)"
        )
        cur.execute(
            "UPDATE domain_last_seen SET seen = seen - 31 WHERE domain_id = "
            "(SELECT min(domain_id) FROM domain_last_seen)"
        )
        cur.execute("UPDATE seen_last_counts SET posts = posts + 1")
    db.commit()
    result = summaries.check(db)
    assert not result.agree
    assert result.differing["domain_totals"] == 2  # the changed row, both ways
    assert result.differing["group_posts"] > 0
    assert result.differing["tag_domains"] > 0
    assert result.differing["publication_domains"] > 0
    assert result.differing["group_domain_totals"] == 2
    assert result.differing["seen_domains"] == 2
    assert result.differing["domain_last_seen"] == 2
    assert result.differing["seen_last_counts"] == 2
    assert result.differing["domain_stats"] == 0
    summaries.rebuild(db)
    assert_agree(db)


def test_totals_count_distinct_posts_authors_and_publications(db: Any) -> None:
    two = Publication("two", "Two", "two.example")
    pages = []
    for n, (author, pub) in enumerate([("ann", None), ("ann", two), ("bob", two)], start=1):
        links = [make_link("https://github.com/a", 0), make_link("https://github.com/b", 1)]
        page = make_page(f"{n:012x}", links, T0, author=author)
        page.article.author = Author(author, None)
        page.article.publication = pub
        pages.append(page)
    write_batch(db, pages)
    totals = "SELECT links, posts, authors, publications FROM domain_totals"
    assert rows(db, totals) == [(6, 3, 2, 1)]
    # the third post drops its links: bob and, with him, nobody else is gone
    write_batch(db, [make_page(f"{3:012x}", [], T0 + timedelta(days=1), author="bob")])
    assert rows(db, totals) == [(4, 2, 1, 1)]
    assert scalar(db, "SELECT lost FROM domain_totals") == 2
    assert_agree(db)


def test_group_domains_count_each_post_once_and_follow_it_between_groups(db: Any) -> None:
    pub = Publication("pub", "The Pub", None)
    two = Publication("two", "Two", "two.example")

    def page(n: int, urls: list[str], tags: list[str], publication: Publication, day: int) -> Any:
        links = [make_link(u, i) for i, u in enumerate(urls)]
        out = make_page(f"{n:012x}", links, T0 + timedelta(days=day), tags=tags)
        out.article.publication = publication
        return out

    gh = ["https://github.com/a", "https://github.com/b"]
    write_batch(
        db,
        [
            page(1, gh, ["seo", "data"], pub, 0),
            page(2, [*gh, "https://youtube.com/x"], ["seo"], pub, 0),
            page(3, gh[:1], ["data"], two, 0),
        ],
    )
    tags = (
        "SELECT t.tag, d.domain, t.links, t.posts FROM tag_domains t "
        "JOIN domains d USING (domain_id) ORDER BY 1, 2"
    )
    pubs = (
        "SELECT p.slug, d.domain, t.posts FROM publication_domains t "
        "JOIN publications p USING (publication_id) JOIN domains d USING (domain_id) ORDER BY 1, 2"
    )
    assert rows(db, tags) == [
        ("data", "github.com", 3, 2),
        ("seo", "github.com", 4, 2),
        ("seo", "youtube.com", 1, 1),
    ]
    assert rows(db, pubs) == [
        ("pub", "github.com", 2),
        ("pub", "youtube.com", 1),
        ("two", "github.com", 1),
    ]
    reach = (
        "SELECT coalesce(g.tag, p.slug), g.domains FROM group_domain_totals g "
        "LEFT JOIN publications p USING (publication_id) WHERE g.domains > 0 ORDER BY 1"
    )
    assert rows(db, reach) == [("data", 1), ("pub", 2), ("seo", 2), ("two", 1)]
    # post 2 moves to "two" and from seo to data; post 1 loses one of its two links
    write_batch(
        db,
        [
            page(1, gh[:1], ["seo", "data"], pub, 1),
            page(2, [*gh, "https://youtube.com/x"], ["data"], two, 1),
        ],
    )
    assert rows(db, tags) == [
        ("data", "github.com", 4, 3),
        ("data", "youtube.com", 1, 1),
        ("seo", "github.com", 1, 1),
    ]
    assert rows(db, pubs) == [
        ("pub", "github.com", 1),
        ("two", "github.com", 2),
        ("two", "youtube.com", 1),
    ]
    assert rows(db, reach) == [("data", 2), ("pub", 1), ("seo", 1), ("two", 2)]
    assert_agree(db)


def test_every_declared_summary_is_recounted_and_rebuilt(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each table emptied on its own is found by the check, under its name,
    # and the rebuild fills it again from the links; ranges of domains read
    # spills of the facets, two ranges a spill here, and leave no table
    # behind.
    spills: list[tuple[str, int]] = []
    spill_sql = summary_defs.spill_sql

    def spill(column: str, ranges: list[tuple[int | None, int | None]]) -> list[str]:
        spills.append((column, len(ranges)))
        return spill_sql(column, ranges)

    monkeypatch.setattr(summary_defs, "spill_sql", spill)
    monkeypatch.setattr(summaries, "SPILL_LINKS", 18)
    rng = random.Random(12)
    posts = [f"{n:012x}" for n in range(1, 16)]
    for step in range(6):
        write_batch(db, [random_page(rng, p, T0 + timedelta(days=40 * step)) for p in posts[:10]])
    write_gone(db, [PostGone(posts[0], f"https://medium.com/p/{posts[0]}", "deleted", 410, T0)])
    assert scalar(db, "SELECT count(DISTINCT seen) FROM seen_stats") >= 5
    links = scalar(db, "SELECT count(*) FROM links")
    with db.cursor() as cur:
        for column in ("domain_id", "post_id"):
            # about a third of the links a range: three ranges, give or take
            # a domain or post that falls on a boundary
            ranges = summaries._ranges(cur, column, links // 3 + 1)
            assert 2 <= len(ranges) <= 4, (column, ranges)
            assert ranges[0][0] is None and ranges[-1][1] is None
            assert len(summaries._ranges(cur, column, 9)) > 4
    db.rollback()
    for table in summaries.TABLES:
        assert scalar(db, f"SELECT count(*) FROM {table}") > 0, table
        with db.cursor() as cur:
            cur.execute(f"TRUNCATE {table}")
        db.commit()
        result = summaries.check(db, per_range=9)
        assert {t for t, n in result.differing.items() if n} == {table}
        summaries.rebuild(db, per_range=9)
        assert_agree(db)
    assert {column for column, _ in spills} == set(summaries.SPILLED)
    assert {n for _, n in spills} == {2}
    # several spills a recount
    assert len(spills) >= 4 * len(summaries.TABLES)
    left = "SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'recount%'"
    assert scalar(db, left) == 0


def test_a_session_with_the_summary_delta_of_before_0009_still_counts_right(db: Any) -> None:
    # A writer connected across the upgrade made its temporary summary_delta
    # without 0009's column: its next statement makes it again.
    rng = random.Random(14)
    write_batch(db, [random_page(rng, f"{n:012x}", T0) for n in range(1, 6)])
    with db.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS pg_temp.summary_delta")
        cur.execute(
            "CREATE TEMP TABLE summary_delta (sign integer NOT NULL, domain_id bigint NOT NULL, "
            "post_id bigint NOT NULL, author_id bigint, publication_id bigint, month date, "
            "year integer, tags text[] NOT NULL, placement text NOT NULL, reason text NOT NULL, "
            "lost boolean NOT NULL, nofollow boolean NOT NULL, ugc boolean NOT NULL, "
            "sponsored boolean NOT NULL) ON COMMIT DELETE ROWS"
        )
    db.commit()
    write_batch(db, [random_page(rng, f"{n:012x}", T0 + timedelta(days=45)) for n in range(1, 9)])
    assert scalar(db, "SELECT count(DISTINCT seen) FROM seen_stats") == 2
    assert_agree(db)


@pytest.mark.parametrize("fold", [True, False], ids=["fold_each_batch", "fold_later"])
def test_concurrent_writers_keep_the_summaries_exact(db_dsn: str, fold: bool) -> None:
    # Two writers recrawl overlapping posts at the same time, months apart (a
    # domain's and a post's newest month moves), and record a post gone. A
    # deadlock rolls one batch back, and it is replayed as the pipeline replays
    # it. Folding each batch, the writers take turns at the fold; folding later
    # (the crawl's store: fold=False, a fold on its own schedule), the summaries
    # trail until the fold, and are exact after it.
    replays = [0, 0]

    def write(conn: Any, k: int) -> None:
        rng = random.Random(100 + k)
        for step in range(12):
            pages = [
                random_page(rng, f"{n:012x}", T0 + timedelta(days=9 * step, minutes=k))
                for n in rng.sample(range(1, 30), 6)
            ]
            while True:
                try:
                    write_batch(conn, pages, fold=fold)
                    break
                except psycopg2.extensions.TransactionRollbackError:
                    conn.rollback()
                    replays[k] += 1
            if step == 5:
                gone = PostGone(
                    post_id=f"{k + 1:012x}",
                    url="https://medium.com/p/x",
                    status="deleted",
                    http_status=410,
                    at=T0 + timedelta(days=70),
                )
                write_gone(conn, [gone], fold=fold)

    side_by_side(db_dsn, 2, write)
    conn = connect(db_dsn)
    try:
        if not fold:
            assert summaries.pending(conn) > 0
            assert scalar(conn, "SELECT count(*) FROM domain_totals") == 0  # none folded yet
            assert summaries.fold(conn) > 0
        assert summaries.pending(conn) == 0
        assert_agree(conn)
    finally:
        conn.close()
    print(f"replayed batches after deadlocks: {replays}")


def test_a_fold_killed_midway_loses_nothing_and_the_next_one_is_exact(db_dsn: str) -> None:
    rng = random.Random(7)
    db = connect(db_dsn)
    write_batch(db, [random_page(rng, f"{n:012x}", T0) for n in range(1, 9)], fold=False)
    pending = summaries.pending(db)
    assert pending > 0
    folder = connect(db_dsn)
    with folder.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        cur.execute("SELECT pg_advisory_lock(%s, %s)", summaries.FOLD_LOCK)
    folder.commit()
    with folder.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("SELECT summaries_fold()")  # done, not committed: then the process dies
    # another folder meanwhile: it does not wait, and leaves the work to the lock's holder
    other = connect(db_dsn)
    assert summaries.try_fold(other) is None
    with db.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    db.commit()
    with pytest.raises(psycopg2.Error), folder.cursor() as cur:
        cur.execute("SELECT 1")
    assert summaries.pending(db) == pending  # the dead fold's work rolled back whole
    assert summaries.try_fold(other) is not None
    assert summaries.pending(db) == 0
    assert_agree(db)
    other.close()
    db.close()


@pytest.mark.parametrize("seed", [4, 5])
def test_new_posts_changed_before_their_first_fold_are_counted_once(db: Any, seed: int) -> None:
    # New posts' links go to the log by reference (0024); recrawls, lost links
    # and gone posts before the fold leave facets of their own. A fold every
    # few batches must count each post as its links are then, once.
    rng = random.Random(seed)
    posts = [f"{n:012x}" for n in range(1, 40)]
    stored: set[str] = set()
    for step in range(24):
        at = T0 + timedelta(days=6 * step)
        if step % 6 == 5:
            gone = rng.sample(sorted(stored), 2)
            write_gone(
                db,
                [PostGone(p, f"https://medium.com/p/{p}", "deleted", 410, at) for p in gone],
                fold=False,
            )
        else:
            chosen = rng.sample(posts, 6)
            write_batch(db, [random_page(rng, p, at) for p in chosen], fold=False)
            stored.update(chosen)
        if step % 4 == 3:
            assert summaries.pending(db) > 0
            db.rollback()
            assert summaries.fold(db) > 0
            assert summaries.pending(db) == 0
            assert scalar(db, "SELECT count(*) FROM summary_fresh_posts") == 0
            assert_agree(db)


def test_new_posts_are_logged_by_reference_and_counted_as_pending(db: Any) -> None:
    rng = random.Random(9)
    pages = [random_page(rng, f"{n:012x}", T0) for n in range(1, 6)]
    write_batch(db, pages, fold=False)
    links = scalar(db, "SELECT count(*) FROM links")
    # no facet per link: one row per new post, and its links are what is pending
    assert scalar(db, "SELECT count(*) FROM summary_fresh_posts") == 5
    assert scalar(db, "SELECT count(*) FROM summary_pending") == 0
    assert summaries.pending(db) == links > 0
    db.rollback()
    # a recrawl of two of them before the fold: their changes are facets
    write_batch(
        db, [random_page(rng, f"{n:012x}", T0 + timedelta(days=3)) for n in (1, 2)], fold=False
    )
    assert scalar(db, "SELECT count(*) FROM summary_pending") > 0
    db.rollback()
    summaries.fold(db)
    assert_agree(db)


def test_a_fold_counts_a_new_post_committed_after_its_snapshot_the_next_time(
    db_dsn: str,
) -> None:
    rng = random.Random(13)
    writer = connect(db_dsn)
    folder = connect(db_dsn)
    write_batch(writer, [random_page(rng, f"{n:012x}", T0) for n in range(1, 4)], fold=False)
    # a fold whose snapshot is taken, then a batch of new posts committed
    folder.autocommit = False
    with folder.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("SELECT 1")
        write_batch(writer, [random_page(rng, f"{n:012x}", T0) for n in range(4, 7)], fold=False)
        cur.execute("SELECT summaries_fold()")
    folder.commit()
    assert scalar(writer, "SELECT count(*) FROM summary_fresh_posts") == 3
    writer.rollback()
    summaries.fold(writer)
    assert_agree(writer)
    writer.close()
    folder.close()


def test_a_fold_outside_repeatable_read_is_refused(db: Any) -> None:
    with pytest.raises(psycopg2.Error, match="REPEATABLE READ"), db.cursor() as cur:
        cur.execute("SELECT summaries_fold()")
    db.rollback()


def test_a_report_made_before_the_fold_says_what_it_does_not_count(db: Any) -> None:
    from harvest.analysis.report import render
    from harvest.db.report_numbers import Filters, report_numbers

    rng = random.Random(11)
    write_batch(db, [random_page(rng, f"{n:012x}", T0) for n in range(1, 6)], fold=False)
    numbers = report_numbers(db, Filters())
    waiting = summaries.pending(db)
    assert numbers["not_counted_yet"] == waiting > 0
    assert f"{waiting:,} stored link changes were not counted yet" in render(numbers)
    with pytest.raises(ValueError, match="transactions of its own"):
        summaries.fold(db)  # inside the report's transaction
    db.rollback()
    summaries.fold(db)
    numbers = report_numbers(db, Filters())
    assert numbers["not_counted_yet"] == 0 and numbers["verdict"]["links"] > 0
    assert "not counted yet" not in render(numbers)


# A harvest as the store of 0011 left it, written in SQL (today's store writes
# today's schema): posts in two years and several months, by three authors,
# linking four domains with every rel, some links lost, one post moved to
# another author and tag after its links were stored.
_HARVEST_OF_0011 = """
INSERT INTO domains (domain) SELECT 'd' || g || '.example' FROM generate_series(1, 4) g;
INSERT INTO hosts (host, domain_id) SELECT domain, domain_id FROM domains;
INSERT INTO authors (username, first_seen, last_seen)
SELECT 'a' || g, now(), now() FROM generate_series(1, 3) g;
INSERT INTO publications (key, first_seen, last_seen) VALUES ('pub', now(), now());
INSERT INTO posts (medium_id, author_id, publication_id, tags, first_published_at,
                   first_crawled_at, last_crawled_at)
SELECT lpad(to_hex(g), 12, '0'), 1 + g % 3, CASE WHEN g % 2 = 0 THEN 1 END,
       ARRAY['t' || g % 2], timestamptz '2021-11-01' + g * interval '23 days', now(), now()
FROM generate_series(1, 12) g;
INSERT INTO links (post_id, location, position, target_url, host_id, domain_id, kind, rel,
                   nofollow, ugc, sponsored, first_seen, last_seen, lost_at)
SELECT 1 + g % 12, 'body', g, 'https://d' || 1 + g % 4 || '.example/' || g, 1 + g % 4,
       1 + g % 4, 'text', (ARRAY['{}', '{nofollow}', '{ugc,nofollow}', '{sponsored}'])[1 + g % 4]
       ::text[], g % 4 IN (1, 2), g % 4 = 2, g % 4 = 3, now(), now(),
       CASE WHEN g % 9 = 0 THEN now() END
FROM generate_series(1, 90) g;
UPDATE posts SET author_id = 3, tags = '{t9}' WHERE post_id = 4;
SELECT summaries_fold();
"""


def test_0012_to_0016_upgrade_a_harvest_that_has_links(pg_server: Any) -> None:
    # A harvest stored under 0011 (domain_posts and domain_authors kept every
    # pair, domain_stats every month, links their rel as text[]) upgraded in
    # place: the pairs with dofollow links move over, the rest is read from
    # links from then on, the months add up into years, rel values go to their
    # dictionary, and further batches keep every summary exact.
    name = f"harvest_t_0012_{random.randrange(10**9)}"
    dsn = pg_server.create(name)
    conn = connect(dsn)
    try:
        migrate(conn, upto=11)
        with conn.cursor() as cur:
            cur.execute(_HARVEST_OF_0011)
        conn.commit()
        dofollow_pairs = scalar(conn, "SELECT count(*) FROM domain_posts WHERE dofollow > 0")
        assert dofollow_pairs > 0
        months = scalar(conn, "SELECT count(DISTINCT month) FROM domain_stats")
        assert months > scalar(
            conn, "SELECT count(DISTINCT extract(year FROM month)) FROM domain_stats"
        )
        rels = rows(conn, "SELECT post_id, position, rel FROM links ORDER BY 1, 2")
        # up to the last migration before the generated layer (whose regate
        # would empty domain_dofollow_posts of these small domains)
        migrate(conn, upto=19)
        assert scalar(conn, "SELECT to_regclass('domain_posts')") is None
        assert scalar(conn, "SELECT to_regclass('domain_authors')") is None
        assert scalar(conn, "SELECT count(*) FROM domain_dofollow_posts") == dofollow_pairs
        assert scalar(conn, "SELECT count(*) FROM rels") == 4
        assert (
            rows(
                conn,
                "SELECT l.post_id, l.position, r.rel FROM links l JOIN rels r USING (rel_id) "
                "ORDER BY 1, 2",
            )
            == rels
        )
        assert scalar(conn, "SELECT count(*) FROM backlinks WHERE rel = '{ugc,nofollow}'") > 0
        migrate(conn)
        assert scalar(conn, "SELECT count(*) FROM domain_dofollow_posts") == 0
        set_large_domain(dsn, LARGE)
        assert scalar(conn, "SELECT count(*) FROM domain_dofollow_posts") == dofollow_pairs
        assert_agree(conn)
        rng = random.Random(21)
        posts = [f"{n:012x}" for n in range(1, 16)]
        for step in range(4):
            write_batch(conn, [random_page(rng, p, T0 + timedelta(days=9 * step)) for p in posts])
        gone = PostGone(posts[0], f"https://medium.com/p/{posts[0]}", "deleted", 410, T0)
        write_gone(conn, [gone])
        assert_agree(conn)
    finally:
        conn.close()
        pg_server.drop(name)


def _kept(db: Any, domain: str) -> tuple[int, int]:
    """The domain's links (live and lost) and its rows in domain_stats."""
    return (
        scalar(
            db,
            "SELECT count(*) FROM links l JOIN domains d USING (domain_id) WHERE d.domain = %s",
            (domain,),
        ),
        scalar(
            db,
            "SELECT count(*) FROM domain_stats s JOIN domains d USING (domain_id) "
            "WHERE d.domain = %s",
            (domain,),
        ),
    )


@pytest.mark.parametrize("fold", [True, False], ids=["fold_each_batch", "fold_later"])
def test_a_domain_gains_its_rows_as_it_grows_large_and_loses_them_as_it_shrinks(
    db: Any, fold: bool
) -> None:
    # Three links a post to grow.example: small (counted from its links when
    # read) until it reaches LARGE links, kept from the fold that crosses on.
    step = 0
    while _kept(db, "grow.example")[0] < LARGE + 3:
        links = [
            make_link(f"https://grow.example/{step}/{k}", k, rel=() if k else ("nofollow",))
            for k in range(3)
        ]
        write_batch(db, [make_page(f"{step + 1:012x}", links, T0)], fold=fold)
        if not fold and step % 2:
            summaries.fold(db)
        n, kept = _kept(db, "grow.example")
        if fold or step % 2:
            assert (kept > 0) == (n >= LARGE), (n, kept)
            assert_agree(db)
        step += 1
    assert _kept(db, "grow.example")[1] > 0
    assert scalar(db, "SELECT count(*) FROM domain_dofollow_posts") > 0
    # Links deleted (as a renormalizer's merge deletes them) take it back under.
    with db.cursor() as cur:
        cur.execute(
            "DELETE FROM links WHERE domain_id = (SELECT domain_id FROM domains "
            "WHERE domain = 'grow.example') AND post_id IN (SELECT post_id FROM posts "
            "WHERE medium_id < %s)",
            (f"{step - 1:012x}",),
        )
    db.commit()
    summaries.fold(db)
    n, kept = _kept(db, "grow.example")
    assert n < LARGE and kept == 0
    assert scalar(db, "SELECT count(*) FROM domain_dofollow_posts") == 0
    assert_agree(db)


def test_regate_brings_the_tables_to_a_new_threshold_with_facets_pending(
    db: Any, db_dsn: str
) -> None:
    # Every domain small, batches left unfolded: a lower threshold installed
    # then gives the domains now large their rows from their links less what
    # is pending, and the fold after it adds the pending facets once.
    set_large_domain(db_dsn, 10**6)
    rng = random.Random(31)
    posts = [f"{n:012x}" for n in range(1, 25)]
    write_batch(db, [random_page(rng, p, T0) for p in posts[:12]])
    for step in range(1, 4):
        write_batch(
            db,
            [random_page(rng, p, T0 + timedelta(days=40 * step)) for p in rng.sample(posts, 8)],
            fold=False,
        )
    assert summaries.pending(db) > 0
    assert scalar(db, "SELECT count(*) FROM domain_stats") == 0
    set_large_domain(db_dsn, LARGE)
    assert scalar(db, "SELECT count(*) FROM domain_stats") > 0
    assert summaries.pending(db) > 0
    db.rollback()
    summaries.fold(db)
    assert_agree(db)
    # and back up: the rows go
    set_large_domain(db_dsn, 10**6)
    assert scalar(db, "SELECT count(*) FROM domain_stats") == 0
    assert_agree(db)
