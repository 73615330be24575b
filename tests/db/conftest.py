"""A real PostgreSQL for every test: the server in DATABASE_URL when it is set
(CI sets it to the machine's server), else an embedded pgserver in a temporary
directory. Each test gets a fresh database cloned from a migrated template."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from harvest.db.connection import Embedded, connect, quote_ident, with_database
from harvest.db.migrate import migrate

_counter = itertools.count()


class Server:
    def __init__(self, admin_dsn: str, embedded: Embedded | None) -> None:
        self.admin_dsn = admin_dsn
        self.embedded = embedded
        self.template = f"harvest_tpl_{uuid.uuid4().hex[:8]}"

    def admin(self) -> Any:
        conn = connect(self.admin_dsn)
        conn.autocommit = True
        return conn

    def create(self, name: str, template: str | None = None) -> str:
        conn = self.admin()
        try:
            with conn.cursor() as cur:
                tpl = f" TEMPLATE {quote_ident(template)}" if template else ""
                cur.execute(f"CREATE DATABASE {quote_ident(name)}{tpl}")
        finally:
            conn.close()
        return with_database(self.admin_dsn, name)

    def drop(self, name: str) -> None:
        conn = self.admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
            conn.close()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    external = os.environ.get("DATABASE_URL")
    embedded = None
    if external:
        admin = with_database(external, "postgres")
    else:
        # A short path: the server's Unix socket lives in it.
        embedded = Embedded(Path(tmp_path_factory.mktemp("pg")) / "data")
        admin = with_database(embedded.start(), "postgres")
    server = Server(admin, embedded)
    dsn = server.create(server.template)
    conn = psycopg2.connect(dsn)
    try:
        migrate(conn)
    finally:
        conn.close()
    yield server
    server.drop(server.template)
    if embedded is not None:
        embedded.close()


@pytest.fixture
def db_dsn(pg_server: Server) -> Iterator[str]:
    name = f"harvest_t_{os.getpid()}_{next(_counter)}"
    dsn = pg_server.create(name, pg_server.template)
    yield dsn
    pg_server.drop(name)


@pytest.fixture
def db(db_dsn: str) -> Iterator[Any]:
    conn = connect(db_dsn)
    yield conn
    conn.close()


def scalar(conn: Any, sql: str, params: Any = None) -> Any:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    conn.commit()
    return row[0] if row else None


def rows(conn: Any, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        out = cur.fetchall()
    conn.commit()
    return out
