"""Where the database is and how to reach it.

``DATABASE_URL`` (environment) or the ``HARVEST_DATABASE_URL`` setting name a
server. With neither, harvest runs an embedded PostgreSQL (``pgserver``) in a
data directory of its own, reuses it on the next run and stops it when the
last process using it exits, unless it was already running (``harvest db
start``), in which case it is left running.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import psycopg2
import psycopg2.extensions

log = logging.getLogger(__name__)
# pgserver logs every command it runs at INFO; harvest reports what matters.
logging.getLogger("pgserver").setLevel(logging.WARNING)
# platformdirs warns, on import by pgserver, when XDG_RUNTIME_DIR is unset
# (containers, cron); pgserver then uses /tmp, which is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

EMBEDDED_DB_NAME = "harvest"
# The embedded server is harvest's own, so it is set up for bulk link loads:
# more shared memory for the indexes, and checkpoints spaced out so a long load
# is not slowed by repeated full-page writes. Durability settings (fsync,
# synchronous_commit, full_page_writes) stay at PostgreSQL's safe defaults.
EMBEDDED_SETTINGS = {
    "shared_buffers": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "checkpoint_completion_target": "0.9",
    "maintenance_work_mem": "256MB",
    "work_mem": "32MB",
}
T = TypeVar("T")

# Errors that mean "the connection or the server went away", worth a retry
# with a new connection: the whole transaction is replayed, and every write
# harvest makes is an idempotent upsert.
# Deadlocks and serialization failures between concurrent writers roll back
# the whole transaction, which is then safe to replay as well.
RETRYABLE = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    psycopg2.extensions.TransactionRollbackError,
)


def default_pgdata() -> Path:
    return Path(platformdirs.user_data_dir("harvest")) / "pgdata"


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved database: its DSN, and the embedded data dir if it is ours."""

    dsn: str
    pgdata: Path | None = None

    @property
    def embedded(self) -> bool:
        return self.pgdata is not None


def configured_dsn(settings: Any = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The server named by HARVEST_DATABASE_URL (or DATABASE_URL); None: the embedded one."""
    from harvest import config

    return config.value(settings, "HARVEST_DATABASE_URL", environ) or None


def configured_pgdata(settings: Any = None, environ: Mapping[str, str] | None = None) -> Path:
    """The embedded server's data directory (HARVEST_PGDATA, else the user data dir):
    the one place it is decided."""
    from harvest import config

    raw = config.value(settings, "HARVEST_PGDATA", environ)
    return Path(raw) if raw else default_pgdata()


class EmbeddedError(RuntimeError):
    """The embedded server could not be started (its data directory, its binaries)."""


class Embedded:
    """The embedded server in ``pgdata``, started on first use."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None

    def is_running(self) -> bool:
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return bool(info is not None and info.is_running())

    def start(self, *, keep_running: bool = False) -> str:
        """Start (or join) the server and return a DSN for the harvest database."""
        import pgserver

        from harvest import compat

        try:
            self.pgdata.mkdir(parents=True, exist_ok=True)
            compat.pgserver_forget_dead_handles(self.pgdata)
            # A server someone started on purpose (harvest db start) stays up after
            # we are done; one a killed process left running is ours to stop.
            mode = None if keep_running or self._keep.exists() else "stop"
            self._server = pgserver.get_server(self.pgdata, cleanup_mode=mode)
            if keep_running:
                self._keep.touch()  # after initdb, which wants an empty directory
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            raise EmbeddedError(
                f"in {self.pgdata}: {str(exc).strip() or type(exc).__name__}"
            ) from exc
        base = self._server.get_uri()
        if _apply_settings(base):
            self.restart()
        _ensure_database(base, EMBEDDED_DB_NAME)
        return str(self._server.get_uri(database=EMBEDDED_DB_NAME))

    def close(self) -> None:
        """Let go of the server: stopped if we started it and nobody else uses it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def _keep(self) -> Path:
        """Present while the server was started to stay up (harvest db start)."""
        return self.pgdata / ".harvest_keep_running"

    def stop(self) -> bool:
        """Stop the server if it runs, whoever started it; True if it was running."""
        self._keep.unlink(missing_ok=True)
        if not self.is_running():
            return False
        import pgserver

        # pgserver runs the server as its own "pgserver" user when we are root.
        user = "pgserver" if os.geteuid() == 0 else None
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        if self._server is not None:
            # Stopped on purpose: pgserver's exit hook has nothing left to stop.
            self._server.cleanup_mode = None
        return True

    def restart(self) -> None:
        """Start the server again with the options it last ran with (after stop())."""
        import pgserver

        from harvest import compat

        user = "pgserver" if os.geteuid() == 0 else None
        # With no server running, "restart" starts one from postmaster.opts.
        pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=user)
        if self._server is not None:
            compat.pgserver_follow_restart(self._server, self.pgdata)

    def dsn_if_running(self) -> str | None:
        if not self.is_running():
            return None
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        assert info is not None
        return str(info.get_uri(database=EMBEDDED_DB_NAME))


def embedded_bindir() -> Path:
    """Where the embedded server's programs (psql, pg_dump ...) are."""
    import pgserver

    return Path(pgserver.pg_config(["--bindir"]).strip())


def _apply_settings(dsn: str) -> bool:
    """Set EMBEDDED_SETTINGS once; True when a restart is needed to apply them."""
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        changed = False
        with conn.cursor() as cur:
            for name, value in EMBEDDED_SETTINGS.items():
                cur.execute("SELECT current_setting(%s)", (name,))
                current = str(_one(cur))
                if current.replace(" ", "").lower() != value.lower():
                    # names are our constants; ALTER SYSTEM takes no parameter for them
                    cur.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
                    changed = True
            if changed:
                cur.execute("SELECT pg_reload_conf()")
                cur.execute("SELECT bool_or(pending_restart) FROM pg_settings")
                return bool(_one(cur))
        return False
    finally:
        conn.close()


def _one(cur: Any) -> Any:
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("query returned no row")
    return row[0]


def _ensure_database(dsn: str, name: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                # identifiers cannot be parameters; the name is our constant
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def resolve(dsn: str | None = None, pgdata: Path | None = None) -> Target:
    """Decide which database to use, starting the embedded one when needed.

    ``dsn`` and ``pgdata`` are what the caller's settings say; unset, they are
    read from the environment.
    """
    dsn = dsn or configured_dsn()
    if dsn:
        return Target(dsn)
    data = pgdata or configured_pgdata()
    embedded = Embedded(data)
    return Target(embedded.start(), data)


def connect(dsn: str, *, application_name: str = "harvest", **kwargs: Any) -> Any:
    return psycopg2.connect(dsn, application_name=application_name, **kwargs)


def with_retries(
    operation: Callable[[], T],
    *,
    attempts: int = 8,
    base_delay: float = 0.2,
    max_delay: float = 10.0,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Run ``operation``, retrying connection-level failures with backoff.

    ``operation`` must be safe to repeat: it opens its own connection or
    transaction each time.
    """
    delay = base_delay
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except RETRYABLE as exc:
            if attempt == attempts:
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            log.warning(
                "database unavailable (%s), retry %d/%d in %.1fs",
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                attempt,
                attempts - 1,
                delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")  # pragma: no cover
