"""Real PostgreSQL for tests: the server in DATABASE_URL when it is set (CI
sets it to the machine's server), else an embedded pgserver in a temporary
directory. Each test gets a fresh database cloned from a migrated template."""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from harvest.db.connection import Embedded, connect

# Read once at import: tests may clear DATABASE_URL for the code under test.
EXTERNAL_DSN = os.environ.get("DATABASE_URL")


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
        from psycopg2.extensions import parse_dsn

        if parse_dsn(self.admin_dsn).get("dbname") == name:
            raise ValueError(f"refusing to drop {name!r}, the database dropped from")
        conn = self.admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
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
        out: list[tuple[Any, ...]] = cur.fetchall()
    conn.commit()
    return out


def live_anchor_counts(dsn: str, domain: str, flag: str) -> dict[str, int]:
    """Live links to ``domain`` whose rel has ``flag`` (nofollow, ugc, sponsored),
    counted by anchor text with SQL of the test's own: the oracle for groupings."""
    assert flag in ("nofollow", "ugc", "sponsored")
    conn = connect(dsn)
    try:
        return dict(
            rows(
                conn,
                f"""SELECT coalesce(l.anchor_text, ''), count(*) FROM links l
                    JOIN domains d USING (domain_id)
                    WHERE d.domain = %s AND l.lost_at IS NULL AND l.{flag} GROUP BY 1""",
                (domain,),
            )
        )
    finally:
        conn.close()


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def with_database(dsn: str, dbname: str) -> str:
    """``dsn`` pointing at another database on the same server."""
    parts = urlsplit(dsn)
    if parts.scheme.startswith("postgres"):
        return urlunsplit(parts._replace(path="/" + quote(dbname)))
    return f"{dsn} dbname={dbname}"


def set_large_domain(dsn: str, links: int) -> None:
    """Install large_domain() at ``links`` in the database at ``dsn``, with its
    large-domains-only tables brought to it, as a layer installed with that
    threshold would: the test worlds are far smaller than a real one."""
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "CREATE OR REPLACE FUNCTION large_domain() RETURNS integer "
                f"LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN {int(links)}"
            )
            cur.execute("SELECT summaries_regate()")
    finally:
        conn.close()
