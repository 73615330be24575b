"""Each private hook in harvest.compat, held to the library version it was written for.

A library upgrade that moves what a hook relies on fails here, by name, rather
than as a slow worker or a server left running.
"""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from harvest import compat
from harvest.db.connection import Embedded
from tests.child import json_from

ROOT = Path(__file__).resolve().parents[1]
# Libraries harvest subclasses or hooks into: pinned exactly in pyproject.toml.
PINNED_IN_PYPROJECT = ("Scrapy", "scrapy-playwright", "scrapy-redis", "pgserver")


@pytest.mark.parametrize("name", PINNED_IN_PYPROJECT)
def test_libraries_with_hooks_are_pinned_to_the_installed_version(name: str) -> None:
    installed = version(name)
    pyproject = (ROOT / "pyproject.toml").read_text()
    requirements = (ROOT / "requirements.txt").read_text()
    assert f'"{name}=={installed}"' in pyproject
    assert re.search(rf"(?im)^{re.escape(name)}=={re.escape(installed)}$", requirements)
    key = name.lower()
    if key in compat.PINNED:
        assert compat.PINNED[key] == installed


def test_wake_engine_makes_an_idle_engine_ask_its_scheduler_at_once() -> None:
    result = json_from("tests.compat_engine", timeout=60)
    assert result["woken"] is True
    # Scrapy's own heartbeat would ask only about 4 s later.
    assert result["asked_after"] is not None and result["asked_after"] < 0.2, result


def test_wake_engine_without_an_open_engine_does_nothing() -> None:
    class Engine:
        pass

    assert compat.wake_engine(Engine()) is False


def test_after_a_restart_pgserver_knows_the_postmaster_that_runs(tmp_path: Path) -> None:
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import PostmasterInfo

    # pgserver's exit hook stops the postmaster it remembers, if that one runs.
    assert "self._postmaster_info.process.is_running()" in inspect.getsource(
        PostgresServer._cleanup
    )
    embedded = Embedded(tmp_path / "data")
    embedded.start()
    try:
        server = embedded._server
        before = server.get_postmaster_info().pid
        embedded.restart()
        running = PostmasterInfo.read_from_pgdata(tmp_path / "data")
        assert running is not None and running.pid != before
        # (where init reaps the old postmaster, a stale pointer leaves the new one running)
        assert server.get_postmaster_info().pid == running.pid
    finally:
        embedded.close()
    assert not embedded.is_running()


def test_pgserver_keeps_its_users_where_the_hook_prunes_them(tmp_path: Path) -> None:
    """pgserver 0.1.4 lists the processes using a server in PGSERVER_HANDLES as a
    JSON list of pids: the hook that forgets dead ones relies on both."""
    import json
    import os
    import subprocess

    import pgserver

    from harvest.compat import PGSERVER_HANDLES, pgserver_forget_dead_handles

    pgdata = tmp_path / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        assert json.loads((pgdata / PGSERVER_HANDLES).read_text()) == [os.getpid()]
        gone = subprocess.Popen(["true"])
        gone.wait()
        (pgdata / PGSERVER_HANDLES).write_text(json.dumps([gone.pid, os.getpid()]))
        assert pgserver_forget_dead_handles(pgdata) == [gone.pid]
        assert json.loads((pgdata / PGSERVER_HANDLES).read_text()) == [os.getpid()]
        (pgdata / PGSERVER_HANDLES).write_text("[12")  # torn
        assert pgserver_forget_dead_handles(pgdata) == []
        assert json.loads((pgdata / PGSERVER_HANDLES).read_text()) == []
    finally:
        (pgdata / PGSERVER_HANDLES).write_text(json.dumps([os.getpid()]))
        server.cleanup()
