"""A read-only role for analysts: SELECT on harvest's tables and views, nothing else."""

from __future__ import annotations

import re
from typing import Any

from psycopg2 import sql

_ROLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


class RoleError(ValueError):
    pass


def grant_readonly(conn: Any, role: str) -> bool:
    """Grant ``role`` read access to the current database; True if the role was created.

    A role that does not exist is created NOLOGIN: give it a login and a
    password (``ALTER ROLE ... LOGIN PASSWORD ...``) or grant it to people's
    own roles. Tables created by later migrations are covered too (default
    privileges of the role that runs the migrations).
    """
    if not _ROLE_RE.match(role):
        raise RoleError(f"{role!r} is not a plain role name")
    ident = sql.Identifier(role)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        created = cur.fetchone() is None
        if created:
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident))
        cur.execute("SELECT current_database()")
        db = cur.fetchone()[0]
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(db), ident))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident))
        cur.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}"
            ).format(ident)
        )
        # Nothing else: no TEMP tables, no functions beyond PUBLIC's defaults.
        cur.execute(
            sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM {}").format(sql.Identifier(db), ident)
        )
    return created
