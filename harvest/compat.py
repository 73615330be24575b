"""The only place harvest touches a library's private parts.

Each hook below exists because the library offers no public way to do the
thing, and each is held to the pinned version (pyproject.toml) by a test in
tests/test_compat.py that fails when the library changes what the hook relies
on. Nothing else in harvest reaches into Scrapy, scrapy-redis, scrapy-playwright
or pgserver beyond their public APIs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil

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


# pgserver 0.1.4 counts the processes using a server in this file of pgdata; the
# last one to leave stops the server.
PGSERVER_HANDLES = ".handle_pids.json"


def pgserver_forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop the processes that are gone from pgserver's list of a server's users;
    returns the pids dropped.

    A harvest process killed before its exit hook ran stays on that list for
    good, so the server would never see its last user leave and never stop.
    """
    path = pgdata / PGSERVER_HANDLES
    try:
        pids = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except ValueError:
        pids = None  # a torn write: nobody can be counted on it
    if not isinstance(pids, list):
        path.write_text("[]")
        return []
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))
    return [pid for pid in pids if pid not in alive]


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
