"""``harvest crawl-report`` and ``harvest reparse``: what a crawl did, and its leftovers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from harvest.analysis import output
from harvest.cli.common import CommandError, command, database, format_option, run_id


def add_parsers(sub: Any) -> None:
    p = command(sub, "crawl-report", "one crawl run: counts and every page not harvested")
    p.add_argument("run", nargs="?", default="last", type=run_id, help="run id, or last")
    format_option(p)
    p.set_defaults(func=crawl_report)

    p = command(
        sub,
        "reparse",
        "parse kept unrecognized pages again and store what they yield",
        "Pages no parser recognized are kept in HARVEST_UNPARSED_DIR; after a parser update, "
        "this stores what they yield and moves them to reparsed/.",
    )
    p.add_argument("dir", nargs="?", help="the kept pages (default: HARVEST_UNPARSED_DIR)")
    p.add_argument("-v", "--verbose", action="store_true", help="name every page still unparsed")
    p.set_defaults(func=reparse)


def crawl_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.contract.tally import count_lines
    from harvest.db import queries

    with database() as conn:
        info, (columns, failures) = queries.crawl_report(conn, args.run)
    if info is None:
        raise CommandError(f"no crawl run {args.run}")
    counts = info.pop("counts") or {}
    if args.format == "json":
        record = {k: output.plain(v) for k, v in info.items()}
        record["counts"] = counts
        record["failures"] = [
            {c: output.plain(v) for c, v in zip(columns, row, strict=True)} for row in failures
        ]
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 0
    summary = [(k, output.plain(v)) for k, v in info.items()]
    summary.extend(count_lines(counts))
    summary.append(("failures recorded", len(failures)))
    output.write(out, args.format, ["field", "value"], summary, whole=("value",))
    if failures:
        if args.format == "table":
            out.write("\npages not harvested\n")
        # the page that failed is the one thing needed: its URL is never shortened
        output.write(out, args.format, columns, failures, whole=("url",))
    return 0


def reparse(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio  # not at the top: every harvest command would pay its import

    from harvest import config
    from harvest.crawl.unparsed import NotKept, UnparsedStore, default_dir
    from harvest.db.store import write_batch

    store = UnparsedStore(
        Path(args.dir or config.value(None, "HARVEST_UNPARSED_DIR") or default_dir())
    )
    parsed, still = asyncio.run(_reparse(store, args.verbose, err))
    if parsed:
        with database(write=True) as conn:
            conn.autocommit = False
            write_batch(conn, [page for _, page in parsed])
        try:
            for kept, _ in parsed:
                store.done(kept)
        except NotKept as exc:
            raise CommandError(f"stored {len(parsed)} pages, but {exc}") from None
    for why in store.skipped:
        err.write(f"harvest reparse: skipped {why}\n")
    skipped = f"; {len(store.skipped)} files skipped" if store.skipped else ""
    out.write(f"reparsed and stored {len(parsed)} pages; {still} still not recognized{skipped}\n")
    return 0


async def _reparse(store: Any, verbose: bool, err: TextIO) -> tuple[list[tuple[Any, Any]], int]:
    from harvest.crawl.unparsed import NotKept
    from harvest.items import ArticlePage
    from harvest.medium import extract
    from harvest.medium.status import fetched_status
    from harvest.pipelines.normalize import NormalizePipeline

    normalize = NormalizePipeline()
    still = 0
    parsed: list[tuple[Any, Any]] = []  # (kept file, page item)
    for kept in store:
        try:
            body = kept.body()
        except NotKept as exc:
            store.skipped.append(str(exc))
            continue
        result = extract(body, kept.url, content_type=kept.content_type)
        art = result.article
        if result.kind != "article" or art is None or not art.post_id:
            still += 1
            if verbose:
                err.write(f"still unparsed: {kept.url}: {'; '.join(result.problems)}\n")
            continue
        # The page is as it was when fetched: first/last seen and lost marks must
        # follow that time, not the time of the reparse.
        page = ArticlePage(
            article=art,
            links=list(result.links),
            url=kept.url,
            fetched_at=kept.fetched_at,
            links_normalized=True,
            # the HTTP exchange is not kept with the page: only what the page says
            status=fetched_status(art, None, None),
        )
        try:
            page = await normalize.process_item(page)
        except Exception as exc:  # DropItem and the like: reported, file kept
            still += 1
            err.write(f"not stored: {kept.url}: {exc}\n")
            continue
        parsed.append((kept, page))
    return parsed, still
