"""Listing pages: tag, topic, profile, publication pages and the home feed.

A listing yields the posts it names and, on a profile page, the author's bio
links. (Paging cursors of the pre-2020 ``/_/api`` streams are not read: those
endpoints are gone, and no crawl followed them.)

2025 listings render each post as ``<article data-testid="post-preview">``; when
such cards exist only they are read, so sidebars and "who to follow" blocks
cannot add posts. Older listings (graf stream items, the 2019 React topic page)
have no card marker, so every anchor and ``data-href`` that is a post URL counts.

A post on a host that is not Medium's counts only where Medium itself says it
is a publication's: a card whose publication link is that host, a graf stream
item (``data-post-id``) around the link, or the post's own item in the listing
(the nearest block that holds no other post) linking that host's home page, as
the 2019 topic page's sections do. An anchor in an author's bio never names a
post, and a URL on some other host that merely ends in a post id makes neither
a post nor a publication domain the crawl would fetch.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from harvest.links import host_of, is_medium_host, normalize_url, strip_medium_tracking
from harvest.medium.article import read_head
from harvest.medium.dom import Node, Tree, ancestors
from harvest.medium.outbound import LinkRecorder
from harvest.medium.records import PageResult, PostRef
from harvest.medium.urls import author_from_url, post_id_from_url


def is_profile(tree: Tree, url: str | None) -> bool:
    if tree.css_first("header.hero--profile, [data-testid=userBio], .hero-description") is not None:
        return True
    path = urlsplit(url).path if url else ""
    return path.startswith("/@") and path.count("/") == 1


def parse_listing_tree(
    tree: Tree, url: str | None, internal_hosts: Iterable[str] = ()
) -> PageResult:
    page_url, base = _addresses(tree, url)
    profile = is_profile(tree, page_url)
    result = PageResult(kind="profile" if profile else "listing", url=page_url)
    result.posts = _listed_posts(tree, base, {h for h in internal_hosts if h})
    if profile:
        _bio_links(tree, result, base, page_url, internal_hosts)
    if not result.posts and not result.links:
        result.problems.append("no post URLs found on the listing")
    return result


def _addresses(tree: Tree, url: str | None) -> tuple[str | None, str]:
    """The listing's own address (where it was fetched, else what it calls
    itself) and the base its relative links resolve against."""
    head = read_head(tree)
    page_url = normalize_url(url) if url else None
    page_url = page_url or normalize_url(head.canonical or head.og_url)
    base = normalize_url(head.base_href, page_url) if head.base_href else page_url
    # Without an address, relative links on a Medium listing are medium.com paths
    # (custom-domain pages always carry a canonical URL).
    return page_url, base or "https://medium.com/"


def _listed_posts(tree: Tree, base: str, own_hosts: set[str]) -> list[PostRef]:
    """The posts the listing names, card by card where it has cards."""
    cards = [n for n in tree.css("article") if n.attrs.get("data-testid") == "post-preview"]
    containers: list[Node] = cards or [tree.body or tree.root]  # type: ignore[list-item]
    posts: dict[str, PostRef] = {}
    for container in containers:
        _read_container(container, base, posts, own_hosts, card=bool(cards))
    return list(posts.values())


def _bio_links(
    tree: Tree, result: PageResult, base: str, page_url: str | None, internal_hosts: Iterable[str]
) -> None:
    """A profile's own links: those of the author's bio, as the author's."""
    hosts = set(internal_hosts)
    if page_url:
        hosts.add(host_of(page_url) or "")
    owner = author_from_url(page_url)
    recorder = LinkRecorder(result, base, hosts, None, page_url, author=owner)
    for bio in tree.css(_BIO):
        for a in bio.css("a"):
            recorder.anchor(a, "author_bio", "bio", "text")


def _read_container(
    container: Node,
    base: str | None,
    posts: dict[str, PostRef],
    own_hosts: set[str],
    *,
    card: bool,
) -> None:
    owner = _CardOwner()
    found, foreign = _named_posts(container, base, posts, own_hosts, owner if card else None)
    for pid, ref in found.items():
        named_by = foreign.get(pid)
        if named_by is not None and not _attributed(
            named_by, ref, owner.publication if card else None, base
        ):
            continue
        if card:
            ref.author = ref.author or owner.author
            ref.site = ref.site or owner.publication
        posts[pid] = ref


