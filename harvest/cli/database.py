"""``harvest db``: the database, embedded unless DATABASE_URL names a server."""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
from typing import Any, TextIO

from harvest.cli.common import CommandError, command, connection, database
from harvest.db import connection as dbconn
from harvest.secrets import mask_dsn


def add_parsers(sub: Any) -> None:
    p = command(sub, "db", "manage the database (embedded unless DATABASE_URL is set)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text, func in (
        ("migrate", "create or upgrade the schema (idempotent)", migrate),
        ("start", "keep the embedded server running for others", start),
        ("stop", "stop the embedded server", stop),
        ("status", "where the data is, and whether the server answers", status),
        ("url", "the database's URL, password included", url),
        (
            "refresh",
            "fold stored links into the summaries now (a crawl folds as it goes and at its end)",
            refresh,
        ),
    ):
        command(actions, name, help_text).set_defaults(func=func)
    q = command(actions, "psql", "a psql shell on the database")
    q.add_argument("psql_args", nargs=argparse.REMAINDER, help="passed on to psql")
    q.set_defaults(func=psql)
    q = command(
        actions,
        "renormalize",
        "rewrite stored target URLs the way today's URL rules write them",
        "After an upgrade that changes how harvest reads URLs: rows move to the new URL "
        "(host and domain with it) and merge with a row already there, keeping the "
        "earliest first_seen. --dry-run only counts.",
    )
    q.add_argument("--dry-run", action="store_true", help="count what would change, change nothing")
    q.set_defaults(func=renormalize)
    q = command(
        actions,
        "check",
        "recount the summaries from links and say whether they agree",
        "The summaries behind top-domains, stats, report and backlinks' totals are folded "
        "from what the store appends as it writes. check folds what is pending, recounts "
        "them from links and posts (minutes at 10^8 links) and exits 1 if any row differs; "
        "--repair then puts the recount in place.",
    )
    q.add_argument(
        "--repair",
        action="store_true",
        help="replace the summaries by the recount when they differ",
    )
    q.set_defaults(func=check)
    q = command(actions, "grant-readonly", "give a role SELECT on every table and view only")
    q.add_argument("role", help="the PostgreSQL role (created NOLOGIN when it does not exist)")
    q.set_defaults(func=grant_readonly)


def _embedded() -> dbconn.Embedded:
    return dbconn.Embedded(dbconn.configured_pgdata())


def _no_external(action: str) -> None:
    external = dbconn.configured_dsn()
    if external:
        raise CommandError(
            f"DATABASE_URL names an external server ({mask_dsn(external)}); "
            f"there is no embedded server to {action}"
        )


def migrate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db.migrate import current_version
    from harvest.db.migrate import migrate as apply

    conn = connection()
    try:
        applied = apply(conn)
        version = current_version(conn)
    finally:
        conn.close()
    for mig in applied:
        out.write(f"applied {mig.version:04d}_{mig.name}\n")
    out.write(f"schema version {version}\n")
    return 0


def start(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _no_external("start")
    embedded = _embedded()
    started = embedded.start(keep_running=True)
    print(f"embedded PostgreSQL running in {embedded.pgdata}", file=err)
    out.write(started + "\n")
    return 0


def stop(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _no_external("stop")
    print("stopped" if _embedded().stop() else "not running", file=err)
    return 0


def status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db.migrate import current_version
    from harvest.db.queries import server_version

    external = dbconn.configured_dsn()
    embedded = _embedded()
    where = "external" if external else f"embedded ({embedded.pgdata})"
    dsn = external or embedded.dsn_if_running()
    if dsn is None:
        out.write(f"database: {where}\nstate: stopped\n")
        return 0
    try:
        conn = dbconn.connect(dsn, connect_timeout=5)
    except dbconn.RETRYABLE as exc:
        out.write(f"database: {where}\nstate: unreachable ({str(exc).strip()})\n")
        return 1
    try:
        version = server_version(conn)
        schema = current_version(conn)
    finally:
        conn.close()
    out.write(
        f"database: {where}\nurl: {mask_dsn(dsn)}\nstate: running\n"
        f"server: PostgreSQL {version}\nschema version: {schema}\n"
    )
    return 0


def url(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Asked for explicitly: printed whole, password included.
    external = dbconn.configured_dsn()
    if external:
        out.write(external + "\n")
        return 0
    running = _embedded().dsn_if_running()
    if running is None:
        raise CommandError("the embedded server is not running: harvest db start")
    out.write(running + "\n")
    return 0


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # psql's own, not our ignoring


def psql(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    embedded = None if dbconn.configured_dsn() else _embedded()
    conninfo = dbconn.configured_dsn() or embedded.start(keep_running=False)  # type: ignore[union-attr]
    binary = shutil.which("psql") or str(dbconn.embedded_bindir() / "psql")
    sys.stdout.flush()
    # psql runs as a child, not in this process's place, so that the embedded
    # server it started is let go of when psql ends; Ctrl-C belongs to psql.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run(  # noqa: S603 - the psql the server ships, our own arguments
            [binary, conninfo, *args.psql_args], check=False, preexec_fn=_default_sigint
        ).returncode
    finally:
        signal.signal(signal.SIGINT, previous)
        if embedded is not None:
            embedded.close()


def renormalize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db.migrate import migrate as apply
    from harvest.db.renormalize import renormalize as run

    conn = connection()
    try:
        apply(conn)
        result = run(conn, dry_run=args.dry_run)
    finally:
        conn.close()
    for line in result.lines(args.dry_run):
        out.write(line + "\n")
    return 0


def grant_readonly(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db.migrate import migrate as apply
    from harvest.db.roles import RoleError, login_hint
    from harvest.db.roles import grant_readonly as grant

    role = args.role
    conn = connection()
    try:
        apply(conn)
        created, notes = grant(conn, role)
    except RoleError as exc:
        raise CommandError(str(exc), 2) from None
    finally:
        conn.close()
    if created:
        out.write(f"created role {role} (NOLOGIN); give it a login: {login_hint(role)}\n")
    out.write(f"{role} may read every harvest table and view, and change nothing\n")
    for note in notes:
        err.write(f"note: {note}\n")
    return 0


def refresh(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import time

    from harvest.db import summaries

    with database(write=True) as conn:
        started = time.perf_counter()
        conn.autocommit = False
        folded = summaries.fold(conn)
    out.write(
        f"summaries up to date: {folded} pending facets folded in "
        f"{time.perf_counter() - started:.1f}s\n"
    )
    return 0


def check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.analysis import output
    from harvest.db import summaries
    from harvest.db.migrate import migrate as apply

    conn = connection()
    try:
        apply(conn)
        result = summaries.check(conn)
        rows = [(t, result.rows[t], result.differing[t]) for t in summaries.TABLES]
        output.write(out, "table", ["summary", "rows", "differing"], rows)
        if result.agree:
            out.write(f"summaries agree with links (recounted in {result.seconds:.1f}s)\n")
            return 0
        bad = sum(1 for n in result.differing.values() if n)
        if not args.repair:
            err.write(
                f"error: {bad} summaries differ from a recount of links; "
                "harvest db check --repair replaces them\n"
            )
            return 1
        took = summaries.rebuild(conn)
        again = summaries.check(conn)
    finally:
        conn.close()
    if not again.agree:
        err.write("error: the summaries still differ after the repair\n")
        return 1
    out.write(f"repaired: {bad} summaries rebuilt from links in {took:.1f}s; they agree now\n")
    return 0
