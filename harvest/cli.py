"""The ``harvest`` command."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from harvest import __version__, output
from harvest.medium import extract
from harvest.medium.records import as_json


def _dump(record: dict[str, object]) -> str:
    try:
        line = json.dumps(record, ensure_ascii=False)
        line.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (possible in JSON API text) cannot be written as
        # UTF-8; ASCII escapes keep the line valid JSON.
        line = json.dumps(record, ensure_ascii=True)
    return line


def cmd_extract(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path: str = args.path
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        print(f"harvest extract: cannot read {path}: {exc.strerror or exc}", file=err)
        return 2
    result = extract(data, args.url)
    records = result.records()
    for record in records:
        out.write(_dump(as_json(record)) + "\n")
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(result.skipped.items()))
    if records:
        summary = f"harvest extract: {path}: {result.kind}, {len(records)} records"
        if skipped:
            summary += f" (skipped: {skipped})"
        if args.verbose:
            print(summary, file=err)
    else:
        reason = "; ".join(result.problems) or "nothing to extract"
        print(f"harvest extract: {path}: yields nothing: {reason}", file=err)
    for problem in result.problems if records else ():
        print(f"harvest extract: {path}: {problem}", file=err)
    return 0


# -- database commands ---------------------------------------------------------------


def _pgdata() -> Path:
    from harvest.db.connection import default_pgdata

    return Path(os.environ.get("HARVEST_PGDATA") or default_pgdata())


@contextmanager
def _database(migrate: bool = True) -> Iterator[Any]:
    """A connection to the configured database (starting the embedded one if needed)."""
    from harvest.db import connection as dbconn
    from harvest.db.migrate import migrate as apply

    target = dbconn.resolve(None, _pgdata())
    conn = dbconn.connect(target.dsn)
    try:
        if migrate:
            apply(conn)
        conn.set_session(readonly=False, autocommit=True)
        yield conn
    finally:
        conn.close()


def cmd_db(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import connection as dbconn
    from harvest.db.migrate import current_version, migrate

    action = args.action
    external = dbconn.configured_dsn()
    embedded = dbconn.Embedded(_pgdata())
    if action in ("start", "stop") and external:
        print(
            f"harvest db {action}: DATABASE_URL names an external server "
            f"({dbconn.mask_dsn(external)}); there is no embedded server to {action}",
            file=err,
        )
        return 1
    if action == "start":
        started = embedded.start(keep_running=True)
        print(f"embedded PostgreSQL running in {embedded.pgdata}", file=err)
        out.write(started + "\n")
        return 0
    if action == "stop":
        stopped = embedded.stop()
        print("stopped" if stopped else "not running", file=err)
        return 0
    if action == "status":
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
            with conn.cursor() as cur:
                cur.execute("SELECT current_setting('server_version')")
                version = cur.fetchone()[0]
            schema = current_version(conn)
            out.write(
                f"database: {where}\nurl: {dbconn.mask_dsn(dsn)}\nstate: running\n"
                f"server: PostgreSQL {version}\nschema version: {schema}\n"
            )
        finally:
            conn.close()
        return 0
    if action == "migrate":
        target = dbconn.resolve(None, _pgdata())
        conn = dbconn.connect(target.dsn)
        try:
            applied = migrate(conn)
            version = current_version(conn)
        finally:
            conn.close()
        for mig in applied:
            out.write(f"applied {mig.version:04d}_{mig.name}\n")
        out.write(f"schema version {version}\n")
        return 0
    if action == "url":
        # Asked for explicitly: printed whole, password included.
        if external:
            out.write(external + "\n")
            return 0
        running = embedded.dsn_if_running()
        if running is None:
            print("the embedded server is not running: harvest db start", file=err)
            return 1
        out.write(running + "\n")
        return 0
    if action == "psql":
        conninfo = external or embedded.start(keep_running=False)
        psql = shutil.which("psql")
        if psql is None:
            from pgserver._commands import POSTGRES_BIN_PATH

            psql = str(POSTGRES_BIN_PATH / "psql")
        sys.stdout.flush()
        os.execv(psql, [psql, conninfo, *args.psql_args])  # noqa: S606 - replaces this process by design
    raise AssertionError(action)  # pragma: no cover


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {n}")
    return n


def cmd_backlinks(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with _database() as conn:
        columns, rows = queries.backlinks(
            conn,
            args.domain,
            dofollow_only=args.dofollow_only,
            since=args.since,
            include_lost=args.include_lost,
            limit=args.limit,
        )
    output.write(out, args.format, columns, rows)
    return 0


def cmd_top_domains(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with _database() as conn:
        columns, rows = queries.top_domains(
            conn, limit=args.limit, dofollow_only=args.dofollow_only
        )
    output.write(out, args.format, columns, rows)
    return 0


def cmd_stats(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with _database() as conn:
        data = queries.stats(conn)
    runs = data.pop("runs")
    if args.format == "json":
        out.write(
            json.dumps(
                {**data, "runs": [{k: output.plain(v) for k, v in run.items()} for run in runs]},
                ensure_ascii=False,
            )
            + "\n"
        )
        return 0
    output.write(out, args.format, ["metric", "value"], list(data.items()))
    if args.format == "table":
        out.write("\nrecent crawl runs\n")
    if runs:
        output.write(out, args.format, list(runs[0].keys()), [tuple(r.values()) for r in runs])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harvest",
        description="Who links where from Medium, and is the link nofollow?",
    )
    parser.add_argument("--version", action="version", version=f"harvest {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "extract",
        help="print the records one saved page yields, as JSON Lines",
        description=(
            "Read one saved page (article, listing, profile, feed, sitemap or Medium JSON; "
            "the kind is detected from the content) and print one JSON object per record."
        ),
    )
    p.add_argument("path", help="file to read, or - for standard input")
    p.add_argument("--url", help="the page's address, used to resolve relative links")
    p.add_argument("-v", "--verbose", action="store_true", help="print a summary on stderr")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("db", help="manage the database (embedded unless DATABASE_URL is set)")
    p.add_argument("action", choices=["migrate", "start", "stop", "status", "url", "psql"])
    p.add_argument("psql_args", nargs=argparse.REMAINDER, help="arguments passed on to psql")
    p.set_defaults(func=cmd_db)

    def fmt(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--format",
            choices=output.FORMATS,
            default="table",
            help="table for people; csv or json (JSON Lines) for tools",
        )

    p = sub.add_parser("backlinks", help="every harvested link to a domain or host")
    p.add_argument("domain", help="registered domain (example.com), host or URL")
    p.add_argument(
        "--dofollow-only", action="store_true", help="only links without nofollow, ugc or sponsored"
    )
    p.add_argument("--since", type=_date, help="only links seen on or after this date")
    p.add_argument(
        "--include-lost", action="store_true", help="also links a recrawl no longer found"
    )
    p.add_argument("--limit", type=_positive)
    fmt(p)
    p.set_defaults(func=cmd_backlinks)

    p = sub.add_parser("top-domains", help="most linked-to domains with their nofollow share")
    p.add_argument("--limit", type=_positive, default=25)
    p.add_argument("--dofollow-only", action="store_true", help="rank by dofollow links")
    fmt(p)
    p.set_defaults(func=cmd_top_domains)

    p = sub.add_parser("stats", help="posts, links, rel shares and recent crawl runs")
    fmt(p)
    p.set_defaults(func=cmd_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args, sys.stdout, sys.stderr))
    except BrokenPipeError:
        # `harvest extract page.html | head` closes the pipe early: not an error.
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
