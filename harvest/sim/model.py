"""A deterministic Medium: authors, publications, tags and posts with known links.

Everything follows from (seed, size). Each post knows exactly which outbound
links its page carries and what harvest must record for them (normalized
target, location, rel flags), so a crawl can be checked against the manifest
without trusting harvest's own code for the expectations.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

ERAS = ("graf2016", "graf2018", "react2020", "pw2022", "pw2025")
# rel on outbound body links by era (see shared/medium-pages/SOURCES.md)
BODY_REL = {
    "graf2016": "nofollow",
    "graf2018": "nofollow noopener",
    "react2020": "noopener nofollow",
    "pw2022": "noopener ugc nofollow",
    "pw2025": "noopener ugc nofollow",
}
TAGS = (
    "seo",
    "marketing",
    "programming",
    "python",
    "startup",
    "design",
    "writing",
    "data-science",
    "productivity",
    "javascript",
    "ux",
    "leadership",
    "health",
    "travel",
    "music",
    "ai",
)
TLDS = ("com", "org", "net", "io", "dev", "co.uk", "de", "fr", "github.io")
WORDS = (
    "alpha",
    "bright",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "grove",
    "harbor",
    "island",
    "juniper",
    "kestrel",
    "lumen",
    "meadow",
    "nimbus",
    "orbit",
    "prairie",
    "quartz",
    "river",
    "summit",
    "tundra",
)


@dataclass(slots=True)
class SimLink:
    """One anchor a page shows, and what harvest must make of it."""

    href: str  # as written in the page
    text: str
    rel: str | None  # the rel attribute as served (None: no attribute)
    kind: str  # text, image, link_card, embed
    block: str  # paragraph, list, quote, heading, caption, figure, link_card, bio
    location: str  # body or author_bio
    expected_url: str  # normalized target harvest must record
    variant_only: int | None = None  # shown only in this version of the post (recrawl tests)

    @property
    def rel_tokens(self) -> list[str]:
        seen: dict[str, None] = {}
        for token in (self.rel or "").replace(",", " ").lower().split():
            seen.setdefault(token, None)
        return list(seen)


@dataclass(slots=True)
class Author:
    username: str
    name: str
    bio_links: list[SimLink] = field(default_factory=list)
    # Medium serves a new or low-trust account's posts with robots "noindex".
    noindex: bool = False


@dataclass(slots=True)
class Publication:
    slug: str
    name: str
    domain: str | None  # its own domain, when it has one


@dataclass(slots=True)
class Post:
    post_id: str
    slug: str
    title: str
    author: Author
    publication: Publication | None
    tags: list[str]
    published: datetime
    era: str
    links: list[SimLink] = field(default_factory=list)
    size: int = 60_000  # target page size in bytes
    # member_only: a logged-out client (every crawler) gets a truncated preview
    access: str = "public"
    # a cross-post: the canonical names the author's own site
    canonical_elsewhere: str | None = None
    # deleted (404), suspended (410 naming Medium's rules), moved (301 elsewhere)
    fate: str | None = None
    # pinned by its author: first in their profile's listing, whatever its age
    pinned: bool = False
    # when its publication listed it, if long after it was published
    listed: datetime | None = None

    @property
    def listed_at(self) -> datetime:
        return self.listed or self.published

    @property
    def served_host(self) -> str:
        """Where the page is served: a moved post lives on its author's subdomain."""
        if self.fate == "moved":
            return f"{self.author.username.lower()}.medium.com"
        return self.host

    @property
    def served_url(self) -> str:
        if self.fate == "moved":
            return f"https://{self.served_host}/{self.slug}-{self.post_id}"
        return self.url

    def preview_cut(self, variant: int) -> int:
        """How many body links a logged-out reader sees of a member-only post."""
        body = [link for link in self.links_in(variant) if link.location == "body"]
        return max(1, len(body) // 3)

    @property
    def host(self) -> str:
        if self.publication and self.publication.domain:
            return self.publication.domain
        return "medium.com"

    @property
    def url(self) -> str:
        """The canonical URL (what harvest records)."""
        if self.publication and self.publication.domain:
            return f"https://{self.publication.domain}/{self.slug}-{self.post_id}"
        if self.publication:
            return f"https://medium.com/{self.publication.slug}/{self.slug}-{self.post_id}"
        return f"https://medium.com/@{self.author.username}/{self.slug}-{self.post_id}"

    @property
    def path(self) -> str:
        return self.url.split("/", 3)[3]

    def links_in(self, variant: int) -> list[SimLink]:
        return [
            link for link in self.links if link.variant_only is None or link.variant_only == variant
        ]


def ms(when: datetime) -> int:
    """A time as Medium's answers give it: milliseconds since the epoch."""
    return int(when.timestamp() * 1000)


# Each listing's order: the key its posts come in, descending. A tag's go by
# publish time, a user's profile puts the pinned post first, a publication's
# go by when it listed each. The keys are JSON (the GraphQL cursors name them).
def tag_order(p: Post) -> tuple[Any, ...]:
    return (ms(p.published), p.post_id)


def profile_order(p: Post) -> tuple[Any, ...]:
    return (int(p.pinned), ms(p.published), p.post_id)


def publication_order(p: Post) -> tuple[Any, ...]:
    return (ms(p.listed_at), p.post_id)


@dataclass(slots=True)
class World:
    seed: int
    posts: list[Post]
    authors: list[Author]
    publications: list[Publication]
    tags: list[str]
    start: datetime
    _by_id: dict[str, Post] = field(default_factory=dict, repr=False)
    # (kind, key) -> (len(posts) when made, the list): a world of 10,000 posts
    # answers a listing per request without sorting it again, and a test that
    # adds posts sees them.
    _lists: dict[tuple[str, str], tuple[int, list[Post]]] = field(default_factory=dict, repr=False)

    def post(self, post_id: str) -> Post:
        return self._by_id[post_id]

    def __post_init__(self) -> None:
        self._by_id = {p.post_id: p for p in self.posts}

    def _newest_first(
        self,
        kind: str,
        key: str,
        keep: Callable[[Post], bool],
        order: Callable[[Post], tuple[Any, ...]] | None = None,
    ) -> list[Post]:
        made = self._lists.get((kind, key))
        if made is not None and made[0] == len(self.posts):
            return made[1]
        found = sorted((p for p in self.posts if keep(p)), key=order or tag_order, reverse=True)
        self._lists[(kind, key)] = (len(self.posts), found)
        return found

    def tagged(self, tag: str) -> list[Post]:
        return self._newest_first("tag", tag, lambda p: tag in p.tags)

    def by_author(self, username: str) -> list[Post]:
        return self._newest_first("user", username, lambda p: p.author.username == username)

    def in_publication(self, slug: str) -> list[Post]:
        return self._newest_first(
            "publication", slug, lambda p: p.publication is not None and p.publication.slug == slug
        )

    def profile_listing(self, username: str) -> list[Post]:
        """A user's posts as their GraphQL listing gives them: pinned first."""
        return self._newest_first(
            "profile",
            username,
            lambda p: p.author.username == username,
            profile_order,
        )

    def publication_listing(self, slug: str) -> list[Post]:
        """A publication's posts as its GraphQL listing gives them: by when it
        listed each."""
        return self._newest_first(
            "listing",
            slug,
            lambda p: p.publication is not None and p.publication.slug == slug,
            publication_order,
        )


def _domain(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}{rng.randint(1, 400)}.{rng.choice(TLDS)}"


def _target(rng: random.Random) -> str:
    """An already normalized outbound URL."""
    host = ("www." if rng.random() < 0.4 else "") + _domain(rng)
    path = "/".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
    query = f"?id={rng.randint(1, 999)}" if rng.random() < 0.3 else ""
    return f"https://{host}/{path}{query}"


# Tracking a writer's links carry; harvest removes it, the raw href keeps it.
def _tracked(url: str, rng: random.Random) -> str:
    sep = "&" if "?" in url else "?"
    return (
        url
        + sep
        + rng.choice(["utm_source=medium&utm_medium=referral", "fbclid=IwAR0xyz", "gclid=abc123"])
    )


def build_world(seed: int = 1, size: int = 10, *, fates: bool = False) -> World:
    """The world for (seed, size); ``fates`` adds what makes links worth less:
    noindexed authors, member-only posts, cross-posts, deleted, suspended and
    moved posts (chosen by position, so links and ids stay those of the plain world)."""
    rng = random.Random(seed)
    start = datetime(2016, 1, 4, 9, 0, tzinfo=UTC)
    n_authors = max(3, size // 4)
    authors = [_author(i, rng) for i in range(n_authors)]
    pubs = [
        Publication("the-lab", "The Lab", None),
        Publication("field-notes", "Field Notes", "fieldnotes.example"),  # its own domain
        Publication("open-code", "Open Code", None),
    ]
    posts = [_post(i, size, rng, authors[i % n_authors], pubs) for i in range(size)]
    _pin_and_list(posts)
    if fates:
        _give_fates(posts, authors)
    return World(seed, posts, authors, pubs, sorted({t for p in posts for t in p.tags}), start)


def _author(i: int, rng: random.Random) -> Author:
    a = Author(username=f"{rng.choice(WORDS)}{i}", name=f"{rng.choice(WORDS).title()} Writer {i}")
    for j in range(rng.randint(0, 2)):
        url = f"https://{_domain(rng)}/about"
        # Author cards link out with no rel at all, or nofollow in graf days.
        rel = None if j % 2 == 0 else "nofollow"
        a.bio_links.append(SimLink(url, url, rel, "text", "bio", "author_bio", url))
    return a


def _post(i: int, size: int, rng: random.Random, author: Author, pubs: list[Publication]) -> Post:
    """The world's post number ``i``, drawn from ``rng`` in the world's order."""
    era = ERAS[i % len(ERAS)]
    pub = pubs[i % 4] if i % 4 < 3 else None
    post_id = f"{rng.getrandbits(44):011x}"[-11:] if i % 7 == 3 else f"{rng.getrandbits(48):012x}"
    if not any(c.isdigit() for c in post_id):
        post_id = post_id[:-1] + "7"
    tags = rng.sample(TAGS[: max(4, min(len(TAGS), size // 3))], k=rng.randint(1, 3))
    if i % 3 == 0 and "seo" not in tags:
        tags[0] = "seo"
    words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
    post = Post(
        post_id=post_id,
        slug="-".join(words),
        title=" ".join(w.title() for w in words),
        author=author,
        publication=pub,
        tags=list(dict.fromkeys(tags)),
        published=_published(era, i, size, rng.randint(0, 2), rng.randint(0, 23)),
        era=era,
        size=rng.randint(55_000, 320_000),
    )
    post.links = _post_links(post, rng)
    return post


# The years each markup era covers, as the real pages show them: posts spread
# over 2015-2026 with the markup (and rel) of their time.
ERA_YEARS = {
    "graf2016": (datetime(2015, 1, 5, tzinfo=UTC), datetime(2016, 12, 20, tzinfo=UTC)),
    "graf2018": (datetime(2017, 1, 9, tzinfo=UTC), datetime(2018, 12, 17, tzinfo=UTC)),
    "react2020": (datetime(2019, 1, 7, tzinfo=UTC), datetime(2021, 12, 13, tzinfo=UTC)),
    "pw2022": (datetime(2022, 1, 10, tzinfo=UTC), datetime(2023, 12, 18, tzinfo=UTC)),
    "pw2025": (datetime(2024, 1, 8, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)),
}


def _published(era: str, i: int, size: int, day: int, hour: int) -> datetime:
    """The i-th post's first publish time: its era's posts spread evenly over the
    era's years (``day`` and ``hour`` jitter it), as deterministic as the rest."""
    first, last = ERA_YEARS[era]
    span = (last - first).days - 3
    per_era = max(1, -(-size // len(ERAS)))
    return first + timedelta(days=(i // len(ERAS)) * span // per_era + day, hours=hour)


def _pin_and_list(posts: list[Post]) -> None:
    """What listings show besides publish order (chosen by position, as the
    fates are): one author in three pins their oldest post, and a
    publication lists one of its posts in eleven 2-15 months after it was
    published."""
    own: dict[str, list[Post]] = {}
    for post in posts:
        own.setdefault(post.author.username, []).append(post)
    for k, theirs in enumerate(own.values()):
        if k % 3 == 1 and len(theirs) >= 2:
            min(theirs, key=lambda p: (p.published, p.post_id)).pinned = True
    for i, post in enumerate(posts):
        if post.publication is not None and i % 11 == 5:
            post.listed = post.published + timedelta(days=60 + i % 400)


def _give_fates(posts: list[Post], authors: list[Author]) -> None:
    for i, author in enumerate(authors):
        author.noindex = i % 4 == 3
    for i, post in enumerate(posts):
        if i % 10 == 7:
            post.fate = "deleted"
        elif i % 10 == 8:
            post.fate = "suspended"
        elif i % 13 == 6 and post.host == "medium.com":
            post.fate = "moved"
        elif i % 4 == 2 and not post.era.startswith("graf"):
            post.access = "member_only"  # Medium's paywall came after the graf years
        elif i % 9 == 2:
            post.canonical_elsewhere = f"https://{post.author.username}.example/{post.slug}"


def _post_links(post: Post, rng: random.Random) -> list[SimLink]:
    custom = bool(post.publication and post.publication.domain)
    graf = post.era.startswith("graf")
    # Publications on their own domains served body links without nofollow.
    body_rel = "noopener" if custom else BODY_REL[post.era]
    links: list[SimLink] = []

    def add(
        href: str,
        text: str,
        rel: str | None,
        kind: str,
        block: str,
        expected: str,
        variant_only: int | None = None,
    ) -> None:
        links.append(SimLink(href, text, rel, kind, block, "body", expected, variant_only))

    for _ in range(rng.randint(3, 8)):
        url = _target(rng)
        block = rng.choice(["paragraph", "paragraph", "paragraph", "list", "quote", "heading"])
        add(url, f"{rng.choice(WORDS)} {rng.choice(WORDS)}", body_rel, "text", block, url)
    tracked = _target(rng)
    add(_tracked(tracked, rng), "with tracking", body_rel, "text", "paragraph", tracked)
    wrapped = _target(rng)
    add(
        "https://medium.com/r/?url=" + quote(_tracked(wrapped, rng), safe=""),
        "wrapped",
        body_rel,
        "text",
        "paragraph",
        wrapped,
    )
    caption = _target(rng)
    add(caption, "Photo credit", body_rel, "text", "caption", caption)
    image = _target(rng)
    add(image, f"chart of {rng.choice(WORDS)}", body_rel, "image", "figure", image)
    card = _target(rng)
    if graf:
        # graf link cards: a titled anchor with rel and an image anchor without
        add(card, f"Card {rng.choice(WORDS).title()}", "nofollow", "link_card", "link_card", card)
        add(card, "", None, "link_card", "link_card", card)
    else:
        add(card, f"Card {rng.choice(WORDS).title()}", body_rel, "link_card", "link_card", card)
    sponsored = _target(rng)
    add(sponsored, "a sponsor", "sponsored noopener", "text", "paragraph", sponsored)
    # present in the first version of the page only / added in the second
    gone = _target(rng)
    add(gone, "removed later", body_rel, "text", "paragraph", gone, variant_only=0)
    new = _target(rng)
    add(new, "added later", body_rel, "text", "paragraph", new, variant_only=1)
    for bio in post.author.bio_links:
        # From 2022 the author card under a post marks its links ugc nofollow too;
        # before, it carried the author's links as they were (no rel, or nofollow).
        rel = "noopener ugc nofollow" if post.era.startswith("pw") else bio.rel
        links.append(
            SimLink(bio.href, bio.text, rel, "text", "bio", "author_bio", bio.expected_url)
        )
    return links
