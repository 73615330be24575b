"""The analysts' read-only role reads everything and can do nothing else (needs a server
where the test may create roles: CI's second pass, on the machine's PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harvest.db.connection import connect
from tests.pg import scalar

BIN = Path(sys.executable).parent


def test_read_only_role(db_dsn: str) -> None:
    if not os.environ.get("DATABASE_URL"):
        pytest.skip("needs a server where the test may create roles (DATABASE_URL)")
    import psycopg2
    from psycopg2.extensions import make_dsn, parse_dsn

    role = "harvest_ro_test"
    admin = connect(db_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            f"DROP OWNED BY {role}"
            if scalar(admin, "SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,))
            else "SELECT 1"
        )
        cur.execute(f"DROP ROLE IF EXISTS {role}")
        cur.execute(f"CREATE ROLE {role} LOGIN")
    env = {**os.environ, "DATABASE_URL": db_dsn}
    out = subprocess.run(
        [str(BIN / "harvest"), "db", "grant-readonly", role],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "may read every harvest table" in out.stdout
    # the databases it could still reach through PUBLIC are named, not hidden
    assert "can still connect to" in out.stderr and "postgres" in out.stderr
    ro = psycopg2.connect(make_dsn(**{**parse_dsn(db_dsn), "user": role}))
    try:
        with ro.cursor() as cur:
            cur.execute("SHOW default_transaction_read_only")
            assert cur.fetchone() == ("on",)
            # a guard rail the role can lift itself: privileges must hold without it
            cur.execute("SET default_transaction_read_only = off")
        ro.commit()
        with ro.cursor() as cur:
            cur.execute("SELECT count(*) FROM backlinks")
            cur.execute("SELECT count(*) FROM links")
        ro.rollback()
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), ro.cursor() as cur:
            cur.execute("INSERT INTO crawl_runs (spider) VALUES ('x')")
        ro.rollback()
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), ro.cursor() as cur:
            cur.execute("CREATE TABLE public.evil (x int)")
        ro.rollback()
        # nothing of its own, not even temporary
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), ro.cursor() as cur:
            cur.execute("CREATE TEMP TABLE evil (x int)")
        ro.rollback()
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), ro.cursor() as cur:
            cur.execute("SELECT lo_create(0)")
        ro.rollback()
    finally:
        ro.close()
        with admin.cursor() as cur:
            cur.execute(f"DROP OWNED BY {role}")
            cur.execute(f"DROP ROLE {role}")
        admin.close()
