"""Article (post) pages: the post's facts and every outbound link it carries.

Medium's markup changed several times. Two body layouts cover 2014-2026:

* "graf" markup (to 2018): the body is ``.postArticle-content`` or
  ``.postField--body`` and every block is an element with class ``graf``
  (``graf--p``, ``graf--li``, ``graf--figure``, ``graf--mixtapeEmbed`` ...).
  The author card sits in the post footer (``.infoCard-bio``, or a footer
  ``li`` carrying ``data-user-id``).
* React markup (2019 on): the post is the page's main ``<article>``; its body is
  the ``<section>`` elements inside it, made of ``p``, ``li``, ``h1``-``h4``,
  ``blockquote``, ``pre`` and ``figure`` blocks. The byline lives in the same
  section but outside any such block. The author card follows the article
  under a "Written by" heading.

Where an anchor stands decides what it is: body, author bio or site chrome.
Chrome (navigation, app badges, footers, sign-in, recommendations) is never
visited, so a chrome link cannot leak into the results whatever its rel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harvest.links import (
    host_of,
    is_medium_host,
    normalize_url,
    parse_rel,
    robots_tokens,
)
from harvest.medium.dom import (
    Node,
    Tree,
    ancestors,
    iso,
    iso_from_ms,
    node_text,
    squash,
)
from harvest.medium.facts import FactsReader
from harvest.medium.outbound import LinkRecorder
from harvest.medium.records import (
    Article,
    Author,
    Block,
    LinkKind,
    PageResult,
    Publication,
)
from harvest.medium.urls import author_from_url, is_not_post_url, post_id_on_hosts
from harvest.slugs import tag_slug

_APP_LINK_RE = re.compile(r"medium:/{1,2}p/([0-9a-f]{10,12})\b")
_NAMED_BLOCKS = ", ".join(
    f"{tag}[id]" for tag in ("p", "h1", "h2", "h3", "h4", "li", "blockquote", "pre", "figure")
)
_HEX_ID_RE = re.compile(r"[0-9a-f]{10,12}")
# Types whose objects a page holds by the dozen: read all at once (_State.of_type).
_BULK_TYPES = frozenset({"Paragraph"})
# What follows a key of Apollo's normalized cache: the brace of its object.
_COLON_BRACE_RE = re.compile(r"\s*:\s*\{")
_TYPE_NAME_RE = re.compile(r"[A-Z][A-Za-z]*")
_ROOT_POST_RE = re.compile(r'postResult\(\{\\"id\\":\\"([0-9a-f]{10,12})\\"\}\)')
_TAG_PATH_RE = re.compile(r"/tag/([^/?#]+)/?$")
_HTML_BLOCKS: dict[str, Block] = {
    "p": "paragraph",
    "li": "list",
    "h1": "heading",
    "h2": "heading",
    "h3": "heading",
    "h4": "heading",
    "h5": "heading",
    "h6": "heading",
    "blockquote": "quote",
    "pre": "preformatted",
    "figcaption": "caption",
    "figure": "figure",
}
_DECODER = json.JSONDecoder()
_STATE_MARKERS = ("__APOLLO_STATE__", "__PRELOADED_STATE__", "GLOBALS", "obvInit")


@dataclass(slots=True)
class _Head:
    """What the document head (and JSON-LD) says about the post."""

    canonical: str | None = None
    og_url: str | None = None
    app_post_id: str | None = None
    author_name: str | None = None
    author_url: str | None = None
    title: str | None = None
    og_title: str | None = None
    base_href: str | None = None
    ld: list[dict[str, Any]] = field(default_factory=list)
    android_package: str | None = None
    robots: list[str] = field(default_factory=list)
    published_time: str | None = None
    modified_time: str | None = None


# meta property/name -> _Head field, first or last value as noted
_META_FIELDS = {"og:url": "og_url", "og:title": "og_title", "author": "author_name"}
_APP_LINK_KEYS = ("al:android:url", "al:ios:url", "twitter:app:url:iphone")


def read_head(tree: Tree) -> _Head:
    head = _Head()
    for node in tree.css('meta, link[rel], base[href], script[type="application/ld+json"], title'):
        tag = node.tag
        # .attributes builds one dict in C; .attrs asks C again for every key.
        if tag == "meta":
            _read_meta(head, node.attributes)
        elif tag == "link":
            _read_link(head, node.attributes)
        elif tag == "base":
            head.base_href = head.base_href or node.attributes.get("href")
        elif tag == "title":
            head.title = head.title or squash(node.text()) or None
        else:
            head.ld.extend(_json_ld(node.text()))
    return head


def _read_meta(head: _Head, attrs: Any) -> None:
    key = attrs.get("property") or attrs.get("name")
    # Some saved copies rewrite content= to value=; accept both.
    value = attrs.get("content") or attrs.get("value")
    if not key or not value:
        return
    name = _META_FIELDS.get(key)
    if name is not None:
        setattr(head, name, value)
    elif key == "article:author":
        head.author_url = head.author_url or value
    elif key.startswith(("al:", "twitter:app:")):
        _read_app_link(head, key, value)
    elif key.lower() in ("robots", "googlebot"):
        head.robots.extend(robots_tokens(value))
    elif key == "article:published_time":
        head.published_time = value
    elif key == "article:modified_time":
        head.modified_time = value


def _read_app_link(head: _Head, key: str, value: str) -> None:
    """The apps' deep links name the post's id; the Android package says Medium."""
    if key in _APP_LINK_KEYS and head.app_post_id is None:
        m = _APP_LINK_RE.search(value)
        head.app_post_id = m.group(1) if m else None
    elif key == "al:android:package":
        head.android_package = value.strip()


def _read_link(head: _Head, attrs: Any) -> None:
    rel = parse_rel(attrs.get("rel"))
    href = attrs.get("href")
    if not href:
        return
    if "canonical" in rel:
        head.canonical = head.canonical or href
    elif "author" in rel:
        head.author_url = href


def _json_ld(text: str) -> list[dict[str, Any]]:
    text = text.strip()
    text = text.removeprefix("<![CDATA[")
    end = text.rfind("]]>")
    if end >= 0:
        text = text[:end]
    try:
        value, _ = json.JSONDecoder().raw_decode(text.strip())
    except (ValueError, RecursionError):
        return []
    items = value if isinstance(value, list) else [value]
    out = [v for v in items if isinstance(v, dict)]
    for v in list(out):
        graph = v.get("@graph")
        if isinstance(graph, list):
            out.extend(g for g in graph if isinstance(g, dict))
    return out


def _ld_article(head: _Head) -> dict[str, Any]:
    for obj in head.ld:
        kind = obj.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(k in ("NewsArticle", "Article", "BlogPosting", "SocialMediaPosting") for k in kinds):
            return obj
    return {}


class _State:
    """The page's embedded JSON state (Apollo, preloaded, GLOBALS, obvInit).

    States run to hundreds of kilobytes and the parser needs a few objects of
    them, so objects are found by key or id in the script text and only they
    are decoded.
    """

    def __init__(self, tree: Tree) -> None:
        self._tree = tree
        self._texts: list[str] | None = None
        self._types: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def texts(self) -> list[str]:
        if self._texts is None:
            self._texts = [
                text
                for text in (script.text() for script in self._tree.css("script"))
                if any(marker in text for marker in _STATE_MARKERS)
            ]
        return self._texts

    def _decode_at(self, text: str, brace: int) -> dict[str, Any] | None:
        try:
            value, _ = _DECODER.raw_decode(text, brace)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def _key_at(self, needle: str) -> Iterator[tuple[str, int, int]]:
        """(text, start of the quoted key, brace of its object) for each ``needle``
        (a quoted key or its tail) that stands as ``"key": {``; str.find runs in C,
        where one regex over a 200 KB state cost milliseconds."""
        for text in self.texts:
            at = text.find(needle)
            while at >= 0:
                end = at + len(needle)
                m = _COLON_BRACE_RE.match(text, end)
                if m is not None:
                    start = text.rfind('"', 0, at + 1) if needle[0] != '"' else at
                    yield text, start, m.end() - 1
                at = text.find(needle, end)

    def keyed(self, key: str) -> dict[str, Any] | None:
        """The object stored under ``"key": {...}`` (Apollo's normalized cache)."""
        kind = key.split(":", 1)[0]
        if kind in _BULK_TYPES:
            return self.of_type(kind).get(key)
        for text, _, brace in self._key_at(f'"{key}"'):
            return self._decode_at(text, brace)
        return None

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every cached object of one type by key, read in one scan: a post body's
        paragraphs are a few hundred, and a scan per paragraph cost milliseconds."""
        found = self._types.get(kind)
        if found is None:
            found = {}
            needle = f'"{kind}:'
            for text in self.texts:
                at = text.find(needle)
                while at >= 0:
                    close = text.find('"', at + len(needle))
                    if close < 0:
                        break
                    m = _COLON_BRACE_RE.match(text, close + 1)
                    key = text[at + 1 : close]
                    if m is not None and key not in found:
                        obj = self._decode_at(text, m.end() - 1)
                        if obj is not None:
                            found[key] = obj
                    at = text.find(needle, close)
            self._types[kind] = found
        return found

    def with_id(self, ident: str, *needed: str) -> dict[str, Any] | None:
        """The first object with id ``ident`` that has one of the keys ``needed``."""
        # graf-era references key users by "userId", everything else by "id"
        pattern = re.compile(r'\{\s*"(?:id|userId)"\s*:\s*"' + re.escape(ident) + '"')
        for text in self.texts:
            for m in pattern.finditer(text):
                obj = self._decode_at(text, m.start())
                if obj is not None and any(k in obj for k in needed):
                    return obj
        return None

    def root_post_id(self) -> str | None:
        """The post the page's root query asked for (Apollo's ``postResult``)."""
        for text in self.texts:
            m = _ROOT_POST_RE.search(text)
            if m:
                return m.group(1)
        return None

    def typename(self, ident: str) -> str | None:
        """The type the normalized cache files ``ident`` under; "Post" wins over others."""
        found = None
        for text, start, _ in self._key_at(f':{ident}"'):
            name = text[start + 1 : text.index(":", start)]
            if name == "Post":
                return name
            if _TYPE_NAME_RE.fullmatch(name):
                found = found or name
        return found

    def is_medium(self) -> bool:
        """Medium's own page state: Apollo's cache or the graf-era globals."""
        return any(
            "__APOLLO_STATE__" in t or "obvInit" in t or ("GLOBALS" in t and "medium.com" in t)
            for t in self.texts
        )

    def post(self, post_id: str) -> dict[str, Any] | None:
        return self.keyed(f"Post:{post_id}") or self.with_id(
            post_id, "firstPublishedAt", "uniqueSlug", "creatorId"
        )

    def resolve(self, value: Any) -> dict[str, Any] | None:
        """Follow a reference (``{"__ref": k}`` or ``{"type": "id", "id": k}``)."""
        if not isinstance(value, dict):
            return None
        key = value.get("__ref") or (value.get("id") if value.get("type") == "id" else None)
        if isinstance(key, str):
            return self.keyed(key)
        return value


def medium_mark(tree: Tree, head: _Head, state: _State) -> str | None:
    """The first of Medium's own marks the page carries (cheapest checks first), or
    None: a copy on another site has none of them."""
    ld = _ld_article(head)
    ident = ld.get("identifier")
    checks: tuple[tuple[str, Callable[[], bool]], ...] = (
        ("app_link", lambda: bool(head.app_post_id or head.android_package == _ANDROID_APP)),
        ("json_ld", lambda: isinstance(ident, str) and bool(_HEX_ID_RE.fullmatch(ident))
         and _ld_names_medium(ld)),
        ("page_state", state.is_medium),
        ("graf_markup", lambda: tree.css_first(_GRAF_MARKUP) is not None),
        ("body_markup", lambda: tree.css_first(_MEDIUM_BODY_MARKUP) is not None),
    )  # fmt: skip
    return next((name for name, check in checks if check()), None)


_ANDROID_APP = "com.medium.reader"
_GRAF_MARKUP = ".postArticle-content, .postField--body, .graf"
# Attributes Medium's React front end puts on a post's title and paragraphs.
_MEDIUM_BODY_MARKUP = ", ".join(
    (
        '[data-testid="storyTitle"]',
        ".pw-post-body-paragraph",
        ".pw-post-title",
        "[data-selectable-paragraph]",
    )
)


def _ld_names_medium(ld: dict[str, Any]) -> bool:
    for key in ("url", "mainEntityOfPage", "publisher", "creator", "author"):
        value = ld.get(key)
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, dict):
            value = value.get("url") or value.get("@id")
        if isinstance(value, str) and is_medium_host(host_of(normalize_url(value))):
            return True
    return False


def _is_fragment(tree: Tree) -> bool:
    """A saved piece of a page: nothing in its head, no <html> of its own."""
    head = tree.head
    return head is None or not head.css("meta, title, link, script")


def _slugify_tag(name: str) -> str:
    return re.sub(r"[^\w]+", "-", name.strip().lower()).strip("-")


def main_article(tree: Tree) -> Node | None:
    """The post's own ``<article>``: the first one that is not a preview card."""
    for node in tree.css("article"):
        if node.attrs.get("data-testid") != "post-preview":
            return node
    return None


class ArticleParser:
    """Reads one article page; use :func:`parse_article_tree`."""

    def __init__(self, tree: Tree, url: str | None, internal_hosts: Iterable[str] = ()) -> None:
        self.tree = tree
        self.head = read_head(tree)
        self.ld = _ld_article(self.head)
        self.state = _State(tree)
        self.result = PageResult(kind="article")
        self.given_url = normalize_url(url) if url else None
        self.canonical = normalize_url(
            self.head.canonical or self.head.og_url or self.ld.get("url")
        )
        # The page's own address: where it was fetched, else what it calls itself
        # (og:url stays on Medium when the canonical names a cross-post's origin).
        self.page_url = self.given_url or normalize_url(self.head.og_url) or self.canonical
        self.base = self.page_url
        if self.head.base_href:
            self.base = normalize_url(self.head.base_href, self.base) or self.base
        self.result.url = self.page_url
        self.crawl_hosts = frozenset(h.lower() for h in internal_hosts if h)
        self.internal_hosts, self.canonical_foreign = self._own_hosts(self.crawl_hosts)
        self.mark = medium_mark(tree, self.head, self.state)
        self._state_post: dict[str, Any] | bool | None = False
        self.not_a_post: str | None = None
        self._regions: tuple[list[Node], bool] | None = None
        self._article: Node | bool | None = False
        self.post_id = self._post_id()
        self.publication = self._publication()
        if self.publication and self.publication.domain:
            self.internal_hosts.add(self.publication.domain)
            # A publication's own domain is Medium's, not a cross-post's origin.
            self.canonical_foreign = self.canonical_foreign and host_of(self.canonical) != (
                self.publication.domain
            )
        self.recorder = LinkRecorder(
            self.result, self.base, self.internal_hosts, self.post_id, self.page_url
        )

    def _own_hosts(self, crawl_hosts: frozenset[str]) -> tuple[set[str], bool]:
        """The hosts whose links are Medium's own for this page (the crawl's, the
        page's and a canonical on Medium's), and whether the canonical points
        off Medium (a cross-post's origin)."""
        own = set(crawl_hosts)
        page_host = host_of(self.page_url)
        if page_host:
            own.add(page_host)
        canon_host = host_of(self.canonical)
        foreign = bool(canon_host and not is_medium_host(canon_host) and canon_host not in own)
        if canon_host and not foreign:
            own.add(canon_host)
        return own, foreign

    def refusal(self) -> str | None:
        """Why this page is not a Medium article to harvest, or None when it is."""
        if self.not_a_post:
            return self.not_a_post
        if is_not_post_url(self.given_url) or is_not_post_url(self.canonical):
            return "a reading list, tag or profile page, not a post"
        if _is_fragment(self.tree):
            # A saved <article> alone says nothing of where it stood: --url must.
            if post_id_on_hosts(self.given_url, self.crawl_hosts) is None:
                return "a fragment of a page without a Medium post URL to name it (--url)"
            return None
        if self.mark is None:
            return (
                "no Medium markers (page state, app links, JSON-LD, Medium's body markup):"
                " a copy or another site's page, not a Medium article"
            )
        given = host_of(self.given_url)
        foreign = given and not is_medium_host(given) and given not in self.crawl_hosts
        own = {host_of(self.canonical), self.publication.domain if self.publication else None}
        if foreign and given not in own:
            return (
                f"a copy of a Medium post served by {given}, not by Medium"
                " or the publication's own domain"
            )
        return None

    # -- post facts -----------------------------------------------------------------

    def _post_id(self) -> str | None:
        pid = self._candidate_post_id()
        if pid is None:
            return None
        typename = self.state.typename(pid)
        if typename is not None and typename != "Post":
            self.not_a_post = f"the page state calls {pid} a {typename}, not a post"
            return None
        return pid

    def _candidate_post_id(self) -> str | None:
        ident = self.ld.get("identifier")
        if isinstance(ident, str) and _HEX_ID_RE.fullmatch(ident):
            return ident
        if self.head.app_post_id:
            return self.head.app_post_id
        root = self.state.root_post_id()
        if root:
            return root
        for u in (self.canonical, self.page_url, normalize_url(self.head.og_url)):
            pid = post_id_on_hosts(u, self.internal_hosts)
            if pid:
                return pid
        node = self.tree.css_first("[data-post-id]")
        if node is not None:
            pid = node.attrs.get("data-post-id") or ""
            if _HEX_ID_RE.fullmatch(pid):
                return pid
        return None

    def state_post(self) -> dict[str, Any] | None:
        if self._state_post is False:
            self._state_post = self.state.post(self.post_id) if self.post_id else None
        return self._state_post  # type: ignore[return-value]

    def _publication(self) -> Publication | None:
        """The post's publication: JSON-LD's publisher, then the canonical URL,
        then (for a name) the embedded state's collection."""
        pub = Publication()
        self._publisher_from_ld(pub)
        self._publication_from_canonical(pub)
        if (pub.slug or pub.domain) and not pub.name:
            self._publication_from_state(pub)
        if pub.slug is None and pub.domain is None and pub.name is None:
            return None
        return pub

    def _publisher_from_ld(self, pub: Publication) -> None:
        publisher = self.ld.get("publisher")
        if not isinstance(publisher, dict):
            return
        purl = normalize_url(publisher.get("url"))
        host = host_of(purl)
        # Medium itself as the publisher says nothing about a publication.
        if not purl or not host or (host == "medium.com" and urlsplit(purl).path in ("", "/")):
            return
        pub.name = _str(publisher.get("name"))
        if host == "medium.com":
            pub.slug = urlsplit(purl).path.strip("/").split("/")[0] or None
        elif not is_medium_host(host):
            pub.domain = host

    def _publication_from_canonical(self, pub: Publication) -> None:
        canon = self.canonical
        host = host_of(canon)
        if not canon or not host or self.canonical_foreign:
            return
        segs = [s for s in urlsplit(canon).path.split("/") if s]
        if host == "medium.com":
            # medium.com/<publication>/<post>; not /@user/... nor /p/<id>
            if len(segs) >= 2 and not segs[0].startswith("@") and segs[0] != "p":
                pub.slug = pub.slug or segs[0]
        elif not is_medium_host(host):
            pub.domain = pub.domain or host

    def _publication_from_state(self, pub: Publication) -> None:
        post = self.state_post()
        if post is None:
            return
        coll = self.state.resolve(post.get("collection") or post.get("homeCollection"))
        coll_id = post.get("homeCollectionId")
        if coll is None and isinstance(coll_id, str) and coll_id:
            coll = self.state.with_id(coll_id, "slug")
        if not coll:
            return
        pub.name = pub.name or _str(coll.get("name"))
        pub.slug = pub.slug or _str(coll.get("slug"))
        domain = _str(coll.get("domain") or coll.get("customDomain"))
        pub.domain = pub.domain or (domain.lower() if domain else None)

    # One method per field of the Article; each falls back, in order, from
    # the markup and head to JSON-LD to the embedded state.

    def article(self) -> Article:
        return Article(
            post_id=self.post_id,
            url=self.page_url,
            canonical_url=self.canonical,
            author=self.author(),
            publication=self.publication,
            title=squash(self.title()) or None,
            published_at=self.published_at(),
            tags=list(dict.fromkeys(t for t in self.tags() if t)),
            facts=FactsReader(self).facts(),
        )

    def author(self) -> Author | None:
        head = self.head
        author = Author(name=head.author_name)
        ld_author = self.ld.get("author")
        if isinstance(ld_author, list) and ld_author:
            ld_author = ld_author[0]
        if isinstance(ld_author, dict):
            author.name = author.name or _str(ld_author.get("name"))
            author.username = author_from_url(normalize_url(ld_author.get("url")))
        if author.username is None and head.author_url:
            author.username = author_from_url(normalize_url(head.author_url, self.base))
        if author.username is None and "/@" in (self.canonical or ""):
            author.username = author_from_url(self.canonical)
        if author.username is None:
            self._author_from_state(author)
        if not author.username and not author.name:
            return None
        return author

    def _author_from_state(self, author: Author) -> None:
        post = self.state_post()
        if post is None:
            return
        creator = self.state.resolve(post.get("creator"))
        if creator is None and isinstance(post.get("creatorId"), str):
            creator = self.state.with_id(post["creatorId"], "username")
        if creator:
            author.username = _str(creator.get("username"))
            author.name = author.name or _str(creator.get("name"))

    def title(self) -> str | None:
        title = None
        if self.body_regions()[1]:
            # graf-era og:title carries " – Publication – Medium" suffixes.
            node = self.tree.css_first(".graf--title")
            title = node_text(node) if node is not None else None
        title = title or self.head.og_title or _str(self.ld.get("headline")) or self.head.title
        if title:
            return title
        post = self.state_post()
        return _str(post.get("title")) if post is not None else None

    def published_at(self) -> str | None:
        published = iso(self.ld.get("datePublished"))
        if published is None:
            post = self.state_post()
            if post is not None:
                published = iso_from_ms(post.get("firstPublishedAt"))
        if published is None and self.body_regions()[1]:
            # In graf markup the byline's <time> is the first publish date
            # (checked against firstPublishedAt on the 2018 pages).
            node = self.tree.css_first("time[datetime]")
            if node is not None:
                published = iso(node.attrs.get("datetime"))
        return published

    def tags(self) -> list[str]:
        tags = self._markup_tags()
        if not tags:
            tags = [
                _slugify_tag(k.removeprefix("Tag:"))
                for k in self.ld.get("keywords") or []
                if isinstance(k, str) and (k.startswith("Tag:") or ":" not in k)
            ]
        if not tags:
            post = self.state_post()
            if post is not None:
                tags = _state_tags(post, self.state)
        return tags

    def _markup_tags(self) -> list[str]:
        tags = []
        for a in self.tree.css('a[href*="/tag/"]'):
            href = a.attrs.get("href") or ""
            m = _TAG_PATH_RE.search(href.split("?", 1)[0])
            if m and not _in_preview(a):
                tags.append(tag_slug(m.group(1)))
        return tags

    # -- links ----------------------------------------------------------------------

    def body_regions(self) -> tuple[list[Node], bool]:
        """The post body's outermost regions, and whether they are graf markup."""
        if self._regions is None:
            regions = _outermost(self.tree.css(".postArticle-content, .postField--body"))
            graf = bool(regions)
            if not graf:
                art = self.article_node()
                regions = _outermost(art.css("section")) if art is not None else []
            self._regions = (regions, graf)
        return self._regions

    def article_node(self) -> Node | None:
        if self._article is False:
            self._article = main_article(self.tree)
        return self._article  # type: ignore[return-value]

    def body_blocks(self) -> list[Node]:
        """The body's paragraphs as Medium names them (graf ``name``, React ``id``)."""
        regions, graf = self.body_regions()
        selector = "[name]" if graf else _NAMED_BLOCKS
        return [node for region in regions for node in region.css(selector)]

    def links(self) -> None:
        regions, graf = self.body_regions()
        for region in regions:
            self._body(region)
        if graf:
            self._graf_bios()
        else:
            self._react_bio()

    def _body(self, region: Node) -> None:
        """Record the region's anchors that stand inside a content block."""
        region_id = region.mem_id
        for node in region.css("a, iframe"):
            if node.tag == "iframe":
                self.recorder.embed(node)
                continue
            block = _block_of(node, region_id)
            kind: LinkKind = "text"
            if block == "link_card":
                kind = "link_card"
            elif block is None:
                # A React-era link card wraps its own title and description
                # blocks; any other anchor outside a block is byline or chrome.
                if node.css_first("h2, h3, h4, p") is None:
                    continue
                block, kind = "link_card", "link_card"
            self.recorder.anchor(node, "body", block, kind)

    def _graf_bios(self) -> None:
        for bio in self.tree.css(".js-infoCardUser .infoCard-bio"):
            for a in bio.css("a"):
                self.recorder.anchor(a, "author_bio", "bio", "text")
        for card in self.tree.css(".js-postFooterInfo li"):
            if card.css_first("[data-user-id]") is None:
                continue  # a publication's card, not the author's
            for a in card.css("p a"):
                self.recorder.anchor(a, "author_bio", "bio", "text")

    def _react_bio(self) -> None:
        for heading in self.tree.css("h2"):
            if not node_text(heading).startswith("Written by"):
                continue
            for anc in ancestors(heading, 6):
                if anc.css_first("p") is not None:
                    for a in anc.css("p a"):
                        self.recorder.anchor(a, "author_bio", "bio", "text")
                    break
            break


def _block_kind(node: Node) -> Block | None:
    """The content block ``node`` is, if it is one."""
    tag = node.tag or ""
    found = _HTML_BLOCKS.get(tag)
    if found is None and tag == "div":
        cls = node.attrs.get("class")
        if cls and "graf--mixtapeEmbed" in cls:
            found = "link_card"
    return found


def _block_of(node: Node, region_id: int) -> Block | None:
    """The content block an anchor stands in (None: outside any, inside the region)."""
    block: Block | None = None
    for anc in ancestors(node, 32):
        if anc.mem_id == region_id:
            break
        found = _block_kind(anc)
        if found is None:
            continue
        if block == "caption":
            break  # a caption's figure adds nothing
        if block == "paragraph":
            if found == "quote":
                block = found
            break  # React-era quotes hold <p> blocks; nothing else nests
        block = found
        if found not in ("caption", "paragraph"):
            break
    return block


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _state_tags(post: dict[str, Any], state: _State) -> list[str]:
    raw = post.get("tags")
    if not raw and isinstance(post.get("virtuals"), dict):
        raw = post["virtuals"].get("tags")
    tags = [_tag_slug(t, state) for t in raw or []]
    return [t.lower() for t in tags if t]


def _tag_slug(t: Any, state: _State) -> str | None:
    """One tag as a post's state gives it: a slug, a reference, or an object."""
    if isinstance(t, str):
        return t.removeprefix("Tag:")
    if not isinstance(t, dict):
        return None
    ref = t.get("__ref") or (t.get("id") if t.get("type") == "id" else None)
    if isinstance(ref, str) and ref.startswith("Tag:"):
        return ref[4:]
    if isinstance(t.get("slug"), str):
        return str(t["slug"])
    resolved = state.resolve(t)
    if resolved and isinstance(resolved.get("slug"), str):
        return str(resolved["slug"])
    return None


def _outermost(nodes: list[Node]) -> list[Node]:
    """Drop nodes nested inside another node of the list, keep document order."""
    if len(nodes) < 2:
        return nodes
    ids = {n.mem_id for n in nodes}
    return [n for n in nodes if not any(a.mem_id in ids for a in ancestors(n, 64))]


def _in_preview(node: Node) -> bool:
    for anc in ancestors(node, 40):
        if anc.tag == "article":
            return anc.attrs.get("data-testid") == "post-preview"
    return False


def parse_article_tree(
    tree: Tree, url: str | None, internal_hosts: Iterable[str] = ()
) -> PageResult:
    parser = ArticleParser(tree, url, internal_hosts)
    refused = parser.refusal()
    if refused is not None:
        return PageResult(kind="unknown", url=parser.page_url, problems=[refused])
    article = parser.article()
    parser.recorder.author = article.author.username if article.author else None
    parser.links()
    parser.result.article = article
    if parser.post_id is None:
        parser.result.problems.append("no post id found (canonical URL, app link, JSON-LD)")
    return parser.result


__all__ = ["ArticleParser", "main_article", "medium_mark", "parse_article_tree", "read_head"]
