"""What tests build harvests from: links, pages, and random worlds written by
the store (every module that needs a harvest takes them from here)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from harvest.db.store import write_batch, write_gone
from harvest.items import ArticlePage, PostGone
from harvest.links import host_of, registered_domain
from harvest.medium.records import Article, Author, Link, PageFacts, Publication

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_link(
    url: str,
    position: int,
    *,
    rel: tuple[str, ...] = ("nofollow",),
    text: str = "t",
    location: str = "body",
    raw: str | None = None,
) -> Link:
    host = host_of(url)
    return Link(
        post_id=None,
        target_url=url,
        target_url_raw=raw or url,
        domain=registered_domain(host),
        host=host,
        anchor_text=text,
        kind="text",
        rel=list(rel),
        nofollow="nofollow" in rel,
        ugc="ugc" in rel,
        sponsored="sponsored" in rel,
        location=location,  # type: ignore[arg-type]
        position=position,
        block="paragraph",
    )


def make_page(
    post_id: str,
    links: list[Link],
    at: datetime,
    *,
    title: str = "A post",
    author: str = "writer",
    tags: list[str] | None = None,
) -> ArticlePage:
    art = Article(
        post_id=post_id,
        url=f"https://medium.com/@{author}/p-{post_id}",
        canonical_url=f"https://medium.com/@{author}/p-{post_id}",
        author=Author(author, "A Writer"),
        publication=Publication("pub", "The Pub", None),
        title=title,
        published_at="2020-01-01T00:00:00Z",
        tags=tags or ["seo"],
        facts=PageFacts(access="public", complete=True),
    )
    return ArticlePage(article=art, links=links, fetched_at=at)


DOMAINS = [
    "github.com",
    "www.github.com",
    "gist.github.com",
    "example.org",
    "blog.example.org",
    "youtube.com",
    "a.co.uk",
    "b.io",
]
RELS = [(), ("nofollow",), ("ugc", "nofollow"), ("sponsored",), ("noopener",)]
AUTHORS = ["ann", "bob", "cyd", "dee"]
PUBLICATIONS = [None, Publication("pub", "The Pub", None), Publication("two", "Two", "two.example")]
TAGS = ["seo", "python", "writing", "data"]


def random_page(rng: random.Random, post_id: str, at: Any) -> ArticlePage:
    links = [
        make_link(
            f"https://{rng.choice(DOMAINS)}/{rng.randint(0, 6)}",
            position,
            rel=rng.choice(RELS),
            location=rng.choice(["body", "body", "author_bio"]),
        )
        for position in range(rng.randint(0, 6))
    ]
    page = make_page(
        post_id, links, at, author=rng.choice(AUTHORS), tags=rng.sample(TAGS, rng.randint(0, 3))
    )
    art = page.article
    art.author = Author(rng.choice(AUTHORS), None)
    art.publication = rng.choice(PUBLICATIONS)
    art.published_at = rng.choice(
        [
            None,
            "2016-03-02T00:00:00Z",
            "2021-07-30T00:00:00Z",
            "2021-12-31T23:00:00Z",
            "2025-01-15T00:00:00Z",
        ]
    )
    preview = rng.random() < 0.15
    art.facts = PageFacts(
        access="member_only" if preview else "public",
        complete=not preview,
        robots=rng.choice([[], [], ["noindex"], ["nofollow"]]),
        canonical_elsewhere=rng.random() < 0.15,
    )
    if preview:
        page.status = "member_only"
    return page


def random_world(db: Any, seed: int, posts: int = 30) -> None:
    rng = random.Random(seed)
    ids = [f"{n:012x}" for n in range(1, posts + 1)]
    for step in range(12):
        write_batch(
            db, [random_page(rng, p, T0 + timedelta(hours=step)) for p in rng.sample(ids, 8)]
        )
    write_gone(
        db, [PostGone(ids[0], "https://medium.com/p/x", "deleted", 404, T0 + timedelta(days=1))]
    )


def months_world(db: Any, seed: int, posts: int = 30) -> None:
    """Crawls over eight months: posts recrawled later keep their links' first
    sight, gain links first seen then and lose others; one post is deleted."""
    rng = random.Random(seed)
    ids = [f"{n:012x}" for n in range(1, posts + 1)]
    for step in range(12):
        at = T0 + timedelta(days=21 * step, hours=step)
        write_batch(db, [random_page(rng, p, at) for p in rng.sample(ids, 8)])
    write_gone(
        db, [PostGone(ids[1], "https://medium.com/p/x", "deleted", 404, T0 + timedelta(days=200))]
    )


# What each path leaves out on purpose (deploy/README.md, "Summaries").
