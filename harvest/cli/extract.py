"""``harvest extract``: the records one saved page yields, as JSON Lines."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from harvest.cli.common import command


def add_parsers(sub: Any) -> None:
    p = command(
        sub,
        "extract",
        "print the records one saved page yields, as JSON Lines",
        "Read one saved page (article, listing, profile, feed, sitemap or Medium JSON; "
        "the kind is detected from the content) and print one JSON object per record.",
    )
    p.add_argument("path", help="file to read, or - for standard input")
    p.add_argument("--url", help="the page's address, used to resolve relative links")
    p.add_argument("-v", "--verbose", action="store_true", help="print a summary on stderr")
    p.set_defaults(func=run)


def _dump(record: dict[str, object]) -> str:
    try:
        line = json.dumps(record, ensure_ascii=False)
        line.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (possible in JSON API text) cannot be written as
        # UTF-8; ASCII escapes keep the line valid JSON.
        line = json.dumps(record, ensure_ascii=True)
    return line


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # The parsers load here, not with the CLI: every other command starts faster.
    from harvest.medium import extract
    from harvest.medium.records import as_json

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
