"""``harvest backlinks``, ``top-domains`` and ``stats``: the analyst's questions."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from harvest.analysis import output
from harvest.cli.common import (
    CommandError,
    check_names,
    command,
    database,
    folder,
    format_option,
    link_options,
    link_values,
    note_pending,
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
    link_options(p)
    p.add_argument(
        "--include-lost", action="store_true", help="also links a recrawl no longer found"
    )
    pages = p.add_mutually_exclusive_group()
    pages.add_argument(
        "--limit", type=positive, default=50, help="links per page (default: %(default)s)"
    )
    pages.add_argument(
        "--all", action="store_true", help="every link, streamed (csv and json: for scripts)"
    )
    p.add_argument(
        "--after",
        metavar="TOKEN",
        help="the page after the one that printed this token (default: the first page)",
    )
    p.add_argument(
        "--by",
        choices=["anchors", "targets", "authors", "publications", "months"],
        help="the links grouped: by anchor text, target page, referring author or "
        "publication (--limit of them, by --sort), or new and lost by month",
    )
    p.add_argument(
        "--sort",
        choices=["links", "dofollow_links", "passing_links", "posts"],
        default="links",
        help="with --by: what the groups are ranked by",
    )
    format_option(p)
    p.set_defaults(func=backlinks)

    p = command(sub, "top-domains", "most linked-to domains with their nofollow share")
    p.add_argument("--limit", type=positive, default=25, help="how many domains")
    p.add_argument(
        "--sort",
        choices=["links", "dofollow_links", "posts", "authors"],
        default="links",
        help="rank by live links, dofollow links, referring posts or authors",
    )
    p.add_argument("--dofollow-only", action="store_true", help="the same as --sort dofollow_links")
    format_option(p)
    p.set_defaults(func=top_domains)

    p = command(
        sub,
        "intersect",
        "who links to your competitors but not to you: authors or publications",
        "The authors (or publications) whose live links reach the competitors' domains "
        "but none of yours: the outreach list, with how many of the competitors each "
        "links to, its links to them and their dofollow share.",
    )
    p.add_argument("competitors", nargs="+", type=target, help="the competitors' domains")
    p.add_argument(
        "--not",
        dest="mine",
        action="append",
        type=target,
        default=[],
        metavar="DOMAIN",
        help="your domain: who links to it is left out (repeatable)",
    )
    p.add_argument(
        "--by", choices=["authors", "publications"], default="authors", help="who is listed"
    )
    p.add_argument(
        "--sort",
        choices=["domains", "links", "dofollow_links", "posts"],
        default="domains",
        help="rank by how many competitors they link to, links, dofollow links or posts",
    )
    p.add_argument("--limit", type=positive, default=50, help="how many")
    format_option(p)
    p.set_defaults(func=intersect)

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

    if args.by:
        return grouped_backlinks(args, out, err)
    if args.all and args.format == "table":
        err.write("error: --all is for csv and json; a table shows one page (--limit)\n")
        return 2
    try:
        if args.after:
            queries.decode_after(args.after)
    except queries.BadCursor as exc:
        err.write(f"error: {exc}\n")
        return 2
    with database() as conn:
        check_names(conn, domain=args.domain, author=args.author)
        page = queries.backlinks(
            conn,
            args.domain,
            filters=_link_filters(args),
            limit=None if args.all else args.limit,
            after=args.after,
            # every row: written by the server, at COPY's own speed
            csv_to=out if args.all else None,
            fmt="jsonl" if args.format == "json" else "csv",
        )
        columns, rows = page.columns, page.rows
        if args.format == "table":
            columns, rows = reading_columns(columns, rows, queries.BACKLINK_TABLE_COLUMNS)
        if page.written is not None:
            note_pending(conn, err)
            err.write(backlink_summary(args.domain, page.totals, page.written, None) + "\n")
            return 0
        # at 80 columns: the link, what it is worth, where from, before the rest
        shown = output.write(
            out, args.format, columns, rows,
            priority=("target_url", "reason", "post_url", "anchor_text", "rel", "placement"),
        )  # fmt: skip
        note_pending(conn, err)
    err.write(backlink_summary(args.domain, page.totals, shown, page.after) + "\n")
    return 0


def _link_filters(args: argparse.Namespace) -> Any:
    from harvest.db.queries import LinkFilters

    return LinkFilters(
        dofollow_only=args.dofollow_only,
        passing_only=args.passing_only,
        include_lost=args.include_lost,
        **link_values(args),
    )


def grouped_backlinks(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """backlinks --by: the target's links grouped, or new and lost by month."""
    from harvest.db import explore

    if args.all or args.after:
        err.write("error: --by prints one table (--limit rows); --all and --after page backlinks\n")
        return 2
    with database() as conn:
        check_names(conn, domain=args.domain, author=args.author)
        target = explore.find_target(conn, args.domain)
        assert target is not None  # checked just above
        filters = _link_filters(args)
        if args.by == "months":
            columns, rows = explore.months(conn, target, filters)
        else:
            columns, rows = explore.grouped(
                conn, target, args.by, filters, sort=args.sort, limit=args.limit
            )
        note_pending(conn, err)
    output.write(out, args.format, columns, rows)
    if not rows:
        err.write(f"{args.domain}: no links match these filters\n")
    return 0


