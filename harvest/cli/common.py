"""What the command groups share: the database connection, argument types, options."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from harvest.analysis import output


class CommandError(Exception):
    """An expected condition a command reports in one line, with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def database(migrate: bool = True) -> Iterator[Any]:
    """A connection to the configured database (starting the embedded one if needed)."""
    from harvest.db import connection as dbconn
    from harvest.db.migrate import migrate as apply

    target = dbconn.resolve()
    conn = dbconn.connect(target.dsn)
    try:
        if migrate:
            apply(conn)
        conn.set_session(readonly=False, autocommit=True)
        yield conn
    finally:
        conn.close()


def a_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {n}")
    return n


def format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=output.FORMATS,
        default="table",
        help="table for people; csv or json (JSON Lines) for tools",
    )


def filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domain", help="only links to this registered domain")
    parser.add_argument("--tag", help="only posts with this tag")
    parser.add_argument("--publication", help="only posts of this publication (slug or domain)")
    parser.add_argument("--since", type=a_date, help="only posts first published on or after")


def filters(args: argparse.Namespace) -> Any:
    from harvest.db.report import Filters

    domain = args.domain.lower().strip() if getattr(args, "domain", None) else None
    return Filters(
        domain=domain,
        tag=args.tag.lower().lstrip("#") if args.tag else None,
        publication=args.publication,
        since=args.since,
    )


def command(sub: Any, name: str, help: str, description: str | None = None) -> Any:
    """A sub-command's parser, whose help names every option's default."""
    return sub.add_parser(
        name,
        help=help,
        description=description or help,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
