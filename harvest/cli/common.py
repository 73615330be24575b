"""What the command groups share: the database connection, argument types, options."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TextIO

import psycopg2

from harvest.analysis import output
from harvest.secrets import mask_dsn


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake said in one line (and where the usage is)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (usage: {self.prog} --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, unless there is none to name (None,
    False) or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action) or text


class CommandError(Exception):
    """An expected condition a command reports in one line, with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def first_line(exc: BaseException) -> str:
    """An exception's first line of text (libpq's messages run over several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connection() -> Any:
    """A new connection to the configured database, or a one-line CommandError."""
    from harvest.db import connection as dbconn

    target = dbconn.resolve()
    try:
        return dbconn.connect(target.dsn, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise CommandError(
            f"cannot reach the database at {mask_dsn(target.dsn)}: {first_line(exc)}"
        ) from None


@contextmanager
def database(write: bool = False) -> Iterator[Any]:
    """A connection to the configured database (starting the embedded one if needed).

    A reading command (``write`` false) changes nothing: it does not migrate, its
    session is read-only, and a database without harvest's schema (or with an
    older one) is one line naming the command that migrates."""
    from harvest.db import connection as dbconn
    from harvest.db.migrate import migrate as apply

    if not write and not dbconn.configured_dsn():
        pgdata = dbconn.configured_pgdata()
        if not (pgdata / "PG_VERSION").exists():
            raise CommandError(
                f"no harvest database yet in {pgdata}: a crawl, or `harvest db migrate`, makes one"
            )
    conn = connection()
    try:
        if write:
            apply(conn)
        else:
            _require_schema(conn)
        conn.set_session(readonly=not write, autocommit=True)
        yield conn
    finally:
        conn.close()


def note_pending(conn: Any, err: TextIO) -> None:
    """Say, in one line, how much stored data the summaries do not count yet: the
    answers built on them (totals, top-domains, stats, report) leave it out."""
    from harvest.db import summaries

    n = summaries.pending(conn)
    if n:
        more = "more than " if n > summaries.PENDING_CAP else ""
        err.write(
            f"note: {more}{min(n, summaries.PENDING_CAP)} stored link changes are not in the "
            "summaries yet (a crawl folds them as it goes; `harvest db refresh` folds them now)\n"
        )


def _require_schema(conn: Any) -> None:
    from harvest.db.migrate import available, current_version

    have = current_version(conn)
    conn.rollback()
    latest = available()[-1].version
    if have is None or have < latest:
        what = "has no harvest schema" if have is None else f"has schema {have} of {latest}"
        raise CommandError(
            f"the database {conn.info.dbname!r} {what}: run `harvest db migrate` first"
        )


def a_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def run_id(value: str) -> str | int:
    """A crawl run: its id, or "last"."""
    if value == "last":
        return value
    try:
        return positive(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"a run id is a whole number from 1, or last, not {value!r}"
        ) from None


def output_file(value: str) -> str:
    """A file to write: its folder must exist (checked before any query runs)."""
    if value == "-":
        return value
    folder = Path(value).expanduser().parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {str(folder)!r} to write {value!r} in")
    if Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder, not a file")
    return value


def folder(value: str) -> str:
    """A folder to write files in: it must exist."""
    if not Path(value).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"no folder {value!r}")
    return value


# A filter is a name, a domain or a URL: longer than this, or holding a NUL
# (which PostgreSQL's text cannot carry), it is no filter.
FILTER_MAX = 2048


def filter_text(value: str) -> str:
    """A --domain, --tag or --publication value: text PostgreSQL can compare."""
    if "\x00" in value:
        raise argparse.ArgumentTypeError("a NUL character matches nothing harvest stores")
    if len(value) > FILTER_MAX:
        raise argparse.ArgumentTypeError(f"{len(value):,} characters, over {FILTER_MAX:,}")
    return value


def target(value: str) -> str:
    """What backlinks looks up: a domain, host or URL, not an empty word."""
    text = filter_text(value).strip()
    if not text.strip("./:"):
        raise argparse.ArgumentTypeError(
            f"give a domain, host or URL to look up (example.com), not {value!r}"
        )
    return text


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
    parser.add_argument("--domain", type=filter_text, help="only links to this registered domain")
    parser.add_argument("--tag", type=filter_text, help="only posts with this tag")
    parser.add_argument(
        "--publication",
        type=filter_text,
        help="only posts of this publication (its slug, name or own domain)",
    )
    link_options(parser)


def link_options(parser: argparse.ArgumentParser) -> None:
    """The filters on a link itself and its post's author and dates."""
    from harvest import vocabulary

    parser.add_argument("--author", type=filter_text, help="only posts by this username")
    parser.add_argument(
        "--placement",
        choices=list(vocabulary.PLACEMENTS),
        help="only links standing there on the page",
    )
    parser.add_argument(
        "--rel", choices=list(vocabulary.REL_CLASSES), help="only links of this rel class"
    )
    parser.add_argument(
        "--reason",
        choices=list(vocabulary.REASONS),
        help="only links of this verdict (follow: those that pass value)",
    )
    since_options(parser)


# The two dates, one meaning each, on every command that takes them (README.md,
# "Dates"): --since is when harvest first saw the link, --published-since when
# Medium says the post was first published.
def since_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", type=a_date, help="only links harvest first saw on or after this date"
    )
    parser.add_argument(
        "--until", type=a_date, help="only links harvest first saw on or before this date"
    )
    parser.add_argument(
        "--published-since",
        type=a_date,
        help="only links of posts first published on or after this date",
    )
    parser.add_argument(
        "--published-until",
        type=a_date,
        help="only links of posts first published on or before this date",
    )


def filters(args: argparse.Namespace) -> Any:
    from harvest.db.report_numbers import Filters
    from harvest.slugs import tag_slug

    domain = args.domain.lower().strip() if getattr(args, "domain", None) else None
    return Filters(
        domain=domain,
        # "Machine Learning" is machine-learning, as Medium slugs it
        tag=tag_slug(args.tag) if args.tag else None,
        publication=args.publication,
        **link_values(args),
    )


def link_values(args: argparse.Namespace) -> dict[str, Any]:
    """What link_options read, as the filters' own fields."""
    return {
        "author": args.author.removeprefix("@") if args.author else None,
        "placement": args.placement,
        "rel": args.rel,
        "reason": args.reason,
        "since": args.since,
        "until": args.until,
        "published_since": args.published_since,
        "published_until": args.published_until,
    }


def check_names(conn: Any, **named: str | None) -> None:
    """A --domain, --tag or --publication (or backlinks' target) that names
    nothing in this harvest is a mistake: one line, exit 2, and the nearest name
    the harvest has. (A name it has whose links the other filters leave out is
    an empty answer, said by the command.)"""
    from harvest.db import explore

    for kind, value in named.items():
        if not value or explore.known(conn, kind, value):
            continue
        close = explore.nearest(conn, kind, value)
        hint = f"; the nearest it has: {close}" if close else ""
        raise CommandError(f"no {kind} {value!r} in this harvest{hint}", 2)


def check_filters(conn: Any, f: Any) -> None:
    check_names(conn, domain=f.domain, tag=f.tag, publication=f.publication, author=f.author)


def command(sub: Any, name: str, help: str, description: str | None = None) -> Any:
    """A sub-command's parser, whose help names every option's default."""
    return sub.add_parser(
        name,
        help=help,
        description=description or help,
        formatter_class=HelpFormatter,
    )
