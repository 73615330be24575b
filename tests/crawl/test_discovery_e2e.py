"""End to end: GraphQL discovery (-a history) against the simulator's /_/graphql.

Every crawl is `scrapy crawl medium` in its own process; what it found is read
from the database, from its feed of listed posts (-a articles=0) and from the
simulator's record of the GraphQL operations it was asked.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harvest.db.connection import connect
from harvest.sim.model import Post, World
from harvest.sim.server import Faults, SimServer
from tests.pg import rows
from tests.sim.crawl import crawl_report, finish, start_crawl

pytestmark = pytest.mark.slow

QUICK = {"AUTOTHROTTLE_ENABLED": "0", "HARVEST_BROWSER": "0"}


def crawl(sim: SimServer, dsn: str, *args: str, status: int = 0, **settings: Any) -> str:
    return finish(start_crawl(sim.url, dsn, args, {**QUICK, **settings}), status=status)


def listed(path: Path) -> list[str]:
    """The post ids a crawl's feed listed, in order, duplicates kept."""
    out = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if "post_id" in item and "walk" not in item:
            out.append(item["post_id"])
    return out


def stored_posts(dsn: str) -> list[str]:
    conn = connect(dsn)
    found = [r[0] for r in rows(conn, "SELECT medium_id FROM posts")]
    conn.close()
    return found


def operations(sim: SimServer, name: str | None = None) -> list[dict[str, Any]]:
    return [op for op in sim.graphql_requests if name is None or op["operation"] == name]


def in_months(posts: list[Post], first: tuple[int, int], last: tuple[int, int]) -> list[Post]:
    return [p for p in posts if first <= (p.published.year, p.published.month) <= last]


# -- complete walks -------------------------------------------------------------------


