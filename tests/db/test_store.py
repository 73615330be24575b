"""write_batch against a real PostgreSQL: idempotence, lost links, dedupe, hostile text."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import psycopg2
import pytest

from harvest.db.connection import connect
from harvest.db.migrate import available, current_version, migrate
from harvest.db.store import HostIds, copy_text, write_batch
from harvest.items import ArticlePage, ProfilePage
from tests.factories import T0, make_link, make_page
from tests.medium.helpers import all_pages, parsed
from tests.pg import rows, scalar


def real_pages(at: datetime) -> list[ArticlePage]:
    pages = []
    for name in all_pages():
        result = parsed(name)
        if result.article is not None:
            pages.append(ArticlePage(result.article, list(result.links), at))
    return pages


def link_state(conn: Any) -> list[tuple[Any, ...]]:
    return rows(
        conn,
        """SELECT p.medium_id, l.location, l.position, l.target_url, l.first_seen,
                                l.last_seen, l.lost_at
                         FROM links l JOIN posts p USING (post_id)
                         ORDER BY 1, 2, 3, 4""",
    )


def test_migrate_is_idempotent_and_concurrent_safe(db_dsn: str) -> None:
    conn = connect(db_dsn)
    assert migrate(conn) == []  # the template is already migrated
    assert current_version(conn) == max(m.version for m in available())
    errors: list[BaseException] = []

    def again() -> None:
        try:
            c = connect(db_dsn)
            migrate(c)
            c.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=again) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert scalar(conn, "SELECT count(*) FROM schema_migrations") == len(available())


def test_real_pages_are_stored(db: Any) -> None:
    pages = real_pages(T0)
    result = write_batch(db, pages)
    # 14 article pages, 11 distinct posts (three eras of one post, two of another)
    assert (result.pages, result.duplicate_pages) == (11, 3)
    stored = scalar(db, "SELECT count(*) FROM links")
    assert stored == result.links
    assert scalar(db, "SELECT count(*) FROM posts") == 11
    # spot checks through the views
    assert rows(
        db,
        """SELECT author, anchor_text, rel, dofollow FROM backlinks
                       WHERE domain = 'blogger.com'""",
    ) == [("ev", "Blogger", ["noopener", "ugc", "nofollow"], False)]
    assert rows(
        db,
        "SELECT domain, links, nofollow_links FROM domain_summary "
        "WHERE domain = 'frontiersconference.org'",
    )[0][1:] in ((1, 0), (1, 1))


def test_upsert_is_idempotent_and_moves_last_seen(db: Any) -> None:
    pages = [
        make_page(
            "0123456789ab",
            [make_link("https://a.example/", 0), make_link("https://b.example/", 1)],
            T0,
        )
    ]
    write_batch(db, pages)
    first = link_state(db)
    again = [
        make_page(
            "0123456789ab",
            [make_link("https://a.example/", 0), make_link("https://b.example/", 1)],
            T0 + timedelta(days=1),
        )
    ]
    write_batch(db, again)
    second = link_state(db)
    assert len(second) == len(first) == 2
    for before, after in zip(first, second, strict=True):
        assert before[:5] == after[:5]  # same key, same first_seen
        assert after[5] == T0 + timedelta(days=1)
        assert after[6] is None
    # the same batch once more changes nothing at all
    write_batch(db, again)
    assert link_state(db) == second
    assert scalar(db, "SELECT count(*) FROM posts") == 1
    assert scalar(db, "SELECT count(*) FROM authors") == 1
    assert scalar(db, "SELECT last_crawled_at FROM posts") == T0 + timedelta(days=1)
    assert scalar(db, "SELECT first_crawled_at FROM posts") == T0


def test_lost_links_are_marked_and_restored(db: Any) -> None:
    a, b, c = (make_link(f"https://{x}.example/", i) for i, x in enumerate("abc"))
    write_batch(db, [make_page("0123456789ab", [a, b, c], T0)])
    t1 = T0 + timedelta(days=1)
    c1 = make_link("https://c.example/", 1)  # b removed, c moved up
    result = write_batch(db, [make_page("0123456789ab", [a, c1], t1)])
    assert result.lost == 2  # b at 1 and c at 2 are no longer there
    state = {(r[2], r[3]): r[6] for r in link_state(db)}
    assert state == {
        (0, "https://a.example/"): None,
        (1, "https://b.example/"): t1,
        (1, "https://c.example/"): None,
        (2, "https://c.example/"): t1,
    }
    t2 = T0 + timedelta(days=2)
    write_batch(db, [make_page("0123456789ab", [a, b, c], t2)])
    state = {(r[2], r[3]): r[6] for r in link_state(db)}
    assert state[(1, "https://b.example/")] is None  # back
    assert state[(2, "https://c.example/")] is None
    assert state[(1, "https://c.example/")] == t2  # the moved copy is now the lost one
    # an older fetch arriving late does not resurrect or regress anything
    write_batch(db, [make_page("0123456789ab", [a, c1], t1)])
    assert {(r[2], r[3]): r[6] for r in link_state(db)} == state
    assert scalar(db, "SELECT max(last_seen) FROM links") == t2


def test_batch_deduplicates_pages_and_link_keys(db: Any) -> None:
    old = make_page("0123456789ab", [make_link("https://old.example/", 0)], T0, title="old")
    new = make_page(
        "0123456789ab",
        [make_link("https://new.example/", 0)] * 3,
        T0 + timedelta(hours=1),
        title="new",
    )
    result = write_batch(db, [new, old, make_page("abcdef012345", [], T0)])
    assert (result.pages, result.duplicate_pages, result.duplicate_links) == (2, 1, 2)
    assert scalar(db, "SELECT title FROM posts WHERE medium_id = '0123456789ab'") == "new"
    assert rows(db, "SELECT target_url FROM links") == [("https://new.example/",)]


def test_hostile_text_is_stored_verbatim(db: Any) -> None:
    payloads = [
        "'); DROP TABLE links; --",
        'Robert"); DELETE FROM posts WHERE (1=1',
        "back\\slash \\N \\t tab\there\nnewline\r\n",
        '=HYPERLINK("http://evil.example","x")',
        "\u202eRTL override\u202c and emoji 🍾",
        "%s %(name)s {0}",
    ]
    links = [
        make_link(f"https://inj.example/{i}?q='x'%22", i, text=p) for i, p in enumerate(payloads)
    ]
    page = make_page(
        "0123456789ab", links, T0, title=payloads[0], author="o'brien", tags=["it's", 'q"t']
    )
    write_batch(db, [page])
    assert [r[0] for r in rows(db, "SELECT anchor_text FROM links ORDER BY position")] == payloads
    assert scalar(db, "SELECT title FROM posts") == payloads[0]
    assert scalar(db, "SELECT username FROM authors") == "o'brien"
    assert scalar(db, "SELECT tags FROM posts") == ["it's", 'q"t']
    assert scalar(db, "SELECT count(*) FROM links") == len(payloads)


def test_nul_bytes_are_rejected_by_postgres_without_the_normalize_pipeline(db: Any) -> None:
    # The store relies on NormalizePipeline for NUL bytes; this shows why.
    page = make_page("0123456789ab", [make_link("https://a.example/", 0, text="nul\x00byte")], T0)
    try:
        write_batch(db, [page])
    except (psycopg2.DataError, ValueError):
        db.rollback()
    else:  # pragma: no cover - would mean PostgreSQL accepted NUL in text
        raise AssertionError("PostgreSQL stored a NUL byte")
    assert scalar(db, "SELECT count(*) FROM posts") == 0  # the whole batch rolled back


def test_raw_href_kept_only_when_it_differs(db: Any) -> None:
    links = [
        make_link("https://a.example/x", 0),
        make_link("https://b.example/", 1, raw="HTTPS://B.example:443"),
    ]
    write_batch(db, [make_page("0123456789ab", links, T0)])
    assert rows(db, "SELECT target_url_raw FROM links ORDER BY position") == [
        (None,),
        ("HTTPS://B.example:443",),
    ]
    assert rows(db, "SELECT target_url_raw FROM backlinks ORDER BY position") == [
        ("https://a.example/x",),
        ("HTTPS://B.example:443",),
    ]


def test_profile_bio_links(db: Any) -> None:
    bio = make_link("https://me.example/", 0, location="author_bio")
    write_batch(db, [], [ProfilePage("writer", "A Writer", [bio], T0)])
    assert rows(
        db,
        """SELECT a.username, l.target_url, d.domain FROM author_links l
                       JOIN authors a USING (author_id) JOIN domains d USING (domain_id)""",
    ) == [("writer", "https://me.example/", "me.example")]
    write_batch(db, [], [ProfilePage("writer", "A Writer", [], T0 + timedelta(days=1))])
    assert scalar(db, "SELECT lost_at FROM author_links") == T0 + timedelta(days=1)


def test_views_answer_the_questions(db: Any) -> None:
    write_batch(
        db,
        [
            make_page(
                "0123456789ab",
                [
                    make_link("https://x.example/", 0),
                    make_link("https://www.x.example/a", 1, rel=()),
                    make_link("https://y.example/", 2, rel=("ugc", "nofollow")),
                ],
                T0,
                tags=["seo", "growth"],
            ),
            make_page(
                "abcdef012345",
                [make_link("https://x.example/b", 0, rel=("sponsored",))],
                T0,
                author="other",
                tags=["seo"],
            ),
        ],
    )
    summary = rows(
        db,
        """SELECT domain, links, posts, authors, nofollow_links, dofollow_links,
                                 sponsored_links, nofollow_share FROM domain_summary ORDER BY 1""",
    )
    assert [r[:7] for r in summary] == [
        ("x.example", 3, 2, 2, 1, 1, 1),
        ("y.example", 1, 1, 1, 1, 0, 0),
    ]
    rel = {(r[0], r[1]): r[2:] for r in rows(db, "SELECT * FROM rel_summary")}
    assert rel[("tag", "seo")] == (4, 2, 1, 1, 1)
    assert rel[("tag", "growth")] == (3, 2, 1, 0, 1)
    assert rel[("publication", "pub")] == (4, 2, 1, 1, 1)
    assert rel[("year", "2020")] == (4, 2, 1, 1, 1)
    assert rows(db, "SELECT post_id, dofollow FROM backlinks WHERE host = 'www.x.example'") == [
        ("0123456789ab", True)
    ]


def test_block_and_location_are_escaped_not_shifted(db: Any) -> None:
    odd: Any = make_link("https://a.example/", 0)
    odd.anchor_text = "quote\tand\nnewline \\N"
    write_batch(db, [make_page("0123456789ab", [odd], T0)])
    assert scalar(db, "SELECT anchor_text FROM links") == "quote\tand\nnewline \\N"
    assert scalar(db, "SELECT block FROM backlinks") == "paragraph"
    # A tab in an enum field (location, block) must reach PostgreSQL as data
    # and be refused as no label of its type, not split the COPY line into
    # shifted columns.
    for field, value in (("location", "body\tx"), ("block", "quote\tand\nnewline \\N")):
        bad = make_link("https://b.example/", 0)
        setattr(bad, field, value)
        with pytest.raises(psycopg2.errors.InvalidTextRepresentation, match="enum link_"):
            write_batch(db, [make_page("abcdef012345", [bad], T0)])
        db.rollback()
    assert scalar(db, "SELECT count(*) FROM links") == 1


def test_copy_streams_any_number_of_lines(db: Any) -> None:
    with db, db.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (n int, s text)")
        assert copy_text(cur, "t", ("n", "s"), iter(())) == 0
        sent = copy_text(cur, "t", ("n", "s"), (f"{i}\tline {i}\n" for i in range(10_001)))
        assert sent == 10_001
        cur.execute("SELECT count(*), sum(n), max(s) FROM t")
        assert cur.fetchone() == (10_001, sum(range(10_001)), "line 9999")


def test_authors_keep_the_newest_name_and_the_widest_window(db: Any) -> None:
    def page(post_id: str, name: str, at: datetime) -> ArticlePage:
        p = make_page(post_id, [], at)
        assert p.article.author is not None
        p.article.author.name = name
        return p

    later = T0 + timedelta(days=2)
    write_batch(db, [page("0123456789ab", "Old Name", T0), page("abcdef012345", "New Name", later)])
    # A late batch holding an older fetch must not roll the name back.
    write_batch(db, [page("bbbbbbbbbbbb", "Ancient Name", T0 - timedelta(days=1))])
    assert rows(db, "SELECT name, first_seen, last_seen FROM authors") == [
        ("New Name", T0 - timedelta(days=1), later)
    ]


def test_hosts_unknown_to_batch_and_cache_are_an_error() -> None:
    cache = HostIds()
    cache.commit({"a.example": (1, 1)}, {"a.example": 1})
    assert cache.lookup(["a.example"], {"b.example": (2, 1)}) == {"a.example": (1, 1)}
    with pytest.raises(LookupError, match=r"c\.example"):
        cache.lookup(["a.example", "c.example"], {})


def test_concurrent_writers_share_dictionaries_and_people(db_dsn: str) -> None:
    # Two writers with their own connections and caches store batches that share
    # authors, hosts and domains, at the same time. Every link must point at the
    # host row of its own URL, and every shared row must exist once.
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        conn = connect(db_dsn)
        # The second writer's cache is too small for the batch, so it is
        # emptied while a batch still needs the ids it held.
        cache = HostIds() if k == 0 else HostIds(limit=50)
        try:
            start.wait()
            for b in range(6):
                pages = [
                    make_page(
                        f"{k:02x}{b:02x}{i:08x}",
                        [
                            make_link(f"https://{sub}h{(i + j) % 40}.example/{k}", j)
                            for j, sub in enumerate(("", "www.", "blog."))
                        ],
                        T0 + timedelta(minutes=b),
                        author=f"author{i % 7}",
                    )
                    for i in range(40)
                ]
                write_batch(conn, pages, run_id=None, host_ids=cache)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    conn = connect(db_dsn)
    try:
        assert scalar(conn, "SELECT count(*) FROM posts") == 2 * 6 * 40
        assert scalar(conn, "SELECT count(*) FROM links") == 2 * 6 * 40 * 3
        assert scalar(conn, "SELECT count(*) FROM authors") == 7
        assert scalar(conn, "SELECT count(*) FROM hosts") == 120
        assert scalar(conn, "SELECT count(*) FROM domains") == 40
        assert scalar(conn, "SELECT count(DISTINCT host) FROM hosts") == 120
        wrong = """SELECT count(*) FROM links l JOIN hosts h USING (host_id)
                   JOIN domains d ON d.domain_id = l.domain_id
                   WHERE split_part(l.target_url, '/', 3) <> h.host
                      OR h.domain_id <> l.domain_id
                      OR d.domain <> regexp_replace(h.host, '^(www|blog)\\.', '')"""
        assert scalar(conn, wrong) == 0
    finally:
        conn.close()


def test_every_value_the_parser_names_is_a_label_of_its_column(db: Any) -> None:
    from typing import get_args

    from harvest.medium.records import Block, LinkKind, Location

    for enum, literal in (
        ("link_location", Location),
        ("link_kind", LinkKind),
        ("link_block", Block),
    ):
        labels = rows(
            db,
            "SELECT enumlabel FROM pg_enum WHERE enumtypid = %s::regtype ORDER BY enumsortorder",
            (enum,),
        )
        names = [r[0] for r in labels]
        assert set(names) == set(get_args(literal)), enum
        # sorted as text, so ORDER BY gives the order it gave before 0021
        assert names == sorted(names), enum


def test_the_link_row_is_narrow_and_the_view_speaks_text(db: Any) -> None:
    link = make_link("https://a.example/some/path?q=1", 3, location="author_bio")
    write_batch(db, [make_page("0123456789ab", [link], T0)])
    # the URL's key (64 bits of its md5, url_key()) is in the unique index only
    assert scalar(db, "SELECT url_key('https://a.example/') <> url_key('https://b.example/')")
    assert (
        rows(
            db,
            "SELECT attname FROM pg_attribute WHERE attrelid = 'links'::regclass "
            "AND attname = 'url_hash' AND NOT attisdropped",
        )
        == []
    )
    assert scalar(db, "SELECT pg_get_indexdef('links_key'::regclass)").endswith(
        '(post_id, location, "position", url_key(target_url))'
    )
    # 4-byte enums and ids: the fixed part of the row (with a row header of
    # 24), 108 bytes before 0021, 72 before 0022
    fixed = scalar(
        db,
        "SELECT pg_column_size(ROW(post_id, location, position, host_id, domain_id, kind, "
        "block, rel_id)) FROM links",
    )
    assert fixed <= 64, fixed
    types = dict(
        rows(
            db,
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'backlinks'::regclass AND attname IN ('location', 'kind', 'block')",
        )
    )
    assert types == {"location": "text", "kind": "text", "block": "text"}
    assert rows(
        db, "SELECT location, kind, block FROM backlinks WHERE location LIKE 'author%'"
    ) == [("author_bio", "text", "paragraph")]
