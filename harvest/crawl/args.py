"""The `medium` spider's arguments, parsed and checked once.

``scrapy crawl medium -a tags=seo,marketing -a users=@someone -a max_posts=100``:
every ``-a`` arrives as a string; :meth:`CrawlArgs.parse` turns them into typed
values or raises :class:`SpiderArgumentError` saying which argument is wrong and
what it should look like.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
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


@dataclass(frozen=True, slots=True)
class CrawlArgs:
    tags: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    publications: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    feeds: bool = False
    sitemap: tuple[date, date] | None = None
    max_posts: int | None = None
    since: date | None = None
    follow: tuple[str, ...] = ()
    depth: int = 0
    recrawl: bool = False
    recrawl_days: int = 7
    browser: bool = True
    # Scrolls stop as soon as two bring nothing new; this only bounds a listing
    # that never ends (Medium's recommended feeds lazy-load 80 posts and more).
    scroll: int = 50
    # GraphQL walks: every post of each tag, user and publication ("all"), or a
    # tag's posts month by month over (first, last) months; None: listing pages.
    history: tuple[tuple[int, int], tuple[int, int]] | str | None = None
    page_size: int = 25
    # GraphQL requests per walk at most: a guard against a listing that never
    # ends (at 20 posts a page, 200,000 posts in one month of a tag, or by one
    # author or publication)
    walk_pages: int = 10_000
    articles: bool = True  # False: list the posts found, fetch none

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
        for name, read in FIELDS.items():
            given = raw.get(name)
            text = "" if given is None else str(given)
            if text:  # an empty argument is the default
                values[name] = read(text)
        if raw.get("urls_file"):
            values["urls"] = values.get("urls", ()) + _local_urls(str(raw["urls_file"]), local)
        if "depth" not in values and values.get("follow"):
            values["depth"] = 1  # following at all means one step
        args = cls(**values)
        if require_target:
            args.check_target()
        if args.depth and not args.follow:
            raise SpiderArgumentError("-a depth needs -a follow=authors,tags to say what to follow")
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
        if self.sitemap:
            data["sitemap"] = [d.isoformat() for d in self.sitemap]
        if self.since:
            data["since"] = self.since.isoformat()
        if isinstance(self.history, tuple):
            data["history"] = "..".join(f"{y:04d}-{m:02d}" for y, m in self.history)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


# Each argument, its reader (a non-empty -a value in, the typed value out, or
# SpiderArgumentError saying how to fix it); an empty or missing one keeps the
# CrawlArgs default. urls_file is read with urls (it adds to them).
FIELDS: dict[str, Callable[[str], Any]] = {
    "tags": _tags,
    "users": _users,
    "publications": _publications,
    "urls": _urls,
    "feeds": _flag("feeds"),
    "sitemap": _sitemap,
    "max_posts": _whole("max_posts", 1),
    "since": _since,
    "follow": _follow,
    "depth": _whole("depth", 0),
    "recrawl": _flag("recrawl"),
    "recrawl_days": _whole("recrawl_days", 0),
    "browser": _flag("browser"),
    "scroll": _whole("scroll", 0),
    "history": _history,
    "page_size": _page_size,
    "walk_pages": _whole("walk_pages", 1),
    "articles": _flag("articles"),
}
KNOWN = (*tuple(FIELDS)[:4], "urls_file", *tuple(FIELDS)[4:])
