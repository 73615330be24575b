"""Page facts in the store, post history and status, and the per-link verdict."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from harvest.db.store import write_batch, write_gone
from harvest.items import ArticlePage, FetchFacts, PostGone
from harvest.medium.records import PageFacts
from tests.factories import T0, make_link, make_page
from tests.medium.helpers import parsed
from tests.pg import rows, scalar

PID = "0123456789ab"
PUBLIC = PageFacts(access="public", complete=True)
PREVIEW = PageFacts(access="member_only", access_markers=["isLockedPreviewOnly"], complete=False)


def page(links: list[Any], at: Any, facts: PageFacts = PUBLIC, **kw: Any) -> ArticlePage:
    p = make_page(PID, links, at)
    p.article.facts = facts
    for key, value in kw.items():
        setattr(p, key, value)
    if facts.access == "member_only":
        p.status = "member_only"
    return p


def verdicts(db: Any) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT target_url, passes, reason FROM backlinks ORDER BY location, position",
    )


def test_a_real_pages_facts_are_stored(db: Any) -> None:
    result = parsed("article_2025_blog-medium_welcome-to-medium_rendered-dom_loggedin_mcp.html")
    assert result.article is not None
    fetch = FetchFacts(
        http_status=200,
        redirects=["https://medium.com/p/9e53ca408c48"],
        final_url="https://ev.medium.com/welcome-to-medium-9e53ca408c48",
        fulfilled_by="lite/main-20261201",
        x_robots=[],
    )
    write_batch(db, [ArticlePage(result.article, list(result.links), T0, fetch=fetch)])
    assert rows(
        db,
        """SELECT access, complete, paragraphs_seen, paragraphs_total, word_count, robots,
                  language, claps, responses, author_followers, http_status, redirects,
                  fulfilled_by, status, status_at, facts_at FROM posts""",
    ) == [
        (
            "public",
            True,
            28,
            28,
            828,
            ["index", "noarchive", "follow", "max-image-preview:large"],
            "en",
            33159,
            80,
            213548,
            200,
            ["https://medium.com/p/9e53ca408c48"],
            "lite/main-20261201",
            "live",
            T0,
            T0,
        )
    ]
    assert scalar(db, "SELECT count(*) FROM post_history") == 1


def test_history_grows_only_when_what_the_page_says_changes(db: Any) -> None:
    links = [make_link("https://a.example/", 0)]
    write_batch(db, [page(links, T0)])
    write_batch(db, [page(links, T0 + timedelta(days=1))])  # same facts: no row
    write_batch(db, [page(links, T0 + timedelta(days=2), PREVIEW)])
    write_batch(db, [page(links, T0 + timedelta(days=3), replace(PUBLIC, robots=["noindex"]))])
    assert rows(
        db, "SELECT at, status, access, complete, robots FROM post_history ORDER BY at"
    ) == [
        (T0, "live", "public", True, []),
        (T0 + timedelta(days=2), "member_only", "member_only", False, []),
        (T0 + timedelta(days=3), "live", "public", True, ["noindex"]),
    ]
    assert scalar(db, "SELECT status_at FROM posts") == T0 + timedelta(days=3)


def test_a_preview_loses_no_link_and_says_which_are_behind_the_cut(db: Any) -> None:
    a, b, c = (make_link(f"https://{x}.example/", i, rel=()) for i, x in enumerate("abc"))
    write_batch(db, [page([a, b, c], T0)])
    assert [v[1:] for v in verdicts(db)] == [(True, "follow")] * 3
    # the post turned member-only: a logged-out fetch shows the first link only
    result = write_batch(db, [page([a], T0 + timedelta(days=1), PREVIEW)])
    assert (result.lost, result.previews) == (0, 1)
    assert scalar(db, "SELECT count(*) FROM links WHERE lost_at IS NOT NULL") == 0
    assert verdicts(db) == [
        ("https://a.example/", True, "follow"),
        ("https://b.example/", False, "preview_only"),
        ("https://c.example/", False, "preview_only"),
    ]
    # a whole body again, without b: now b is lost, c is back in view
    write_batch(db, [page([a, replace(c, position=1)], T0 + timedelta(days=2))])
    reasons = {url: reason for url, _, reason in verdicts(db)}
    assert reasons["https://b.example/"] == "lost"
    assert reasons["https://a.example/"] == "follow"


def test_unknown_completeness_marks_nothing_lost(db: Any) -> None:
    a, b = (make_link(f"https://{x}.example/", i) for i, x in enumerate("ab"))
    write_batch(db, [page([a, b], T0)])
    unknown = PageFacts(access="member_only", access_markers=["isLocked"], complete=None)
    result = write_batch(db, [page([a], T0 + timedelta(days=1), unknown)])
    assert result.lost == 0


@pytest.mark.parametrize(
    ("http_status", "status"), [(404, "deleted"), (410, "deleted"), (410, "suspended")]
)
def test_a_gone_post_keeps_its_links_with_the_reason(
    db: Any, http_status: int, status: str
) -> None:
    write_batch(db, [page([make_link("https://a.example/", 0, rel=())], T0)])
    at = T0 + timedelta(days=5)
    gone = PostGone(PID, f"https://medium.com/p/{PID}", status, http_status, at)  # type: ignore[arg-type]
    assert write_gone(db, [gone, gone]) == 1
    assert rows(db, "SELECT status, status_at, http_status FROM posts") == [
        (status, at, http_status)
    ]
    assert rows(db, "SELECT lost_at, last_seen FROM links") == [(None, T0)]
    assert verdicts(db) == [("https://a.example/", False, f"post_{status}")]
    assert rows(db, "SELECT at, status FROM post_history ORDER BY at") == [
        (T0, "live"),
        (at, status),
    ]
    # a fetch older than the 404 (a late batch) does not bring the post back
    write_batch(db, [page([make_link("https://a.example/", 0, rel=())], T0 + timedelta(days=1))])
    assert scalar(db, "SELECT status FROM posts") == status


def test_a_gone_post_never_stored_is_still_recorded(db: Any) -> None:
    write_gone(db, [PostGone("abcdef012345", "https://medium.com/p/abcdef012345", "deleted", 404)])
    assert rows(db, "SELECT medium_id, status FROM posts") == [("abcdef012345", "deleted")]


# link_reason: the first reason that applies, in the documented order
REASONS = [
    # (status, lost, preview, sponsored, ugc, nofollow, robots, x_robots, canonical, want)
    ("deleted", True, True, True, True, True, ["noindex"], [], True, "post_deleted"),
    ("suspended", False, False, False, False, False, [], [], False, "post_suspended"),
    ("live", True, True, True, True, True, ["noindex"], [], True, "lost"),
    ("member_only", False, True, False, False, False, [], [], False, "preview_only"),
    ("live", False, False, True, True, True, [], [], False, "sponsored"),
    ("live", False, False, False, True, True, [], [], False, "ugc"),
    ("live", False, False, False, False, True, ["noindex"], [], False, "nofollow"),
    ("live", False, False, False, False, False, ["noindex"], [], True, "page_noindex"),
    ("live", False, False, False, False, False, ["none"], [], False, "page_noindex"),
    ("live", False, False, False, False, False, [], ["noindex"], False, "page_noindex"),
    ("live", False, False, False, False, False, ["nofollow"], [], True, "page_nofollow"),
    ("live", False, False, False, False, False, [], ["nofollow"], False, "page_nofollow"),
    ("moved", False, False, False, False, False, ["index"], [], True, "canonical_elsewhere"),
    ("member_only", False, False, False, False, False, ["noarchive"], [], False, "follow"),
]


@pytest.mark.parametrize("case", REASONS)
def test_link_reason_order(db: Any, case: tuple[Any, ...]) -> None:
    *args, want = case
    status, lost, preview, *flags, robots, x_robots, canonical = args
    got = scalar(
        db,
        "SELECT link_reason(%s, CASE WHEN %s THEN now() END, %s, %s, %s, %s, %s::text[],"
        " %s::text[], %s)",
        (status, lost, preview, *flags, robots, x_robots, canonical),
    )
    assert got == want


def test_page_level_reasons_through_the_view(db: Any) -> None:
    follow = make_link("https://a.example/", 0, rel=())
    nofollow = make_link("https://b.example/", 1, rel=("nofollow",))
    write_batch(db, [page([follow, nofollow], T0, replace(PUBLIC, robots=["noindex"]))])
    assert verdicts(db) == [
        ("https://a.example/", False, "page_noindex"),
        ("https://b.example/", False, "nofollow"),
    ]
    crosspost = replace(PUBLIC, canonical_elsewhere=True)
    write_batch(db, [page([follow, nofollow], T0 + timedelta(days=1), crosspost)])
    assert verdicts(db)[0][1:] == (False, "canonical_elsewhere")
    header = FetchFacts(http_status=200, x_robots=["nofollow"])
    write_batch(db, [page([follow, nofollow], T0 + timedelta(days=2), PUBLIC, fetch=header)])
    assert verdicts(db)[0][1:] == (False, "page_nofollow")
    assert scalar(db, "SELECT passing_links FROM domain_summary WHERE domain = 'a.example'") == 0
