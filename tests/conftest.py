"""Shared fixtures: a real PostgreSQL (see tests/pg.py)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from harvest.db.connection import Embedded, connect
from harvest.db.migrate import migrate
from tests.ops.scrapyd_run import scrapyd  # noqa: F401 (a fixture, for tests/ops and tests/security)
from tests.pg import EXTERNAL_DSN, Server, with_database

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    embedded = None
    if EXTERNAL_DSN:
        admin = with_database(EXTERNAL_DSN, "postgres")
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