def _named_posts(
    container: Node,
    base: str | None,
    posts: dict[str, PostRef],
    own_hosts: set[str],
    owner: _CardOwner | None,
) -> tuple[dict[str, PostRef], dict[str, Node]]:
    """The posts ``container`` links to that ``posts`` lacks, and of those on a host
    not Medium's, the element naming each; a card's other links go to ``owner``."""
    found: dict[str, PostRef] = {}
    foreign: dict[str, Node] = {}
    # The bio's own links, found from the bio down: walking up from every anchor
    # asked two attributes of a dozen ancestors each, a fifth of a listing's parse.
    in_bio = {a.mem_id for bio in container.css(_BIO) for a in bio.css("a[href], [data-href]")}
    for node in container.css("a[href], [data-href]"):
        if node.mem_id in in_bio:
            continue
        for u in _node_urls(node, base):
            pid = post_id_from_url(u)
            if pid is None:
                if owner is not None:
                    owner.saw(u)
                continue
            if pid in posts or pid in found:
                continue
            ref = _post_ref(pid, u)
            host = host_of(ref.url) or ""
            if not is_medium_host(host) and host not in own_hosts:
                foreign[pid] = node
            found[pid] = ref
    return found, foreign


class _CardOwner:
    """A card's author and publication links name the post's owner: the first of each."""

    def __init__(self) -> None:
        self.author: str | None = None
        self.publication: str | None = None

    def saw(self, url: str) -> None:
        who = author_from_url(url) if "/@" in url else None
        self.author = self.author or who
        if who is None and _is_home(url):
            self.publication = self.publication or host_of(url)


def _node_urls(node: Node, base: str | None) -> Iterable[str]:
    attrs = node.attrs
    for raw in (attrs.get("data-href"), attrs.get("href")):
        if raw:
            u = normalize_url(raw, base)
            if u is not None:
                yield u


def _attr(node: Node, name: str) -> str | None:
    # The document node above <html> has no attributes to ask for.
    return node.attrs.get(name) if node.tag and not node.tag.startswith("-") else None


# An author's bio on a profile: its links are the author's, not posts.
_BIO = ".hero-description, [data-testid=userBio]"


def _attributed(node: Node, ref: PostRef, card_pub: str | None, base: str | None) -> bool:
    """Whether Medium names this post, on a host of its own, as a publication's."""
    host = host_of(ref.url)
    if card_pub is not None and card_pub == host:
        return True
    for block in (node, *ancestors(node, 8)):
        if _attr(block, "data-post-id") == ref.post_id:
            return True
        home = other_post = False
        for a in block.css("a[href]"):
            u = normalize_url(a.attrs.get("href"), base)
            if u is None:
                continue
            pid = post_id_from_url(u)
            if pid is not None and pid != ref.post_id:
                other_post = True
                break
            home = home or (host_of(u) == host and _is_home(u))
        if other_post:
            return False  # grown past the post's own item
        if home:
            return True
    return False


def _is_home(url: str) -> bool:
    return urlsplit(url).path in ("", "/")


def _post_ref(post_id: str, url: str) -> PostRef:
    clean = strip_medium_tracking(url)
    parts = urlsplit(clean)
    host = parts.hostname or ""
    segs = [s for s in parts.path.split("/") if s]
    publication = None
    if host == "medium.com" and len(segs) >= 2 and not segs[0].startswith("@") and segs[0] != "p":
        publication = segs[0]
    site = None if host == "medium.com" else host
    return PostRef(
        post_id=post_id,
        url=clean,
        author=author_from_url(clean) if "/@" in clean else None,
        publication=publication,
        site=site,
    )


def post_ref_from_url(url: str | None) -> PostRef | None:
    """A PostRef for any Medium post URL, or ``None`` if it is not one."""
    norm = normalize_url(url) if url else None
    pid = post_id_from_url(norm)
    if norm is None or pid is None:
        return None
    return _post_ref(pid, norm)


__all__ = ["is_profile", "parse_listing_tree", "post_ref_from_url"]
