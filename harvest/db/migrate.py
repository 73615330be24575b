"""Versioned SQL migrations (``harvest/db/migrations/NNNN_name.sql``).

Each file runs once, in its own transaction, recorded in
``schema_migrations``. Concurrent migrators (several workers starting at once)
serialize on an advisory lock, so running ``migrate`` anywhere is always safe.

From 0020 on, the summaries' fold is generated from their declarations
(:mod:`harvest.db.summary_defs`) and installed after the last migration, in
its transaction; and again, on its own, whenever what they generate differs
from the checksum recorded in ``summary_layer``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from psycopg2 import sql

from harvest import vocabulary
from harvest.db import summary_defs

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works as long as every harvest process uses the same one.
_LOCK_KEY = 0x6861727665737431  # "harvest1"
# The first migration that expects the generated summary layer.
LAYER_FROM = 20


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    out = []
    folder = resources.files("harvest.db") / "migrations"
    for entry in folder.iterdir():
        m = _NAME_RE.match(entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    out.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in out]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return out


def migrate(conn: Any, *, upto: int | None = None) -> list[Migration]:
    """Apply pending migrations on ``conn`` (those numbered up to ``upto``, if
    given); returns the ones applied now."""
    applied_now = []
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        done = _applied(conn)
        wanted = [m for m in available() if upto is None or m.version <= upto]
        for mig in wanted:
            if mig.version in done:
                if done[mig.version] != mig.checksum:
                    log.warning(
                        "migration %04d_%s changed after it was applied", mig.version, mig.name
                    )
                continue
            _apply(conn, mig, last=mig is wanted[-1])
            log.info("applied migration %04d_%s", mig.version, mig.name)
            applied_now.append(mig)
        if wanted:
            with conn, conn.cursor() as cur:
                _comment_views(cur)
        if wanted and wanted[-1].version >= LAYER_FROM and not applied_now:
            _refresh_layer(conn)
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        conn.commit()
    return applied_now


def _applied(conn: Any) -> dict[int, str]:
    """The migrations applied before, by version, with their checksums."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text        NOT NULL,
                   checksum   text        NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
    with conn.cursor() as cur:
        cur.execute("SELECT version, checksum FROM schema_migrations")
        done = dict(cur.fetchall())
    conn.commit()
    return done


def _apply(conn: Any, mig: Migration, *, last: bool) -> None:
    """One migration in a transaction of its own; after the last, the summary layer."""
    with conn, conn.cursor() as cur:
        # Before any table lock the migration takes: a fold takes this
        # lock first too.
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", summary_defs.FOLD_LOCK)
        cur.execute(mig.sql)
        cur.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            (mig.version, mig.name, mig.checksum),
        )
        if last and mig.version >= LAYER_FROM:
            _install_layer(cur)


def _refresh_layer(conn: Any) -> None:
    """The summary layer again, where its declarations changed since it was installed."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT checksum FROM summary_layer")
        row = cur.fetchone()
        if not row or row[0] != summary_defs.layer_checksum():
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", summary_defs.FOLD_LOCK)
            _install_layer(cur)


# What each view is for; their columns are explained by harvest.vocabulary.
VIEW_COMMENTS = {
    "backlinks": "every harvested link with its post, author, publication and verdict",
    "domain_summary": "per target domain: live links, posts, authors and rel counts",
    "rel_summary": "live links by rel class, per publication and per tag",
}


def _comment_views(cur: Any) -> None:
    """The views' comments as harvest.vocabulary declares them, so that
    ``\\d+ backlinks`` in psql explains every column; only what differs is
    written (a comment takes a lock on the view)."""
    cur.execute(
        """SELECT c.relname, a.attname, col_description(c.oid, a.attnum),
                  obj_description(c.oid, 'pg_class')
           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
           WHERE c.relkind = 'v' AND c.relnamespace = current_schema()::regnamespace
             AND a.attnum > 0 AND NOT a.attisdropped AND c.relname = ANY (%s)""",
        (list(VIEW_COMMENTS),),
    )
    views = set()
    for view, column, have, view_have in cur.fetchall():
        want = vocabulary.FIELDS.get(column)
        if want is not None and have != want:
            cur.execute(
                sql.SQL("COMMENT ON COLUMN {}.{} IS %s").format(
                    sql.Identifier(view), sql.Identifier(column)
                ),
                (want,),
            )
        if view_have != VIEW_COMMENTS[view] and view not in views:
            views.add(view)
            cur.execute(
                sql.SQL("COMMENT ON VIEW {} IS %s").format(sql.Identifier(view)),
                (VIEW_COMMENTS[view],),
            )


def _install_layer(cur: Any) -> None:
    cur.execute(summary_defs.layer_sql())
    # the large-domains-only tables follow large_domain() as installed
    cur.execute("SELECT summaries_regate()")
    cur.execute("DELETE FROM summary_layer")
    cur.execute(
        "INSERT INTO summary_layer (checksum) VALUES (%s)", (summary_defs.layer_checksum(),)
    )
    log.info("installed the summaries' generated fold")


def current_version(conn: Any) -> int | None:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return None
        cur.execute("SELECT max(version) FROM schema_migrations")
        row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None
