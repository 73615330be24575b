"""Run `scrapy crawl medium` against a simulator, as its own process (as scrapyd would)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> str:
    """Wait for a crawl; it must end cleanly. Returns its log."""
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return str(err)


def whole_range(manifest: dict[str, Any]) -> str:
    """The sitemap argument that covers every post of the simulated world."""
    days = sorted(p["published_at"][:10] for p in manifest["posts"].values())
    return f"sitemap={days[0]}..{days[-1]}"
