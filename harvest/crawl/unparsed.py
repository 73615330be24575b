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


@dataclass(frozen=True, slots=True)
class Kept:
    html: Path
    url: str
    reason: str
    content_type: str | None
    fetched_at: datetime


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
        if not self.root.is_dir():
            return
        for meta_path in sorted(self.root.glob("*.json")):
            html = meta_path.with_suffix(".html")
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if html.is_symlink() or meta_path.is_symlink():
                continue  # harvest writes files only; a link is someone else's
            if html.exists() and isinstance(meta, dict) and meta.get("url"):
                yield Kept(
                    html=html,
                    url=str(meta["url"]),
                    reason=str(meta.get("reason", "")),
                    content_type=meta.get("content_type"),
                    fetched_at=_when(meta.get("fetched_at")),
                )

    def done(self, kept: Kept) -> None:
        dest = self.root / "reparsed"
        dest.mkdir(exist_ok=True)
        for path in (kept.html, kept.html.with_suffix(".json")):
            path.replace(dest / path.name)
