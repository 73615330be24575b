"""The `medium` spider's arguments, parsed and checked once.

``scrapy crawl medium -a tags=seo,marketing -a users=@someone -a max_posts=100``:
every ``-a`` arrives as a string; :meth:`CrawlArgs.parse` turns them into typed
values or raises :class:`SpiderArgumentError` saying which argument is wrong and
what it should look like.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import Field, asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from harvest.medium.graphql import MAX_PAGE_SIZE
from harvest.slugs import tag_slug

_USER_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_PUB_RE = re.compile(r"^[a-z0-9][a-z0-9\-._]{0,99}$")
FOLLOW_KINDS = ("authors", "tags")


class SpiderArgumentError(ValueError):
    """A spider argument that cannot be used; the message says how to fix it."""


def _list(raw: str | None) -> list[str]:
    if not raw:
        return []
    return [item.strip() for item in raw.split(",") if item.strip()]


def _flag(name: str) -> Callable[[str], bool]:
    def read(raw: str) -> bool:
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise SpiderArgumentError(f"-a {name}={raw!r}: use 1 or 0 (true/false)")

    return read


def _whole(name: str, minimum: int) -> Callable[[str], int]:
    def read(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SpiderArgumentError(f"-a {name}={raw!r}: must be a whole number") from None
        if value < minimum:
            raise SpiderArgumentError(f"-a {name}={raw!r}: must be at least {minimum}")
        return value

    return read


def _tags(raw: str) -> tuple[str, ...]:
    # A tag as a person writes it is slugged the way Medium does:
    # "Machine Learning" is machine-learning, and 日本語 stays 日本語.
    tags = []
    for typed in _list(raw):
        tag = tag_slug(typed)
        if not tag:
            raise SpiderArgumentError(
                f"-a tags: {typed!r} has no letters or digits to make a tag slug of "
                "(like seo or web-development)"
            )
        tags.append(tag)
    return tuple(dict.fromkeys(tags))


def _users(raw: str) -> tuple[str, ...]:
    users = tuple(u.removeprefix("@") for u in _list(raw))
    for user in users:
        if not _USER_RE.match(user):
            raise SpiderArgumentError(
                f"-a users: {user!r} is not a Medium username (like @someone)"
            )
    return users


def _publications(raw: str) -> tuple[str, ...]:
    pubs = tuple(p.lower() for p in _list(raw))
    for pub in pubs:
        if not _PUB_RE.match(pub):
            raise SpiderArgumentError(f"-a publications: {pub!r} is not a publication slug")
    return pubs


def _urls(raw: str) -> tuple[str, ...]:
    urls = tuple(_list(raw))
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise SpiderArgumentError(f"-a urls: {url!r} is not an http(s) URL")
    return urls


_T = TypeVar("_T", date, tuple[int, int])


def _range(name: str, raw: str, read: Callable[[str], _T]) -> tuple[_T, _T]:
    """``first..last`` (or one value, for both) read by ``read``, in order."""
    first, sep, last = raw.partition("..")
    start = read(first)
    end = read(last) if sep else start
    if end < start:
        raise SpiderArgumentError(f"-a {name}={raw!r}: the range ends before it starts")
    return (start, end)


def _sitemap(raw: str) -> tuple[date, date]:
    return _range("sitemap", raw, lambda text: _date("sitemap", text))


_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
Month = tuple[int, int]


def _month(raw: str) -> Month:
    text = raw.strip()
    m = _MONTH_RE.fullmatch(text)
    if m is None:
        raise SpiderArgumentError(f"-a history: {raw!r} is not a month (YYYY-MM)")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise SpiderArgumentError(f"-a history: {raw!r}: month must be in 1..12")
    return (year, month)


def _history(raw: str) -> tuple[Month, Month] | str:
    """``all``, or months ``YYYY-MM..YYYY-MM`` (one month: ``YYYY-MM``)."""
    if raw.strip().lower() == "all":
        return "all"
    return _range("history", raw, _month)


def _page_size(raw: str) -> int:
    value = _whole("page_size", 1)(raw)
    if value > MAX_PAGE_SIZE:
        raise SpiderArgumentError(
            f"-a page_size={raw!r}: at most {MAX_PAGE_SIZE}, what Medium's clients ask "
            "(a tag's pages hold 20 whatever is asked)"
        )
    return value


def _since(raw: str) -> date:
    return _date("since", raw)


def _follow(raw: str) -> tuple[str, ...]:
    follow = tuple(_list(raw))
    for kind in follow:
        if kind not in FOLLOW_KINDS:
            raise SpiderArgumentError(
                f"-a follow: {kind!r} is not one of {', '.join(FOLLOW_KINDS)}"
            )
    return follow


def _urls_file(path: str) -> tuple[str, ...]:
    """The URLs of a file, one a line; a line that is not one is named by number only
    (the file may be anything the user pointed at, and is not echoed)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read(8 * 1024 * 1024).splitlines()
    except OSError as exc:
        raise SpiderArgumentError(f"-a urls_file={path!r}: {exc.strerror or exc}") from None
    urls = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not text.startswith(("http://", "https://")) or len(text) > 2048:
            raise SpiderArgumentError(f"-a urls_file={path!r}: line {number} is not an http(s) URL")
        urls.append(text)
    return tuple(urls)