def test_a_tags_eight_years_are_listed_month_by_month_completely(
    db_dsn: str, tmp_path: Path
) -> None:
    with SimServer(seed=1, size=10_000) as sim:
        expected = in_months(sim.world.tagged("seo"), (2019, 1), (2026, 12))
        years = {p.published.year for p in expected}
        assert len(expected) >= 2_000 and len(years) == 8  # the issue's tag
        feed = tmp_path / "listed.jsonl"
        log = crawl(
            sim,
            db_dsn,
            "tags=seo",
            "history=2019-01..2026-12",
            "articles=0",
            FEEDS=json.dumps({str(feed): {"format": "jsonlines"}}),
        )
        found = listed(feed)
        assert sorted(found) == sorted(p.post_id for p in expected)
        assert len(found) == len(set(found))  # no post twice
        ops = operations(sim, "TagArchiveFeedQuery")
        months = {
            (
                o["variables"]["timeRange"]["inMonth"]["year"],
                o["variables"]["timeRange"]["inMonth"]["month"],
            )
            for o in ops
        }
        assert len(months) == 96
        # one request per month, and one more for each further page of 25
        per_month: dict[tuple[int, int], int] = {}
        for p in expected:
            key = (p.published.year, p.published.month)
            per_month[key] = per_month.get(key, 0) + 1
        assert len(ops) == sum(max(1, -(-per_month.get(m, 0) // 20)) for m in months)
        assert "discovery: GraphQL" in log and "96 walks complete" in log


def test_all_time_walks_a_tag_whole_and_harvests_its_posts(db_dsn: str) -> None:
    with SimServer(seed=1, size=90) as sim:
        expected = {p.post_id for p in sim.world.tagged("seo")}
        log = crawl(sim, db_dsn, "tags=seo", "history=all", "page_size=4")
        assert set(stored_posts(db_dsn)) == expected
        ops = operations(sim)
        assert len(ops) == -(-len(expected) // 4)
        assert all(o["variables"]["timeRange"] == {"kind": "ALL_TIME"} for o in ops)
        assert "walked https://medium.com/tag/seo/archive through GraphQL" in log


def test_a_users_and_a_custom_domain_publications_posts(db_dsn: str) -> None:
    with SimServer(seed=1, size=90) as sim:
        user = sim.world.authors[2].username
        expected = {p.post_id for p in sim.world.by_author(user)}
        expected |= {p.post_id for p in sim.world.in_publication("field-notes")}
        crawl(
            sim,
            db_dsn,
            f"users={user}",
            "publications=fieldnotes.example",
            "history=all",
            "page_size=2",
        )
        stored = stored_posts(db_dsn)
        assert sorted(stored) == sorted(expected)
        pub_ops = operations(sim, "PublicationContentDataQuery")
        assert {o["host"] for o in pub_ops} == {"fieldnotes.example"}  # asked on its own domain
        assert all(
            o["variables"]["ref"] == {"slug": None, "domain": "fieldnotes.example"} for o in pub_ops
        )
        assert len(operations(sim, "UserProfileQuery")) == -(-len(sim.world.by_author(user)) // 2)


def test_a_month_range_limits_a_publications_posts_and_ends_its_walk_early(
    db_dsn: str, tmp_path: Path
) -> None:
    with SimServer(seed=1, size=300) as sim:
        posts = sim.world.in_publication("the-lab")
        expected = in_months(posts, (2020, 1), (2021, 12))
        feed = tmp_path / "listed.jsonl"
        crawl(
            sim,
            db_dsn,
            "publications=the-lab",
            "history=2020-01..2021-12",
            "page_size=5",
            "articles=0",
            FEEDS=json.dumps({str(feed): {"format": "jsonlines"}}),
        )
        assert sorted(listed(feed)) == sorted(p.post_id for p in expected)
        # newest first: the walk stops at the first page older than the range
        older = [p for p in posts if (p.published.year, p.published.month) < (2020, 1)]
        assert older and len(operations(sim)) < -(-len(posts) // 5)


def test_walk_pages_bounds_each_walk_and_the_summary_says_so(db_dsn: str) -> None:
    with SimServer(seed=1, size=90) as sim:
        log = crawl(sim, db_dsn, "tags=seo", "history=all", "page_size=3", "walk_pages=2")
        assert len(operations(sim)) == 2
        assert len(stored_posts(db_dsn)) == 6
        assert "1 stopped at walk_pages" in log
        assert "stopped walking https://medium.com/tag/seo/archive after 2 requests" in log


@pytest.mark.parametrize(("fault", "stored"), [("stuck", 6), ("empty_more", 3)])
def test_a_listing_that_does_not_move_ends_its_walk_and_the_summary_says_so(
    db_dsn: str, fault: str, stored: int
) -> None:
    # The first answer is right; the second names the cursor it was asked
    # with (stuck) or lists nothing yet says more follow (empty_more): the
    # walk ends there instead of asking until walk_pages.
    with SimServer(seed=1, size=90) as sim:
        sim.graphql.fault = fault
        sim.graphql.after = 1
        log = crawl(sim, db_dsn, "tags=seo", "history=all", "page_size=3")
        assert len(operations(sim)) == 2
        assert len(stored_posts(db_dsn)) == stored
        assert "1 stopped where the listing did not move" in log
        assert (
            "stopped walking https://medium.com/tag/seo/archive after 2 requests: "
            "the listing did not move" in log
        )


def test_graphql_errors_fall_back_to_the_listing_page(db_dsn: str) -> None:
    with SimServer(seed=1, size=60) as sim:
        sim.graphql.fault = "error"
        # the tag page holds part of what the walk would have: a failure, exit 3
        log = crawl(sim, db_dsn, "tags=seo", "history=all", status=3)
        reasons = [f["reason"] for f in crawl_report(db_dsn)["failures"]]
        assert reasons == ["GraphQL errors: Internal server error"]
        assert "GraphQL answered https://medium.com/tag/seo/archive with errors" in log
        assert "fell back to listing pages: error ×1" in log
        assert {p.post_id for p in sim.world.tagged("seo")[:5]} <= set(stored_posts(db_dsn))


def test_a_recrawl_lists_only_what_is_newer_than_the_last_walk(db_dsn: str) -> None:
    with SimServer(seed=1, size=60) as sim:
        crawl(sim, db_dsn, "tags=seo", "history=all", "page_size=5")
        before = len(operations(sim))
        newest = sim.world.tagged("seo")[0]
        fresh = [_new_post(sim.world, newest, i) for i in range(3)]
        log = crawl(sim, db_dsn, "tags=seo", "history=all", "page_size=5")
        assert len(operations(sim)) - before == 1  # one page holds the new posts and the mark
        assert {p.post_id for p in fresh} <= set(stored_posts(db_dsn))
        assert "stopped at the last crawl's newest" in log


def test_a_pinned_post_first_in_a_users_listing_does_not_end_the_recrawl(db_dsn: str) -> None:
    # Medium lists a user's pinned post first, whatever its age: the recrawl
    # reads past it to the new post below it, and stops at the next one seen.
    with SimServer(seed=1, size=90) as sim:
        user = next(
            a.username
            for a in sim.world.authors
            if len(sim.world.by_author(a.username)) >= 3
            and sim.world.profile_listing(a.username)[0].pinned
        )
        crawl(sim, db_dsn, f"users={user}", "history=all", "page_size=1")
        before = len(operations(sim))
        fresh = _new_post(sim.world, sim.world.by_author(user)[0], 0)
        log = crawl(sim, db_dsn, f"users={user}", "history=all", "page_size=1")
        # the pinned post, the new one, and the newest seen before
        assert len(operations(sim)) - before == 3
        assert fresh.post_id in stored_posts(db_dsn)
        assert "stopped at the last crawl's newest" in log


def test_a_publications_walk_goes_by_listing_time(db_dsn: str, tmp_path: Path) -> None:
    # A post the publication listed long after it was published sits among
    # newer ones: its age ends neither a month range nor the walk.
    with SimServer(seed=1, size=300) as sim:
        listing = sim.world.publication_listing("the-lab")
        late = max(
            (p for p in listing if p.listed is not None), key=lambda p: p.listed_at - p.published
        )
        start = late.published + timedelta(days=32)
        first = (start.year, start.month)
        expected = [p for p in listing if (p.published.year, p.published.month) >= first]
        below = listing[listing.index(late) + 1 :]
        assert any(p in expected for p in below)  # posts in the range listed after it
        feed = tmp_path / "listed.jsonl"
        crawl(
            sim,
            db_dsn,
            "publications=the-lab",
            f"history={first[0]}-{first[1]:02d}..2026-12",
            "page_size=1",
            "articles=0",
            FEEDS=json.dumps({str(feed): {"format": "jsonlines"}}),
        )
        assert sorted(listed(feed)) == sorted(p.post_id for p in expected)


def _new_post(world: World, like: Post, n: int) -> Post:
    """A post published after every other, as if written since the last crawl."""
    post = replace(
        like,
        post_id=f"{0xABCDEF000000 + n:012x}",
        slug=f"fresh-post-{n}",
        published=datetime(2026, 11, 20 + n, 9, tzinfo=UTC),
        links=list(like.links),
        pinned=False,
        listed=None,
    )
    world.posts.append(post)
    world._by_id[post.post_id] = post
    return post


# -- resumed ------------------------------------------------------------------------------


def test_a_killed_walk_resumes_losing_nothing_and_repeating_at_most_one_page(
    db_dsn: str, tmp_path: Path
) -> None:
    walks = tmp_path / "walks.jsonl"
    with SimServer(seed=1, size=300) as sim:
        expected = {p.post_id for p in sim.world.tagged("seo")}
        pages = -(-len(expected) // 3)
        args = ("tags=seo", "history=all", "page_size=3")
        settings = {**QUICK, "HARVEST_WALKS_FILE": str(walks), "CONCURRENT_REQUESTS": "2"}
        proc = start_crawl(sim.url, db_dsn, args, settings)
        deadline = time.monotonic() + 120
        while len(operations(sim)) < pages // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        first = len(operations(sim))
        assert first < pages, "the walk ended before the kill: nothing was resumed"
        log = finish(start_crawl(sim.url, db_dsn, args, settings))
        assert set(stored_posts(db_dsn)) == expected
        assert len(operations(sim)) <= pages + 1
        assert "resuming 1 GraphQL walks" in log


# -- falling back, and saying so ------------------------------------------------------------


@pytest.mark.parametrize("after", [0, 2])
def test_drift_falls_back_to_the_tag_page_and_is_counted_with_the_answer_kept(
    db_dsn: str, tmp_path: Path, after: int
) -> None:
    with SimServer(seed=1, size=60) as sim:
        sim.graphql.fault, sim.graphql.after = "drift", after
        log = crawl(
            sim,
            db_dsn,
            "tags=seo",
            "history=all",
            "page_size=3",
            status=3,
            HARVEST_UNPARSED_DIR=str(tmp_path / "unparsed"),
        )
        # one walk's odd answer sends that walk to its page, not the host's
        assert "GraphQL discovery is off" not in log
        assert "fell back to listing pages: drift ×1" in log
        report = crawl_report(db_dsn)
        reasons = [f["reason"] for f in report["failures"]]
        assert any(
            r.startswith("GraphQL drift: data.tagFromSlug.posts.edges is missing") for r in reasons
        ), (reasons, report)
        kept = list((tmp_path / "unparsed").rglob("*"))
        assert any(p.is_file() for p in kept)
        # what GraphQL listed before the drift, and the tag page's first batch, are harvested
        first_batch = {p.post_id for p in sim.world.tagged("seo")[:5]}
        assert first_batch <= set(stored_posts(db_dsn))
        assert len(operations(sim)) == after + 1


def test_a_user_of_an_unknown_typename_falls_back_alone(db_dsn: str) -> None:
    # One user's answer names a typename the reader does not know: that walk
    # reads the profile page; the other users are still walked; a user
    # Medium says is suspended is an empty walk, not drift.
    with SimServer(seed=1, size=90) as sim:
        odd, gone, plain = (a.username for a in sim.world.authors[:3])
        sim.graphql.typenames = {odd: "UnavailableUser", gone: "SuspendedUser"}
        log = crawl(sim, db_dsn, f"users={odd},{gone},{plain}", "history=all", status=3)
        assert (
            f"GraphQL answer of a shape harvest does not know for https://medium.com/@{odd}" in log
        )
        assert "expected User, got 'UnavailableUser'" in log
        assert "GraphQL discovery is off" not in log
        assert "fell back to listing pages: drift ×1" in log
        assert f"walked https://medium.com/@{plain} through GraphQL" in log
        assert {p.post_id for p in sim.world.by_author(plain)} <= set(stored_posts(db_dsn))
        assert not {p.post_id for p in sim.world.by_author(gone)} & set(stored_posts(db_dsn))


def test_graphql_goes_off_for_a_host_once_several_walks_drift_and_says_which(
    db_dsn: str,
) -> None:
    with SimServer(seed=1, size=60) as sim:
        sim.graphql.fault = "drift"
        tags = sim.world.tags[:3]
        log = crawl(
            sim,
            db_dsn,
            f"tags={','.join(tags)}",
            "history=all",
            status=3,
            HARVEST_GRAPHQL_DRIFT_WALKS="2",
        )
        assert (
            "GraphQL discovery is off for medium.com for the rest of this crawl: drift in 2 walks (https://medium.com/tag/"
            in log
        )
        assert "fell back to listing pages: drift ×3" in log
        assert len(crawl_report(db_dsn)["failures"]) == 3


def test_a_challenged_endpoint_falls_back_and_is_counted_blocked(db_dsn: str) -> None:
    with SimServer(seed=1, size=60, faults=Faults(challenge=r"/_/graphql")) as sim:
        log = crawl(sim, db_dsn, "tags=seo", "history=all", status=3)
        assert "fell back to listing pages: challenge ×1" in log
        assert "GraphQL off for medium.com (challenged)" in log
        assert {p.post_id for p in sim.world.tagged("seo")[:5]} <= set(stored_posts(db_dsn))
        report = crawl_report(db_dsn)
        assert [f["kind"] for f in report["failures"]] == ["blocked"]


@pytest.mark.parametrize(
    ("rule", "what"),
    [("Disallow: /_/graphql", "/_/graphql"), ("Disallow: /tag/*/archive", "the walk's page")],
)
def test_robots_txt_turns_graphql_off_for_the_host(db_dsn: str, rule: str, what: str) -> None:
    with SimServer(seed=1, size=60) as sim:
        sim.robots_extra = [rule]
        log = crawl(sim, db_dsn, "tags=seo", "history=all")
        assert operations(sim) == []  # never asked
        assert (
            f"GraphQL discovery is off for medium.com for the rest of this crawl: robots.txt disallows {what}"
            in log
        )
        assert "fell back to listing pages: robots.txt ×1" in log
        assert {p.post_id for p in sim.world.tagged("seo")[:5]} <= set(stored_posts(db_dsn))


# -- sitemaps --------------------------------------------------------------------------------


def test_gzipped_sitemaps_and_their_429s(db_dsn: str) -> None:
    faults = Faults(burst_limit=6, burst_window=1.0, burst_retry_after=1, burst_once=True)
    with SimServer(seed=1, size=30, faults=faults) as sim:
        sim.gzip_sitemaps = True
        days = sorted(p.published.date() for p in sim.world.posts)
        log = crawl(sim, db_dsn, f"sitemap={days[0]}..{days[-1]}")
        assert set(stored_posts(db_dsn)) == {p.post_id for p in sim.world.posts}
        assert sim.answered.get(429, 0) > 0
        assert "unparsed" not in log.split("crawl finished")[-1]


def test_a_429_burst_on_graphql_is_waited_out_like_any_page(db_dsn: str, tmp_path: Path) -> None:
    faults = Faults(burst_limit=3, burst_window=2.0, burst_retry_after=1, burst_once=True)
    with SimServer(seed=1, size=300, faults=faults) as sim:
        expected = {p.post_id for p in sim.world.tagged("seo")}
        feed = tmp_path / "listed.jsonl"
        log = crawl(
            sim,
            db_dsn,
            "tags=seo",
            "history=all",
            "page_size=10",
            "articles=0",
            FEEDS=json.dumps({str(feed): {"format": "jsonlines"}}),
        )
        assert sim.answered.get(429, 0) > 0
        assert set(listed(feed)) == expected
        assert "walk complete" in log


def test_an_output_file_holds_articles_only(db_dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "posts.jsonl"
    with SimServer(seed=1, size=24) as sim:
        crawl(sim, db_dsn, "tags=seo", FEEDS=json.dumps({str(out): {"format": "jsonlines"}}))
    want = set(stored_posts(db_dsn))
    assert want
    records = [json.loads(line) for line in out.read_text().splitlines()]
    # the walk's own record went to the store and the log, not among the articles
    assert all("walk" not in r for r in records), [r for r in records if "walk" in r][:2]
    assert {r["article"]["post_id"] for r in records} == want
