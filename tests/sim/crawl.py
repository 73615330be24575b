"""Run `scrapy crawl medium` against a simulator, as its own process (as scrapyd would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.pg import rows

ROOT = Path(__file__).resolve().parents[2]


def start_crawl(
    sim_url: str,
    dsn: str,
    args: Iterable[str] = (),
    settings: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start a crawl into ``dsn``; stderr (the Scrapy log) is read by :func:`finish`."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", "medium"]
    for arg in args:
        cmd += ["-a", arg]
    merged = {
        "MEDIUM_BASE_URL": sim_url,
        "AUTOTHROTTLE_ENABLED": "0",
        "HARVEST_DB_FLUSH_INTERVAL": "0.5",
        "LOG_LEVEL": "INFO",
        **(settings or {}),
    }
    for key, value in merged.items():
        cmd += ["-s", f"{key}={value}"]
    full_env = {**os.environ, "DATABASE_URL": dsn, **(env or {})}
    full_env.pop("HARVEST_PGDATA", None)
    return subprocess.Popen(
        cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300, status: int = 0) -> str:
    """Wait for a crawl; it must end with exit ``status`` and no traceback. Returns its log."""
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == status, err[-3000:]
    at = err.find("Traceback")
    assert at < 0, err[max(0, at - 1500) : at + 3000]
    return str(err)


def crawl_report(dsn: str, run: str = "last") -> dict[str, Any]:
    """`harvest crawl-report RUN --format json` of the database ``dsn``."""
    out = subprocess.run(
        [str(Path(sys.executable).parent / "harvest"), "crawl-report", run, "--format", "json"],
        env={**os.environ, "DATABASE_URL": dsn},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    report: dict[str, Any] = json.loads(out)
    return report


def whole_range(manifest: dict[str, Any]) -> str:
    """The sitemap argument that covers every post of the simulated world."""
    days = sorted(p["published_at"][:10] for p in manifest["posts"].values())
    return f"sitemap={days[0]}..{days[-1]}"


# What a stored link is compared on against the manifest, after the post id.
LINK_FIELDS = ("target_url", "location", "nofollow", "ugc", "sponsored")


def stored_links(
    conn: Any, fields: tuple[str, ...] = LINK_FIELDS, *, live_only: bool = False
) -> list[tuple[Any, ...]]:
    """Every stored link row as (post id, *fields): a list, so duplicates show."""
    columns = ", ".join(f"l.{f}" for f in fields)  # fixed names, never input
    where = " WHERE l.lost_at IS NULL" if live_only else ""
    return rows(
        conn,
        f"SELECT p.medium_id, {columns} FROM links l JOIN posts p USING (post_id){where}",
    )


def manifest_links(
    manifest: dict[str, Any],
    fields: tuple[str, ...] = LINK_FIELDS,
    post_ids: Iterable[str] | None = None,
) -> set[tuple[Any, ...]]:
    """The manifest's links of ``post_ids`` (default: every post) in the same shape."""
    ids = manifest["posts"] if post_ids is None else post_ids
    return {
        (pid, *(link[f] for f in fields)) for pid in ids for link in manifest["posts"][pid]["links"]
    }
