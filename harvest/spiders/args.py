"""The `medium` spider's arguments, parsed and checked once.

``scrapy crawl medium -a tags=seo,marketing -a users=@someone -a max_posts=100``:
every ``-a`` arrives as a string; :meth:`CrawlArgs.parse` turns them into typed
values or raises :class:`SpiderArgumentError` saying which argument is wrong and
what it should look like.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9\-]{0,99}$")
_USER_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_PUB_RE = re.compile(r"^[a-z0-9][a-z0-9\-._]{0,99}$")
FOLLOW_KINDS = ("authors", "tags")
KNOWN = (
    "tags",
    "users",
    "publications",
    "urls",
    "urls_file",
    "feeds",
    "sitemap",
    "max_posts",
    "since",
    "follow",
    "depth",
    "recrawl",
    "recrawl_days",
    "browser",
    "scroll",
)


class SpiderArgumentError(ValueError):
    """A spider argument that cannot be used; the message says how to fix it."""


def _list(raw: str | None) -> list[str]:
    if not raw:
        return []
    return [item.strip() for item in raw.split(",") if item.strip()]


def _bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SpiderArgumentError(f"-a {name}={raw!r}: use 1 or 0 (true/false)")


def _int(name: str, raw: str | None, default: int | None, minimum: int) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SpiderArgumentError(f"-a {name}={raw!r}: must be a whole number") from None
    if value < minimum:
        raise SpiderArgumentError(f"-a {name}={raw!r}: must be at least {minimum}")
    return value


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


def _date(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise SpiderArgumentError(f"-a {name}={raw!r}: dates are YYYY-MM-DD") from None


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
    extra: dict[str, Any] = field(default_factory=dict)

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

        def get(key: str) -> str | None:
            value = raw.get(key)
            return None if value is None else str(value)

        tags = tuple(t.lower().lstrip("#") for t in _list(get("tags")))
        for tag in tags:
            if not _TAG_RE.match(tag):
                raise SpiderArgumentError(
                    f"-a tags: {tag!r} is not a tag slug (like seo or web-development)"
                )
        users = tuple(u.removeprefix("@") for u in _list(get("users")))
        for user in users:
            if not _USER_RE.match(user):
                raise SpiderArgumentError(
                    f"-a users: {user!r} is not a Medium username (like @someone)"
                )
        pubs = tuple(p.lower() for p in _list(get("publications")))
        for pub in pubs:
            if not _PUB_RE.match(pub):
                raise SpiderArgumentError(f"-a publications: {pub!r} is not a publication slug")
        urls = tuple(_list(get("urls")))
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise SpiderArgumentError(f"-a urls: {url!r} is not an http(s) URL")
        if get("urls_file"):
            if not local:
                raise SpiderArgumentError(
                    "urls_file names a file on one machine: a shared job gives urls=... "
                    "(harvest enqueue reads the file and sends its URLs)"
                )
            urls += _urls_file(get("urls_file") or "")

        sitemap = None
        if get("sitemap"):
            text = get("sitemap") or ""
            first, sep, last = text.partition("..")
            start = _date("sitemap", first)
            end = _date("sitemap", last) if sep else start
            if end < start:
                raise SpiderArgumentError(f"-a sitemap={text!r}: the range ends before it starts")
            sitemap = (start, end)

        follow = tuple(_list(get("follow")))
        for kind in follow:
            if kind not in FOLLOW_KINDS:
                raise SpiderArgumentError(
                    f"-a follow: {kind!r} is not one of {', '.join(FOLLOW_KINDS)}"
                )
        depth = _int("depth", get("depth"), 1 if follow else 0, 0)
        assert depth is not None
        args = cls(
            tags=tags,
            users=users,
            publications=pubs,
            urls=urls,
            feeds=_bool("feeds", get("feeds"), False),
            sitemap=sitemap,
            max_posts=_int("max_posts", get("max_posts"), None, 1),
            since=_date("since", get("since") or "") if get("since") else None,
            follow=follow,
            depth=depth,
            recrawl=_bool("recrawl", get("recrawl"), False),
            recrawl_days=_int("recrawl_days", get("recrawl_days"), 7, 0) or 0,
            browser=_bool("browser", get("browser"), True),
            scroll=_int("scroll", get("scroll"), 50, 0) or 0,
        )
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
        data.pop("extra")
        if self.sitemap:
            data["sitemap"] = [d.isoformat() for d in self.sitemap]
        if self.since:
            data["since"] = self.since.isoformat()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
