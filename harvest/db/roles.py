"""A read-only role for analysts: SELECT on harvest's tables and views, nothing else."""

from __future__ import annotations

import re
from typing import Any

import psycopg2
from psycopg2 import sql

_ROLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
# Server-side functions that create large objects: any role may call them by default.
_LARGE_OBJECT_FUNCTIONS = (
    "lo_creat(integer)",
    "lo_create(oid)",
    "lo_from_bytea(oid, bytea)",
    "lo_import(text)",
    "lo_import(text, oid)",
)


class RoleError(ValueError):
    pass


def grant_readonly(conn: Any, role: str) -> tuple[bool, list[str]]:
    """Grant ``role`` read access to the current database.

    Returns whether the role was created, and notes for the operator (what could
    not be closed from here). A role that does not exist is created NOLOGIN: give
    it a login and a password (``ALTER ROLE ... LOGIN PASSWORD ...``) or grant it
    to people's own roles. Tables created by later migrations are covered too
    (default privileges of the role that runs the migrations).

    Beyond SELECT the role gets nothing: no temporary tables (PUBLIC's TEMPORARY
    on this database goes to the current user instead), no large objects (where
    this user may revoke their functions from PUBLIC), read-only transactions
    by default; the databases it could still connect to through PUBLIC are named.
    """
    if not _ROLE_RE.match(role):
        raise RoleError(f"{role!r} is not a plain role name")
    ident = sql.Identifier(role)
    notes: list[str] = []
    with conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        created = cur.fetchone() is None
        if created:
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident))
        cur.execute("SELECT current_database()")
        db = sql.Identifier(cur.fetchone()[0])
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, ident))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident))
        cur.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}"
            ).format(ident)
        )
        # Every role has PUBLIC's TEMPORARY; harvest's writer keeps it by name.
        cur.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO CURRENT_USER").format(db))
        cur.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
        cur.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM {}").format(db, ident))
        cur.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
        cur.execute("SAVEPOINT large_objects")
        try:
            for function in _LARGE_OBJECT_FUNCTIONS:
                cur.execute(f"REVOKE EXECUTE ON FUNCTION pg_catalog.{function} FROM PUBLIC")
            cur.execute("RELEASE SAVEPOINT large_objects")
        except psycopg2.errors.InsufficientPrivilege:
            cur.execute("ROLLBACK TO SAVEPOINT large_objects")
            notes.append(
                "this user may not revoke the large-object functions from PUBLIC; as a "
                "superuser: REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), "
                "pg_catalog.lo_creat(integer), pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC"
            )
        cur.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND datname <> current_database() "
            "AND has_database_privilege(%s, datname, 'CONNECT') ORDER BY datname",
            (role,),
        )
        others = [row[0] for row in cur.fetchall()]
    if others:
        notes.append(
            f"{role} can still connect to {', '.join(others)} through PUBLIC: run REVOKE "
            "CONNECT ON DATABASE <name> FROM PUBLIC there where that is right, or limit "
            f"{role} in pg_hba.conf"
        )
    notes.append(
        "roles other than this one that write harvest's data need TEMPORARY on this database "
        "(GRANT TEMPORARY ON DATABASE ... TO writer)"
    )
    return created, notes


def login_hint(role: str) -> str:
    """The statement an administrator runs to let a new NOLOGIN role log in."""
    return f"ALTER ROLE {role} LOGIN PASSWORD '...'"
