"""The ``harvest`` command: one module per command group, each adding its own parsers.

========================  ==============================================================
module                    commands
========================  ==============================================================
``harvest.cli.extract``   ``extract``: the records one saved page yields
``harvest.cli.database``  ``db migrate|start|stop|status|url|psql|check|renormalize|...``
``harvest.cli.queries``   ``backlinks``, ``top-domains``, ``stats``
``harvest.cli.analysis``  ``report``, ``export``
``harvest.cli.runs``      ``crawl-report``, ``reparse``
``harvest.cli.frontier``  ``enqueue``
``harvest.cli.ops``       ``schedule``, ``jobs``, ``scrapyd``
``harvest.cli.demo``      ``demo``, ``settings``
``harvest.cli.serve``     ``serve``: the explorer
========================  ==============================================================
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import psycopg2

from harvest import __version__
from harvest.cli import analysis, database, demo, extract, frontier, ops, queries, runs, serve
from harvest.cli.common import CommandError, HelpFormatter, Parser, first_line
from harvest.config import SettingError

GROUPS = (extract, database, queries, analysis, runs, frontier, ops, demo, serve)


# Commands whose remaining words belong to another program, and where they go.
PASSED_ON = ((("db", "psql"), "psql_args"),)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="harvest",
        description="Who links where from Medium, and is the link nofollow?",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"harvest {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(sub)
    return parser


def _parse(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    """The command line's arguments; those another program takes (harvest db
    psql -At -c ...) are passed on untouched: argparse would read their options
    as its own."""
    passed_on: list[str] | None = None
    for prefix, _ in PASSED_ON:
        if words[: len(prefix)] == list(prefix):
            words, passed_on = words[: len(prefix)], words[len(prefix) :]
    args = parser.parse_args(words)
    for prefix, dest in PASSED_ON:
        if passed_on is not None and words == list(prefix):
            setattr(args, dest, passed_on)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(build_parser(), list(sys.argv[1:] if argv is None else argv))
    name = " ".join(w for w in (args.command, getattr(args, "action", None)) if w)
    try:
        return int(args.func(args, sys.stdout, sys.stderr))
    except CommandError as exc:
        # An expected condition: one line on stderr, never a traceback.
        print(f"harvest {name}: {exc}", file=sys.stderr)
        return exc.status
    except SettingError as exc:
        # A setting from the environment or settings file that cannot be used
        # (DATABASE_URL='garbage://x'): the user's to mend, said in one line.
        print(f"harvest {name}: {exc}", file=sys.stderr)
        return 2
    except psycopg2.Error as exc:
        # The server went away or refused mid-command: expected, and said in a line.
        print(f"harvest {name}: database error: {first_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `harvest extract page.html | head` closes the pipe early: not an error.
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
