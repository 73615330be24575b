"""Raw pages the parsers did not recognize, kept for `harvest reparse`.

When Medium changes its markup, the pages fetched meanwhile are not lost: each
is written as ``<key>.html`` (the bytes as served) beside ``<key>.json`` (URL,
reason, content type, fetch time) in HARVEST_UNPARSED_DIR (default: the
user data dir's ``harvest/unparsed``). Once the parser knows the new markup,
``harvest reparse`` stores what the kept pages yield and moves them to
``reparsed/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from harvest import config


def default_dir() -> Path:
    return Path(platformdirs.user_data_dir("harvest")) / "unparsed"


def from_settings(settings: Any) -> UnparsedStore | None:
    raw = config.value(settings, "HARVEST_UNPARSED_DIR")
    if raw == "":
        return None  # explicitly off
    return UnparsedStore(Path(raw) if raw else default_dir())


# What a kept page can be: a response the crawl accepted (DOWNLOAD_MAXSIZE is
# 32 MiB) and a few lines about it. A larger file is none that harvest wrote.
MAX_PAGE_BYTES = 32 * 1024 * 1024
MAX_META_BYTES = 64 * 1024


class NotKept(ValueError):
    """A file in the store that harvest did not write as it is (why in the message)."""


def read_regular(path: Path, limit: int) -> bytes:
    """A regular file's bytes, read without following a link, at most ``limit`` of them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise NotKept(f"{path.name}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotKept(f"{path.name}: not a regular file")
        if info.st_size > limit:
            raise NotKept(f"{path.name}: {info.st_size:,} bytes, over {limit:,}")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise NotKept(f"{path.name}: over {limit:,} bytes")
    return data


@dataclass(frozen=True, slots=True)
class Kept:
    html: Path
    url: str
    reason: str
    content_type: str | None
    fetched_at: datetime

    def body(self) -> bytes:
        """The page as served; NotKept if the file is no longer one harvest would read."""
        return read_regular(self.html, MAX_PAGE_BYTES)


def _when(stamp: Any) -> datetime:
    """The recorded fetch time; a missing or broken one counts as long ago, not now,
    so a reparsed page never overrides a newer crawl of the same post."""
    try:
        value = datetime.fromisoformat(str(stamp))
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class UnparsedStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.skipped: list[str] = []  # what the last pass over the store refused, and why

    def save(self, url: str, body: bytes, reason: str, content_type: str | None = None) -> Path:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        html = self.root / f"{key}.html"
        meta = {
            "url": url,
            "reason": reason,
            "content_type": content_type,
            "fetched_at": datetime.now(UTC).isoformat(),
        }
        # Written under new temporary names and renamed, so a crash never
        # leaves half a page that reparse would trust, and a file or link
        # someone planted under a predictable name is replaced, never followed.
        for path, data in ((html, body), (html.with_suffix(".json"), json.dumps(meta).encode())):
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.root)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        return html

    def __iter__(self) -> Iterator[Kept]:
        """The kept pages; what is not one (a link, a directory, a FIFO, a file of
        gigabytes, broken metadata) is skipped and named in ``skipped``."""
        self.skipped = []
        if not self.root.is_dir() or self.root.is_symlink():
            return
        for meta_path in sorted(self.root.glob("*.json")):
            html = meta_path.with_suffix(".html")
            try:
                meta = json.loads(read_regular(meta_path, MAX_META_BYTES))
                if html.is_symlink() or not html.is_file():
                    raise NotKept(f"{html.name}: no regular file beside {meta_path.name}")
                if not isinstance(meta, dict) or not isinstance(meta.get("url"), str):
                    raise NotKept(f"{meta_path.name}: no page's metadata")
            except (NotKept, ValueError, RecursionError) as exc:
                self.skipped.append(str(exc)[:300])
                continue
            yield Kept(
                html=html,
                url=str(meta["url"]),
                reason=str(meta.get("reason", "")),
                content_type=meta.get("content_type")
                if isinstance(meta.get("content_type"), str)
                else None,
                fetched_at=_when(meta.get("fetched_at")),
            )

    def done(self, kept: Kept) -> None:
        dest = self.root / "reparsed"
        dest.mkdir(exist_ok=True)
        if dest.is_symlink():  # moved through a planted link, the pages would leave the store
            raise NotKept(f"{dest} is a link; harvest moves reparsed pages into a directory only")
        for path in (kept.html, kept.html.with_suffix(".json")):
            path.replace(dest / path.name)
