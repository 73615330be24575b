"""Where a crawl's GraphQL walks keep their place.

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
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from harvest.medium.records import PostRef

log = logging.getLogger(__name__)

AFTER_META = "harvest_after"  # the cursor a page was asked with


@dataclass(slots=True)
class WalkCursor:
    after: str | None = None
    pages: int = 0
    posts: int = 0
    done: bool = False
    # newest first publish time the walk has seen (ISO), for the next crawl's mark
    newest: str | None = None


# A step names one page's posts: a few dozen URLs. A line far longer is no step.
MAX_STEP_BYTES = 1024 * 1024
_MAX_TEXT = 4096  # a walk URL, a post URL, a cursor
_CURSOR_FIELDS: dict[str, Any] = {
    "after": (str, type(None)),
    "pages": int,
    "posts": int,
    "done": bool,
    "newest": (str, type(None)),
}


def _lines(fh: Any) -> Iterator[bytes]:
    """The file's lines, each cut at MAX_STEP_BYTES + 1 (an endless line is read in pieces)."""
    while True:
        raw = fh.readline(MAX_STEP_BYTES + 1)
        if not raw:
            return
        yield raw


def _short_text(value: Any, what: str, *, url: bool = False) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise ValueError(f"{what} is not a short text")
    if url and not value.startswith(("https://", "http://")):
        raise ValueError(f"{what} is not an http(s) URL")
    return value


def _step(raw: bytes) -> tuple[str, WalkCursor, list[PostRef]]:
    """One line of a walks file as (walk, cursor, posts); ValueError if it is not one."""
    if len(raw) > MAX_STEP_BYTES:
        raise ValueError(f"over {MAX_STEP_BYTES:,} bytes")
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(entry, dict) or set(entry) != {"walk", "cursor", "posts"}:
        raise ValueError("not a step's fields")
    walk = _short_text(entry["walk"], "the walk", url=True)
    return walk, _cursor(entry["cursor"]), _posts(entry["posts"])


def _cursor(fields: Any) -> WalkCursor:
    if not isinstance(fields, dict) or not set(fields) <= set(_CURSOR_FIELDS):
        raise ValueError("not a cursor")
    for name, value in fields.items():
        wrong_type = not isinstance(value, _CURSOR_FIELDS[name]) or (
            _CURSOR_FIELDS[name] is int and isinstance(value, bool)
        )
        if wrong_type or (isinstance(value, str) and len(value) > _MAX_TEXT):
            raise ValueError(f"cursor {name} is not what harvest writes")
    return WalkCursor(**fields)


def _posts(posts_in: Any) -> list[PostRef]:
    if not isinstance(posts_in, list):
        raise ValueError("posts is not a list")
    posts = []
    for post in posts_in:
        if not isinstance(post, list) or len(post) != 3:
            raise ValueError("a post is not [id, url, published]")
        post_id = _short_text(post[0], "a post id")
        url = _short_text(post[1], "a post URL", url=True)
        published = None if post[2] is None else _short_text(post[2], "a publish time")
        posts.append(PostRef(post_id=post_id, url=url, published_at=published))
    return posts


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
        self.refused = 0  # lines of the file that were no walk step
        if path is not None:
            torn = self._replay(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", encoding="utf-8")
            if torn:
                # End the torn line, or the next step would be glued to it and lost.
                self._fh.write("\n")

    def _replay(self, path: Path) -> bool:
        """Read the steps back; True if the file ends inside a line (a killed write).

        The file is input like any other: a line that is not a step harvest
        writes (torn, tampered, oversized, a cursor of megabytes, a URL that is
        not http(s)) is skipped and counted in ``refused``, never followed.
        """
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            return False
        torn = False
        with fh:
            for number, raw in enumerate(_lines(fh), 1):
                torn = not raw.endswith(b"\n")
                try:
                    walk, cursor, posts = _step(raw)
                except ValueError as exc:
                    # The last line of a killed crawl may be torn; nothing after it was written.
                    self.refused += 1
                    log.warning("%s: line %d is not a walk step (%s); ignored", path, number, exc)
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
        return torn

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