def intersect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import explore, queries

    named = [queries.target_filter(t) for t in (*args.competitors, *args.mine)]
    hosts = [value for kind, value in named if kind != "domain"]
    if hosts:
        raise CommandError(
            f"intersect compares registered domains, not hosts: {', '.join(hosts)}", 2
        )
    theirs = [value for _, value in named[: len(args.competitors)]]
    mine = [value for _, value in named[len(args.competitors) :]]
    with database() as conn:
        for domain in (*theirs, *mine):
            check_names(conn, domain=domain)
        columns, rows = explore.intersect(
            conn, theirs, mine, by=args.by, sort=args.sort, limit=args.limit
        )
        note_pending(conn, err)
    output.write(out, args.format, columns, rows)
    who = "author" if args.by == "authors" else "publication"
    err.write(
        f"{len(rows):,} {who}s link to {', '.join(theirs)}"
        + (f" and not to {', '.join(mine)}" if mine else "")
        + (f" (the first {args.limit:,})" if len(rows) == args.limit else "")
        + "\n"
    )
    return 0


def reading_columns(
    columns: list[str], rows: Iterable[tuple[Any, ...]], keep: Sequence[str]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The columns a terminal shows, what a person reads; csv and json carry every one."""
    at = [columns.index(c) for c in keep]
    return [columns[i] for i in at], [tuple(row[i] for i in at) for row in rows]


def backlink_summary(target: str, totals: dict[str, int], shown: int, after: str | None) -> str:
    """The line under a page of backlinks: the whole target's totals, and how to go on."""
    links = totals["links"]
    parts = [
        f"{target}: {links:,} live links, {totals['dofollow_links']:,} dofollow, "
        f"{totals['passing_links']:,} pass value; from {totals['posts']:,} posts by "
        f"{totals['authors']:,} authors in {totals['publications']:,} publications"
    ]
    if totals.get("lost_links"):
        parts.append(f"{totals['lost_links']:,} lost")
    parts.append(f"{shown:,} shown")
    if after:
        parts.append(f"next page: --after {after}")
    return " · ".join(parts)


def top_domains(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with database() as conn:
        sort = "dofollow_links" if args.dofollow_only else args.sort
        columns, rows = queries.top_domains(conn, limit=args.limit, sort=sort)
        note_pending(conn, err)
    if args.format == "table":
        columns, rows = reading_columns(columns, rows, queries.TOP_DOMAIN_TABLE_COLUMNS)
    output.write(out, args.format, columns, rows)
    return 0


def stats(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with database() as conn:
        data = queries.stats(conn)
        note_pending(conn, err)
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
