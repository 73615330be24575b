"""``harvest report`` and ``harvest export``: the audit and the data, to files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from harvest.analysis import output
from harvest.analysis.exports import GRAPH_FORMATS, ROW_FORMATS
from harvest.cli.common import (
    CommandError,
    check_filters,
    command,
    database,
    filter_options,
    filters,
    note_pending,
    output_file,
    positive,
)
from harvest.db import export_rows as export_sql


def add_parsers(sub: Any) -> None:
    p = command(
        sub, "report", "the nofollow audit as one self-contained HTML file (or its numbers as JSON)"
    )
    filter_options(p)
    p.add_argument(
        "-o", "--output", type=output_file, help="file to write; - or none: standard output"
    )
    p.add_argument(
        "--format", choices=["html", "json"], default="html", help="the page, or its numbers"
    )
    p.add_argument("--top", type=positive, default=25, help="rows in the top-N tables")
    p.add_argument(
        "--groupings",
        action="store_true",
        help="with --domain: its anchors, target pages, referrers and new and lost links by "
        "month too (a pass over its links each: seconds for the largest domains of 10^7)",
    )
    p.set_defaults(func=report)

    p = command(
        sub,
        "export",
        "stream links, posts or domains (csv, jsonl, parquet), or a link graph",
        "Rows stream from a server-side cursor (flat memory). graph: edges from publications "
        "(or authors) to target domains or hosts, weighted by links, with the nofollow share.",
    )
    p.add_argument("what", choices=[*export_sql.QUERIES, "graph"], help="what to export")
    filter_options(p)
    p.add_argument(
        "--format",
        help=f"{'|'.join(ROW_FORMATS)} (default csv); for graph {'|'.join(GRAPH_FORMATS)} "
        "(default gexf)",
    )
    p.add_argument(
        "--level",
        choices=export_sql.GRAPH_LEVELS,
        default="domain",
        help="graph only: what the edges point at (domain, host) or come from (author)",
    )
    p.add_argument(
        "-o", "--output", type=output_file, help="file to write; - or none: standard output"
    )
    p.set_defaults(func=export)


def report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.analysis.report import render
    from harvest.db.report_numbers import report_numbers

    chosen = filters(args)
    with database() as conn:
        check_filters(conn, chosen)
        numbers = report_numbers(conn, chosen, top=args.top)
        if chosen.domain and args.groupings:
            numbers["groupings"] = _groupings(conn, chosen, args.top)
        note_pending(conn, err)
    if not numbers["verdict"]["links"]:
        err.write("no harvested link matches these filters: the report says so\n")
    if args.format == "json":
        text = json.dumps(numbers, default=output.plain, ensure_ascii=False, indent=1) + "\n"
    else:
        text = render(numbers)
    if args.output and args.output != "-":
        with output.atomic_path(Path(args.output)) as path:
            path.write_text(text, encoding="utf-8")
        err.write(f"wrote {args.output} ({len(text.encode()) // 1024} KB)\n")
    else:
        out.write(text)
    return 0


def _groupings(conn: Any, chosen: Any, top: int) -> dict[str, list[dict[str, Any]]]:
    """A domain's report's groupings, narrowed as its links are (the filters on
    a link and its post's author and dates; a tag or publication is not one)."""
    from harvest.db import explore
    from harvest.db.queries import LinkFilters

    target = explore.find_target(conn, chosen.domain)
    if target is None:
        return {}
    filters = LinkFilters(
        author=chosen.author, placement=chosen.placement, rel=chosen.rel,
        reason=chosen.reason, since=chosen.since, until=chosen.until,
        published_since=chosen.published_since, published_until=chosen.published_until,
    )  # fmt: skip
    out = {}
    for grouping in explore.GROUPINGS:
        columns, rows = explore.grouped(conn, target, grouping, filters, limit=top)
        out[grouping] = [dict(zip(columns, row, strict=True)) for row in rows]
    columns, rows = explore.months(conn, target, filters)
    out["months"] = [dict(zip(columns, row, strict=True)) for row in rows]
    return out


def export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    graph = args.what == "graph"
    formats = GRAPH_FORMATS if graph else ROW_FORMATS
    fmt = args.format or formats[0]
    if fmt not in formats:
        raise CommandError(f"--format {', '.join(formats[:-1])} or {formats[-1]}", 2)
    to_file = bool(args.output and args.output != "-")
    if fmt == "parquet" and not to_file:
        raise CommandError("Parquet needs -o FILE", 2)
    if to_file:
        with output.atomic_path(Path(args.output)) as path:
            _export(args, fmt, path, err)
    else:
        _export(args, fmt, out, err)
    return 0


def _to_text(target: Any, write: Callable[[Any], int]) -> int:
    """``write`` to a path (opened here) or to an open text stream."""
    if isinstance(target, Path):
        with target.open("w", encoding="utf-8", newline="") as fh:
            return write(fh)
    return write(target)


def _export(args: argparse.Namespace, fmt: str, target: Any, err: TextIO) -> None:
    from harvest.analysis import exports

    chosen = filters(args)
    with database() as conn:
        check_filters(conn, chosen)
        conn.autocommit = False  # a named (server-side) cursor needs a transaction
        if args.what == "graph":
            edges = export_sql.graph_edges(conn, args.level, chosen)
            nodes, n_edges = exports.write_graph(edges, fmt, target)
            conn.rollback()
            err.write(f"{nodes} nodes, {n_edges} edges\n")
            return
        if fmt in export_sql.COPIERS:
            # written by the server as harvest writes them: at COPY's own speed
            n = _to_text(
                target, lambda fh: export_sql.copy_export(conn, args.what, chosen, fh, fmt)
            )
        else:
            columns, batches = export_sql.rows(conn, args.what, chosen)
            n = exports.write_rows(columns, batches, fmt, target)
        conn.rollback()
    err.write(f"{n} rows\n" if n else "0 rows: no harvested link matches these filters\n")
