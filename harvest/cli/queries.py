"""``harvest backlinks``, ``top-domains`` and ``stats``: the analyst's questions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from harvest.analysis import output
from harvest.cli.common import (
    a_date,
    command,
    database,
    folder,
    format_option,
    positive,
    target,
)


def add_parsers(sub: Any) -> None:
    p = command(sub, "backlinks", "every harvested link to a domain or host")
    p.add_argument("domain", type=target, help="registered domain (example.com), host or URL")
    p.add_argument(
        "--dofollow-only", action="store_true", help="only links without nofollow, ugc or sponsored"
    )
    p.add_argument(
        "--passing-only",
        action="store_true",
        help="only links that pass value (reason follow: the page and the post count too)",
    )
    p.add_argument("--since", type=a_date, help="only links seen on or after this date")
    p.add_argument(
        "--include-lost", action="store_true", help="also links a recrawl no longer found"
    )
    p.add_argument("--limit", type=positive, help="at most this many links")
    format_option(p)
    p.set_defaults(func=backlinks)

    p = command(sub, "top-domains", "most linked-to domains with their nofollow share")
    p.add_argument("--limit", type=positive, default=25, help="how many domains")
    p.add_argument("--dofollow-only", action="store_true", help="rank by dofollow links")
    format_option(p)
    p.set_defaults(func=top_domains)

    p = command(sub, "stats", "posts, links, rel shares and recent crawl runs")
    format_option(p)
    p.add_argument(
        "-o",
        "--output-dir",
        type=folder,
        help="csv only: write stats.csv and runs.csv into this folder",
    )
    p.set_defaults(func=stats)


def backlinks(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with database() as conn:
        columns, rows = queries.backlinks(
            conn,
            args.domain,
            dofollow_only=args.dofollow_only,
            passing_only=args.passing_only,
            since=args.since,
            include_lost=args.include_lost,
            limit=args.limit,
        )
    if args.format == "table":
        # A terminal shows what a person reads; csv and json carry every column.
        keep = [columns.index(c) for c in queries.BACKLINK_TABLE_COLUMNS]
        columns = [columns[i] for i in keep]
        rows = [tuple(row[i] for i in keep) for row in rows]
    output.write(out, args.format, columns, rows)
    return 0


def top_domains(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with database() as conn:
        columns, rows = queries.top_domains(
            conn, limit=args.limit, dofollow_only=args.dofollow_only
        )
    output.write(out, args.format, columns, rows)
    return 0


def stats(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with database() as conn:
        data = queries.stats(conn)
    runs = data.pop("runs")
    why = data.pop("why_not_passing")
    exceptions = data.pop("dofollow_exceptions")
    run_columns = list(runs[0].keys()) if runs else list(queries.RUN_COLUMNS)
    run_rows = [tuple(r.values()) for r in runs]
    if args.format == "json":
        record = {
            **data,
            "why_not_passing": why,
            "dofollow_exceptions": exceptions,
            "runs": [{k: output.plain(v) for k, v in run.items()} for run in runs],
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 0
    if args.format == "csv":
        # One table a spreadsheet reads whole: the reasons as metrics of their own;
        # the runs are a table of another shape, in -o DIR's runs.csv.
        metrics = [
            *data.items(),
            *((f"why_not_passing/{r}", n) for r, n in why.items()),
            *((f"dofollow_exceptions/{r}", n) for r, n in exceptions.items()),
        ]
        if args.output_dir is None:
            output.write(out, "csv", ["metric", "value"], metrics)
            return 0
        folder = Path(args.output_dir)
        for name, columns, rows in (
            ("stats.csv", ["metric", "value"], metrics),
            ("runs.csv", run_columns, run_rows),
        ):
            with output.atomic_path(folder / name) as path, path.open("w", newline="") as fh:
                output.write(fh, "csv", columns, rows)
        err.write(f"wrote {folder / 'stats.csv'} and {folder / 'runs.csv'}\n")
        return 0
    output.write(out, "table", ["metric", "value"], output.share_rows(list(data.items())))
    # Why links pass nothing, and the followed anchors among them (the exceptions
    # a "dofollow" count alone would take for value).
    for title, counts in (
        ("links that pass no value, by reason", why),
        ("dofollow anchors that pass no value, by reason", exceptions),
    ):
        out.write(f"\n{title}\n")
        output.write(out, "table", ["reason", "links"], list(counts.items()))
    out.write("\nrecent crawl runs\n")
    output.write(out, "table", run_columns, run_rows)
    return 0
