"""Where a crawl's GraphQL walks keep their place, and what robots.txt says of them.

Each walk (a tag's, user's or publication's cursor-paged listing, see
:mod:`harvest.medium.graphql`) has one cursor: the ``after`` of the next page
to ask for. A page's answer moves it on only if the cursor is still the one
the page was asked with (compare-and-set), so a request repeated after a
resume (the one in flight when the crawl was killed) is answered once and
dropped the second time: a resumed walk repeats at most one page and skips none.

* :class:`LocalWalks`: a crawl on one machine. With a file (HARVEST_WALKS_FILE,
  or ``<JOBDIR>/harvest-walks.jsonl``) every cursor step is appended and
  flushed with the posts that page named, so a crawl killed at any moment
  resumes where it was and fetches the posts found but not yet harvested.
* :class:`RedisWalks`: a distributed job; cursors live beside the job's
  shared queue, whose entries survive a killed worker by themselves.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.httpobj import urlparse_cached

from harvest.medium.records import PostRef

log = logging.getLogger(__name__)

WALK_META = "harvest_walk"  # the walk's URL, on each of its requests
AFTER_META = "harvest_after"  # the cursor a page was asked with


@dataclass(slots=True)
class WalkCursor:
    after: str | None = None
    pages: int = 0
    posts: int = 0
    done: bool = False
    # newest first publish time the walk has seen (ISO), for the next crawl's mark
    newest: str | None = None


class WalkStore(Protocol):
    def get(self, walk: str) -> WalkCursor | None: ...

    def advance(
        self, walk: str, asked_with: str | None, step: WalkCursor, posts: list[PostRef]
    ) -> bool: ...

    def found(self) -> list[PostRef]: ...

    def close(self) -> None: ...


class LocalWalks:
    """Cursors in memory, and in an append-only file when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._cursors: dict[str, WalkCursor] = {}
        self._found: dict[str, PostRef] = {}
        self._fh: Any = None
        if path is not None:
            torn = self._replay(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", encoding="utf-8")
            if torn:
                # End the torn line, or the next step would be glued to it and lost.
                self._fh.write("\n")

    def _replay(self, path: Path) -> bool:
        """Read the steps back; True if the file ends inside a line (a killed write)."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        lines = text.splitlines()
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                cursor = WalkCursor(**entry["cursor"])
                walk = str(entry["walk"])
                posts = [PostRef(post_id=p[0], url=p[1], published_at=p[2]) for p in entry["posts"]]
            except (ValueError, KeyError, TypeError, IndexError):
                # The last line of a killed crawl may be torn; nothing after it was written.
                log.warning("%s: line %d is not a walk step; ignored", path, number)
                continue
            self._cursors[walk] = cursor
            for ref in posts:
                self._found.setdefault(ref.post_id, ref)
        if self._cursors:
            log.info(
                "resuming %d GraphQL walks from %s (%d posts found so far)",
                len(self._cursors),
                path,
                len(self._found),
            )
        return bool(text) and not text.endswith("\n")

    def get(self, walk: str) -> WalkCursor | None:
        return self._cursors.get(walk)

    def advance(
        self, walk: str, asked_with: str | None, step: WalkCursor, posts: list[PostRef]
    ) -> bool:
        now = self._cursors.get(walk)
        if now is not None and (now.done or now.after != asked_with):
            return False
        self._cursors[walk] = step
        for ref in posts:
            self._found.setdefault(ref.post_id, ref)
        if self._fh is not None:
            entry = {
                "walk": walk,
                "cursor": asdict(step),
                "posts": [[r.post_id, r.url, r.published_at] for r in posts],
            }
            self._fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())
        return True

    def found(self) -> list[PostRef]:
        return list(self._found.values())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# Compare-and-set of one walk's cursor: KEYS[1] the job's walks hash; ARGV the
# walk, the cursor the page was asked with ("" for none) and the new state.
_ADVANCE = """
local now = redis.call('HGET', KEYS[1], ARGV[1])
if now then
  local state = cjson.decode(now)
  local after = state['after']
  if after == cjson.null then after = '' end
  if state['done'] or after ~= ARGV[2] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


class RedisWalks:
    """Cursors of a distributed job, shared by its workers."""

    def __init__(self, server: Any, key: str) -> None:
        self.server = server
        self.key = key
        self._advance = server.register_script(_ADVANCE)

    def get(self, walk: str) -> WalkCursor | None:
        raw = self.server.hget(self.key, walk)
        if raw is None:
            return None
        try:
            return WalkCursor(**json.loads(raw))
        except (ValueError, TypeError):
            log.warning("the shared walk state of %s is unreadable; walking it again", walk)
            return None

    def advance(
        self, walk: str, asked_with: str | None, step: WalkCursor, posts: list[PostRef]
    ) -> bool:
        state = json.dumps(asdict(step), separators=(",", ":"))
        return bool(self._advance(keys=[self.key], args=[walk, asked_with or "", state]))

    def found(self) -> list[PostRef]:
        return []  # the shared queue keeps the article requests of every post found

    def close(self) -> None:
        pass


class WalkRobotsMiddleware:
    """robots.txt for a walk's page as well as its endpoint.

    Scrapy's RobotsTxtMiddleware checks the URL a request goes to
    (``/_/graphql``); a GraphQL operation also stands for the page it belongs
    to (its Referer: ``/tag/seo/archive``), and where robots.txt disallows that
    page the walk is refused too. The parsers come from Scrapy's public
    ``robots_parsed`` signal, sent before the request reaches this middleware.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._parsers: dict[str, Any] = {}
        self._agent = crawler.settings.get("ROBOTSTXT_USER_AGENT") or crawler.settings.get(
            "USER_AGENT"
        )
        self.enabled = crawler.settings.getbool("ROBOTSTXT_OBEY")
        crawler.signals.connect(self._parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> WalkRobotsMiddleware:
        return cls(crawler)

    def _parsed(self, robotparser: Any, request: Request, **kwargs: Any) -> None:
        self._parsers[urlparse_cached(request).netloc] = robotparser

    async def process_request(self, request: Request) -> None:
        if not self.enabled or WALK_META not in request.meta:
            return
        parser = self._parsers.get(urlparse_cached(request).netloc)
        referer = request.headers.get(b"Referer")
        if parser is None or not referer:
            return
        spider = self.crawler.spider
        page = spider.urls.fetch_url(referer.decode("latin-1"))
        agent = self._agent or request.headers.get(b"User-Agent", b"")
        if not parser.allowed(page, agent):
            raise IgnoreRequest(f"{ROBOTS_PAGE_REFUSAL} {referer.decode('latin-1')[:300]}")


# Scrapy's RobotsTxtMiddleware refuses a request with this message; a walk whose
# page robots.txt disallows is refused with it too, saying so.
ROBOTS_REFUSAL = "Forbidden by robots.txt"
ROBOTS_PAGE_REFUSAL = f"{ROBOTS_REFUSAL}: the walk's page"
