"""Connections for a long-running reader (``harvest serve``): read-only sessions
as the read-only role, a few of them shared between threads.

The role is the guard that holds whatever the SQL says: a read-only session
alone can be switched back by the session itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from psycopg2 import sql

from harvest.db.connection import connect


class ReaderError(Exception):
    """The reader's session cannot be set up (no such role, not a member of it)."""


def reader_session(conn: Any, role: str | None) -> None:
    """Make ``conn`` a read-only autocommit session acting as ``role``."""
    conn.set_session(readonly=True, autocommit=True)
    if role is None:
        return
    with conn.cursor() as cur:
        cur.execute("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", (role,))
        found = cur.fetchone()
        if found is None:
            raise ReaderError(
                f"there is no role {role!r} in this database's server: "
                f"`harvest db grant-readonly {role}` makes it"
            )
        if found[1]:
            raise ReaderError(f"{role!r} is a superuser, not a read-only role")
        try:
            cur.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        except psycopg2.errors.InsufficientPrivilege:
            raise ReaderError(
                f"this database user may not act as {role!r}: GRANT {role} TO "
                f"{conn.info.user} (as an administrator)"
            ) from None


class ReaderPool:
    """At most ``size`` connections, each set up once, handed to one thread at a
    time; a connection the server dropped is replaced on its next use."""

    def __init__(self, dsn: str, role: str | None, size: int = 4) -> None:
        self.dsn, self.role = dsn, role
        self._free: list[Any] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()

    def _new(self) -> Any:
        conn = connect(self.dsn, application_name="harvest serve", connect_timeout=10)
        try:
            reader_session(conn, self.role)
        except BaseException:
            conn.close()
            raise
        return conn

    def check(self) -> None:
        """Open one connection now: a wrong role or address is said at start-up."""
        with self.connection():
            pass

    @contextmanager
    def connection(self) -> Iterator[Any]:
        with self._slots:
            with self._lock:
                conn = self._free.pop() if self._free else None
            if conn is None or conn.closed:
                conn = self._new()
            try:
                yield conn
            except psycopg2.OperationalError:
                conn.close()
                raise
            finally:
                if not conn.closed:
                    if conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                        conn.rollback()
                    with self._lock:
                        self._free.append(conn)

    def close(self) -> None:
        with self._lock:
            for conn in self._free:
                conn.close()
            self._free.clear()
