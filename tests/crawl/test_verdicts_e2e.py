"""End to end: what each link is worth, crawled from a simulator whose posts have fates.

Member-only posts served truncated, noindexed authors, cross-posts with an
external canonical, deleted (404), suspended (410) and moved (301) posts. The
expected verdict of every link is worked out here from the simulator's world,
not from harvest's own rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvest.db.connection import connect
from harvest.sim.model import Post, SimLink
from harvest.sim.server import SimServer
from tests.pg import rows, scalar
from tests.sim.crawl import finish, start_crawl

pytestmark = pytest.mark.slow

SIZE = 30
SETTINGS = {"HARVEST_BROWSER": "0"}


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with SimServer(seed=1, size=SIZE, fates=True) as server:
        yield server


def crawl(sim: SimServer, dsn: str, posts: list[Post], tmp: Path, *args: str) -> str:
    urls = tmp / "urls.txt"
    urls.write_text("".join(p.url + "\n" for p in posts))
    return finish(start_crawl(sim.url, dsn, [f"urls_file={urls}", *args], SETTINGS))


def expected_reason(post: Post, link: SimLink, x_robots: str = "") -> str:
    tokens = link.rel_tokens
    for flag in ("sponsored", "ugc", "nofollow"):
        if flag in tokens:
            return flag
    if post.author.noindex:
        return "page_noindex"
    if "nofollow" in x_robots:
        return "page_nofollow"
    if post.canonical_elsewhere:
        return "canonical_elsewhere"
    return "follow"


def served(post: Post, variant: int = 0) -> list[SimLink]:
    links = post.links_in(variant)
    if post.access != "member_only":
        return links
    body = [link for link in links if link.location == "body"][: post.preview_cut(variant)]
    return body + [link for link in links if link.location != "body"]


def stored_verdicts(conn: Any, post_id: str | None = None) -> Counter[tuple[Any, ...]]:
    where = "WHERE post_id = %s" if post_id else ""
    return Counter(
        rows(
            conn,
            f"SELECT post_id, target_url, location, reason FROM backlinks {where}",
            (post_id,) if post_id else None,
        )
    )


def status_of(post: Post) -> str:
    if post.fate:
        return post.fate
    return "member_only" if post.access == "member_only" else "live"


def test_every_link_gets_the_verdict_its_page_deserves(
    sim: SimServer, db_dsn: str, tmp_path: Path
) -> None:
    posts = sim.world.posts
    plain = next(p for p in posts if not (p.fate or p.author.noindex or p.canonical_elsewhere)
                 and p.access == "public")  # fmt: skip
    sim.x_robots[plain.post_id] = "googlebot: nofollow"
    log = crawl(sim, db_dsn, posts, tmp_path)
    kinds = Counter(p.fate for p in posts if p.fate in ("deleted", "suspended"))
    assert f"{kinds['deleted']} deleted" in log and f"{kinds['suspended']} suspended" in log
    members = sum(1 for p in posts if p.access == "member_only")
    assert f"{members} member-only previews" in log
    conn = connect(db_dsn)
    statuses = dict(rows(conn, "SELECT medium_id, status FROM posts"))
    assert statuses == {p.post_id: status_of(p) for p in posts}
    # HTTP facts came through: the 301 of a moved post, Medium's header, X-Robots-Tag
    moved = next(p for p in posts if p.fate == "moved")
    assert rows(
        conn,
        "SELECT http_status, redirects, fulfilled_by, url FROM posts WHERE medium_id = %s",
        (moved.post_id,),
    ) == [(200, [moved.url], "sim/lite/main-1", moved.served_url)]
    assert scalar(conn, "SELECT x_robots FROM posts WHERE medium_id = %s", (plain.post_id,)) == [
        "nofollow"
    ]
    want: Counter[tuple[Any, ...]] = Counter()
    for post in posts:
        if post.fate in ("deleted", "suspended"):
            continue  # never harvested before it went: no links to judge
        header = sim.x_robots.get(post.post_id, "")
        for link in served(post):
            reason = expected_reason(post, link, header)
            want[(post.post_id, link.expected_url, link.location, reason)] += 1
    got = stored_verdicts(conn)
    assert got == want, (list((got - want).items())[:5], list((want - got).items())[:5])
    reasons = Counter(r for *_, r in got.elements())
    assert {"follow", "nofollow", "ugc", "sponsored", "page_noindex", "page_nofollow"} <= set(
        reasons
    ) and "canonical_elsewhere" in reasons
    conn.close()


def test_a_post_turning_member_only_then_deleted_loses_no_link(
    sim: SimServer, db_dsn: str, tmp_path: Path
) -> None:
    post = next(
        p
        for p in sim.world.posts
        if p.access == "public" and not (p.fate or p.author.noindex or p.canonical_elsewhere)
        and not p.era.startswith("graf")
    )  # fmt: skip
    crawl(sim, db_dsn, [post], tmp_path)
    conn = connect(db_dsn)
    before = stored_verdicts(conn, post.post_id)
    total = sum(before.values())
    assert total == len(post.links_in(0))
    # the author put it behind the paywall: a logged-out recrawl sees a preview
    post.access = "member_only"
    log = crawl(sim, db_dsn, [post], tmp_path, "recrawl=1")
    assert "1 member-only previews" in log
    assert scalar(conn, "SELECT count(*) FROM links WHERE lost_at IS NOT NULL") == 0
    after = Counter(r for *_, r in stored_verdicts(conn, post.post_id).elements())
    body = [link for link in post.links_in(0) if link.location == "body"]
    hidden = len(body) - post.preview_cut(0)
    assert after["preview_only"] == hidden and sum(after.values()) == total
    assert rows(conn, "SELECT status, access, complete FROM posts") == [
        ("member_only", "member_only", False)
    ]
    # then the post is deleted: links keep their last state, with the reason
    post.fate = "deleted"
    crawl(sim, db_dsn, [post], tmp_path, "recrawl=1")
    assert scalar(conn, "SELECT count(*) FROM links WHERE lost_at IS NOT NULL") == 0
    assert {r for *_, r in stored_verdicts(conn, post.post_id)} == {"post_deleted"}
    history = rows(conn, "SELECT status FROM post_history ORDER BY at")
    assert history == [("live",), ("member_only",), ("deleted",)]
    # back, public and whole, with one link removed: only that one is lost
    post.fate, post.access, sim.variant = None, "public", 1
    crawl(sim, db_dsn, [post], tmp_path, "recrawl=1")
    lost = rows(conn, "SELECT anchor_text FROM links WHERE lost_at IS NOT NULL")
    assert lost == [("removed later",)]
    conn.close()
