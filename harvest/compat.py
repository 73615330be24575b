"""The only place harvest touches a library's private parts.

Each hook below exists because the library offers no public way to do the
thing, and each is held to the pinned version (pyproject.toml) by a test in
tests/test_compat.py that fails when the library changes what the hook relies
on. Nothing else in harvest reaches into Scrapy, scrapy-redis, scrapy-playwright
or pgserver beyond their public APIs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The versions these hooks were written against (also pinned in pyproject.toml).
PINNED = {"scrapy": "2.19.0", "pgserver": "0.1.4"}


def wake_engine(engine: Any) -> bool:
    """Ask Scrapy's engine to look at the scheduler now rather than on its next
    5-second heartbeat; False when the engine has no open slot (not started,
    or closing).

    Scrapy 2.19 offers no public call for "the scheduler has work again"; a
    distributed worker waiting on the shared queue would otherwise sit idle up
    to five seconds each time another worker queues something.
    """
    slot = getattr(engine, "_slot", None)
    nextcall = getattr(slot, "nextcall", None)
    if nextcall is None:
        return False
    nextcall.schedule()
    return True


def pgserver_follow_restart(server: Any, pgdata: Path) -> None:
    """Point pgserver's handle at the postmaster now running in ``pgdata``.

    pgserver 0.1.4 remembers the postmaster it started and, at exit, stops that
    one; after harvest restarts the server (to apply settings that need a
    restart) the remembered process is gone, and the new one would be left
    running when it should stop.
    """
    from pgserver.utils import PostmasterInfo

    server._postmaster_info = PostmasterInfo.read_from_pgdata(pgdata)