def _local_urls(path: str, local: bool) -> tuple[str, ...]:
    if not local:
        raise SpiderArgumentError(
            "urls_file names a file on one machine: a shared job gives urls=... "
            "(harvest enqueue reads the file and sends its URLs)"
        )
    return _urls_file(path)


_ISO_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(name: str, raw: str) -> date:
    text = raw.strip()
    if not _ISO_DAY_RE.fullmatch(text):
        raise SpiderArgumentError(f"-a {name}={raw!r}: dates are YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        # The form is right and a part is not: say which ("month must be in 1..12").
        raise SpiderArgumentError(f"-a {name}={raw!r}: {exc}") from None


def _arg(default: Any, read: Callable[[str], Any], example: str, help: str, **more: str) -> Any:
    """One spider argument, declared where its field is: its default, its reader (a
    non-empty ``-a`` value in, the typed value out, or SpiderArgumentError saying
    how to fix it), how it is written, and what it does. The README's table, the
    list of known arguments and the parsing all come from these."""
    return field(default=default, metadata={"read": read, "example": example, "help": help, **more})


@dataclass(frozen=True, slots=True)
class CrawlArgs:
    tags: tuple[str, ...] = _arg(
        (), _tags, "seo,marketing", "tag pages (and with `feeds=1` their RSS feeds)"
    )
    users: tuple[str, ...] = _arg(
        (), _users, "@someone,@other", "profile pages: their posts, and the author's bio links"
    )
    publications: tuple[str, ...] = _arg(
        (),
        _publications,
        "slug,...",
        "publication pages, by slug or by the publication's own domain "
        "(its listing and GraphQL are asked on that domain)",
    )
    urls: tuple[str, ...] = _arg((), _urls, "https://...", "article pages to fetch directly")
    # Read with urls and added to them; a shared job carries the URLs instead.
    urls_file: str | None = _arg(
        None,
        str,
        "PATH",
        "article pages to fetch directly, one URL per line (`#` starts a comment)",
    )
    feeds: bool = _arg(
        False, _flag("feeds"), "1", "also read the RSS feeds of the tags, users and publications"
    )
    sitemap: tuple[date, date] | None = _arg(
        None,
        _sitemap,
        "2024-01-01..2024-01-31",
        "posts from Medium's per-day sitemaps in that range",
    )
    max_posts: int | None = _arg(None, _whole("max_posts", 1), "N", "fetch at most N article pages")
    since: date | None = _arg(
        None, _since, "2024-01-01", "skip posts first published before this date"
    )
    follow: tuple[str, ...] = _arg(
        (),
        _follow,
        "authors,tags",
        "snowball: the profiles and tags of harvested posts (`depth` steps out, 1 unless given)",
    )
    depth: int = _arg(0, _whole("depth", 0), "N", "how many steps `follow` goes out")
    recrawl: bool = _arg(
        False, _flag("recrawl"), "1", "fetch posts again even if harvested within `recrawl_days`"
    )
    recrawl_days: int = _arg(
        7, _whole("recrawl_days", 0), "N", "a post harvested within N days is not fetched again"
    )
    browser: bool = _arg(
        True,
        _flag("browser"),
        "0",
        "no Chromium for this crawl (listings give only their server-rendered posts)",
    )
    # Scrolls stop as soon as two bring nothing new; this only bounds a listing
    # that never ends (Medium's recommended feeds lazy-load 80 posts and more).
    scroll: int = _arg(
        50,
        _whole("scroll", 0),
        "N",
        "how many scrolls a listing gets at most (it stops earlier once two bring nothing new)",
    )
    # GraphQL walks: every post of each tag, user and publication ("all"), or a
    # tag's posts month by month over (first, last) months; None: listing pages.
    history: tuple[tuple[int, int], tuple[int, int]] | str | None = _arg(
        None,
        _history,
        "all",
        "every post of the tags, users and publications, through Medium's GraphQL "
        "(see below); `history=2019-01..2020-12`: a tag's posts of those months, walked "
        "month by month (users' and publications' posts of those months)",
        default_text="listing pages",
    )
    page_size: int = _arg(
        25,
        _page_size,
        "N",
        f"posts per GraphQL request (1 to {MAX_PAGE_SIZE}; a tag's pages hold at most 20)",
    )
    # GraphQL requests per walk at most: a guard against a listing that never
    # ends (at 20 posts a page, 200,000 posts in one month of a tag, or by one
    # author or publication)
    walk_pages: int = _arg(
        10_000,
        _whole("walk_pages", 1),
        "N",
        "at most N GraphQL requests per listing (a month is one listing); "
        "a guard against a listing that never ends",
    )
    articles: bool = _arg(
        True,
        _flag("articles"),
        "0",
        "list the posts found (as items, for `-o posts.jsonl`), fetch none",
    )

    @classmethod
    def parse(
        cls, raw: dict[str, Any], *, require_target: bool = True, local: bool = True
    ) -> CrawlArgs:
        """``local``: the arguments are this machine's own (``-a``, ``harvest
        enqueue``); a job from the shared queue may not name local files."""
        unknown = sorted(k for k in raw if k not in KNOWN and not k.startswith("_"))
        if unknown:
            raise SpiderArgumentError(
                f"unknown argument(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}"
            )
        values: dict[str, Any] = {}
        for f in fields(cls):
            given = raw.get(f.name)
            text = "" if given is None else str(given)
            if text:  # an empty argument is the default
                values[f.name] = f.metadata["read"](text)
        args = cls(**_settle(values, local))
        if require_target:
            args.check_target()
        return args

    def published_before_since(self, published_at: str | None) -> bool:
        """Whether a post first published at ``published_at`` (ISO 8601) is before
        ``since``; an unknown or unreadable date is never before it."""
        if self.since is None or not published_at:
            return False
        try:
            when = datetime.fromisoformat(published_at)
        except ValueError:
            return False
        if when.tzinfo is not None:
            when = when.astimezone(UTC)
        return when.date() < self.since

    @property
    def has_target(self) -> bool:
        return bool(self.tags or self.users or self.publications or self.urls or self.sitemap)

    def check_target(self) -> None:
        if not self.has_target:
            raise SpiderArgumentError(
                "nothing to crawl: give at least one of -a tags=..., -a users=..., "
                "-a publications=..., -a urls=... or -a sitemap=YYYY-MM-DD..YYYY-MM-DD"
            )

    def as_job(self, raw: dict[str, Any]) -> dict[str, str]:
        """``raw`` (the arguments these were parsed from) as a shared job carries
        them: urls_file's URLs given as urls, as no worker reads another
        machine's files."""
        job = {str(k): str(v) for k, v in raw.items() if k != "urls_file" and v is not None}
        if raw.get("urls_file"):
            job["urls"] = ",".join(self.urls)
        return job

    def as_record(self) -> dict[str, Any]:
        """The arguments as the crawl run row stores them."""
        data = asdict(self)
        del data["urls_file"]  # its URLs are in urls
        if self.sitemap:
            data["sitemap"] = [d.isoformat() for d in self.sitemap]
        if self.since:
            data["since"] = self.since.isoformat()
        if isinstance(self.history, tuple):
            data["history"] = "..".join(f"{y:04d}-{m:02d}" for y, m in self.history)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _settle(values: dict[str, Any], local: bool) -> dict[str, Any]:
    """The rules between arguments, all here: urls_file adds to urls (on this
    machine only), following at all means one step, and a depth needs something
    to follow."""
    if values.get("urls_file"):
        values["urls"] = values.get("urls", ()) + _local_urls(values["urls_file"], local)
    if "depth" not in values and values.get("follow"):
        values["depth"] = 1
    if values.get("depth") and not values.get("follow"):
        raise SpiderArgumentError("-a depth needs -a follow=authors,tags to say what to follow")
    return values


KNOWN = tuple(f.name for f in fields(CrawlArgs))


def _default_text(f: Field[Any]) -> str:
    if "default_text" in f.metadata:
        return str(f.metadata["default_text"])
    value = f.default
    if isinstance(value, bool):
        return "1" if value else "0"
    if value in ((), None):
        return "none"
    return str(value)


def markdown_table() -> str:
    """README's table of spider arguments, made from their declarations."""
    lines = ["| argument | default | meaning |", "| --- | --- | --- |"]
    for f in fields(CrawlArgs):
        lines.append(
            f"| `{f.name}={f.metadata['example']}` | {_default_text(f)} | {f.metadata['help']} |"
        )
    return "\n".join(lines) + "\n"
