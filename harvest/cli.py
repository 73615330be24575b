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
    from harvest.db.connection import configured_pgdata

    return configured_pgdata()


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
    if action == "grant-readonly":
        from harvest.db.roles import RoleError, grant_readonly

        if len(args.psql_args) != 1:
            print("usage: harvest db grant-readonly ROLE", file=err)
            return 2
        role = args.psql_args[0]
        target = dbconn.resolve(None, _pgdata())
        conn = dbconn.connect(target.dsn)
        try:
            migrate(conn)
            created, notes = grant_readonly(conn, role)
        except RoleError as exc:
            print(f"harvest db grant-readonly: {exc}", file=err)
            return 2
        finally:
            conn.close()
        if created:
            out.write(
                f"created role {role} (NOLOGIN); give it a login: "
                f"ALTER ROLE {role} LOGIN PASSWORD '...'\n"
            )
        out.write(f"{role} may read every harvest table and view, and change nothing\n")
        for note in notes:
            err.write(f"note: {note}\n")
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


def _filters(args: argparse.Namespace) -> Any:
    from harvest.report import Filters

    domain = args.domain.lower().strip() if getattr(args, "domain", None) else None
    return Filters(
        domain=domain,
        tag=args.tag.lower().lstrip("#") if args.tag else None,
        publication=args.publication,
        since=args.since,
    )


def cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.report import report_numbers
    from harvest.report.html import render

    with _database() as conn:
        numbers = report_numbers(conn, _filters(args), top=args.top)
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


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    graph = args.what == "graph"
    fmt = args.format or ("gexf" if graph else "csv")
    formats = ("gexf", "graphml", "csv-edges") if graph else ("csv", "jsonl", "parquet")
    if fmt not in formats:
        err.write(
            f"harvest export {args.what}: --format {', '.join(formats[:-1])} or {formats[-1]}\n"
        )
        return 2
    to_file = bool(args.output and args.output != "-")
    if fmt == "parquet" and not to_file:
        err.write("harvest export: Parquet needs -o FILE\n")
        return 2
    if to_file:
        with output.atomic_path(Path(args.output)) as path:
            _export(args, fmt, path, err)
    else:
        _export(args, fmt, out, err)
    return 0


def _export(args: argparse.Namespace, fmt: str, target: Any, err: TextIO) -> None:
    from harvest import exports

    with _database() as conn:
        conn.autocommit = False  # a named (server-side) cursor needs a transaction
        if args.what == "graph":
            nodes, edges = exports.write_graph(conn, args.level, fmt, _filters(args), target)
            err.write(f"{nodes} nodes, {edges} edges\n")
            return
        columns, batches = exports.stream(conn, exports.QUERIES[args.what], _filters(args))
        n = exports.write_rows(columns, batches, fmt, target)
        conn.rollback()
    err.write(f"{n} rows\n")


def cmd_crawl_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.db import queries

    with _database() as conn:
        info, (columns, failures) = queries.crawl_report(conn, args.run)
    if info is None:
        err.write(f"harvest crawl-report: no crawl run {args.run}\n")
        return 1
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
    summary.append(("pages stored", counts.get("harvest/db/pages", 0)))
    for kind in ("failed", "unparsed", "blocked", "skipped"):
        summary.append((f"pages {kind}", counts.get(f"harvest/outcome/{kind}", 0)))
    summary.append(("failures recorded", len(failures)))
    output.write(out, args.format, ["field", "value"], summary)
    if failures:
        if args.format == "table":
            out.write("\npages not harvested\n")
        output.write(out, args.format, columns, failures)
    return 0


def cmd_reparse(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio

    from harvest import config
    from harvest.db.store import write_batch
    from harvest.items import ArticlePage
    from harvest.medium import extract
    from harvest.pipelines.normalize import NormalizePipeline
    from harvest.unparsed import UnparsedStore, default_dir

    store = UnparsedStore(
        Path(args.dir or config.value(None, "HARVEST_UNPARSED_DIR") or default_dir())
    )
    normalize = NormalizePipeline()
    still = 0
    parsed: list[tuple[Any, Any]] = []  # (kept file, page item)

    async def reparse_all() -> None:
        nonlocal still
        for kept in store:
            result = extract(kept.html.read_bytes(), kept.url, content_type=kept.content_type)
            art = result.article
            if result.kind != "article" or art is None or not art.post_id:
                still += 1
                if args.verbose:
                    err.write(f"still unparsed: {kept.url}: {'; '.join(result.problems)}\n")
                continue
            # The page is as it was when fetched: first/last seen and lost
            # marks must follow that time, not the time of the reparse.
            page = ArticlePage(
                article=art,
                links=list(result.links),
                url=kept.url,
                fetched_at=kept.fetched_at,
                links_normalized=True,
            )
            try:
                page = await normalize.process_item(page)
            except Exception as exc:  # DropItem and the like: reported, file kept
                still += 1
                err.write(f"not stored: {kept.url}: {exc}\n")
                continue
            parsed.append((kept, page))

    asyncio.run(reparse_all())
    if parsed:
        with _database() as conn:
            conn.autocommit = False
            write_batch(conn, [page for _, page in parsed])
        for kept, _ in parsed:
            store.done(kept)
    out.write(f"reparsed and stored {len(parsed)} pages; {still} still not recognized\n")
    return 0


def _key_values(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r} is not NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def cmd_enqueue(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from scrapy.settings import Settings

    from harvest.db.connection import mask_dsn
    from harvest.frontier import Frontier, FrontierConfig, FrontierConfigError
    from harvest.spiders.args import CrawlArgs, SpiderArgumentError

    try:
        # urls_file is read here: the job carries its URLs, not a path on this machine.
        given = _key_values(args.arguments)
        raw = CrawlArgs.parse(given).as_job(given)
        settings = Settings({"HARVEST_REDIS_URL": args.redis, "HARVEST_REDIS_JOB": args.job})
        config = FrontierConfig.from_settings(settings)
    except (ValueError, SpiderArgumentError, FrontierConfigError) as exc:
        err.write(f"harvest enqueue: {exc}\n")
        return 2
    if config is None:
        err.write("harvest enqueue: name the Redis with --redis or HARVEST_REDIS_URL\n")
        return 2
    frontier = Frontier(config)
    idle = not frontier.workers_alive() and not frontier.queued() and not frontier.held_anywhere()
    if idle and not args.keep_seen:
        # A new pass over a finished job: pages seen by the last pass are due again.
        frontier.reset_seen()
    frontier.set_job(raw)
    out.write(
        f"job {config.job!r} on {mask_dsn(config.url)}: {json.dumps(raw, sort_keys=True)}; "
        f"{frontier.workers_alive()} workers alive, {frontier.queued()} requests queued\n"
    )
    return 0


def cmd_schedule(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import time as _time

    from harvest.scheduling import Schedule, ScheduleError, Scrapyd, ScrapydError, State, run_once

    while True:
        try:
            schedule = Schedule.load(args.file, args.url)
            decisions = run_once(
                schedule, Scrapyd(schedule.url), State(args.state), dry_run=args.dry_run
            )
        except ScheduleError as exc:
            err.write(f"harvest schedule: {exc}\n")
            return 2
        except ScrapydError as exc:
            err.write(f"harvest schedule: {exc}\n")
            if not args.loop:
                return 1
            decisions = []
        for d in decisions:
            out.write(f"{d.job}\t{d.action}\t{d.detail}\n")
        out.flush()
        if not args.loop:
            return 0
        _time.sleep(args.loop)


def cmd_jobs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.scheduling import Scrapyd, ScrapydError

    url = args.url or os.environ.get("SCRAPYD_URL") or "http://127.0.0.1:6800"
    try:
        listing = Scrapyd(url).list_jobs(args.project)
    except ScrapydError as exc:
        err.write(f"harvest jobs: {exc}\n")
        return 1
    header = ["status", "id", "spider", "start_time", "end_time", "pid"]
    table = [
        (status, j.get("id"), j.get("spider"), j.get("start_time"), j.get("end_time"), j.get("pid"))
        for status in ("pending", "running", "finished")
        for j in listing[status]
    ]
    output.write(out, args.format, header, table)
    return 0


def cmd_scrapyd(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.deploy_check import UnsafeScrapyd, prepare_scrapyd

    try:
        workdir, argv = prepare_scrapyd(Path(args.config), Path(args.dir), err)
    except UnsafeScrapyd as exc:
        err.write(f"harvest scrapyd: refusing to start: {exc}\n")
        return 2
    if args.check:
        out.write(f"scrapyd configuration in {workdir} is acceptable\n")
        return 0
    os.chdir(workdir)
    # Its job logs, items and eggs, and every crawl it starts, are the operator's alone.
    os.umask(0o077)
    os.execv(argv[0], argv)  # noqa: S606 (our own scrapyd, a fixed argv)


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
    p.add_argument(
        "action", choices=["migrate", "start", "stop", "status", "url", "psql", "grant-readonly"]
    )
    p.add_argument(
        "psql_args",
        nargs=argparse.REMAINDER,
        help="arguments passed on to psql; for grant-readonly, the ROLE",
    )
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

    def filters(q: argparse.ArgumentParser) -> None:
        q.add_argument("--domain", help="only links to this registered domain")
        q.add_argument("--tag", help="only posts with this tag")
        q.add_argument("--publication", help="only posts of this publication (slug or domain)")
        q.add_argument("--since", type=_date, help="only posts first published on or after")

    p = sub.add_parser(
        "report",
        help="the nofollow audit as one self-contained HTML file (or its numbers as JSON)",
    )
    filters(p)
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.add_argument("--format", choices=["html", "json"], default="html")
    p.add_argument("--top", type=_positive, default=25, help="rows in the top-N tables")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "export",
        help="stream links, posts or domains (csv, jsonl, parquet), or a link graph",
        description=(
            "Rows stream from a server-side cursor (flat memory). graph: edges from publications "
            "(or authors) to target domains or hosts, weighted by links, with the nofollow share."
        ),
    )
    p.add_argument("what", choices=["links", "posts", "domains", "graph"])
    filters(p)
    p.add_argument("--format", help="csv|jsonl|parquet; for graph gexf|graphml|csv-edges")
    p.add_argument("--level", choices=["domain", "host", "author"], default="domain")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("crawl-report", help="one crawl run: counts and every page not harvested")
    p.add_argument("run", nargs="?", default="last", help="run id, or last (default)")
    fmt(p)
    p.set_defaults(func=cmd_crawl_report)

    p = sub.add_parser(
        "reparse",
        help="parse kept unrecognized pages again and store what they yield",
        description=(
            "Pages no parser recognized are kept in HARVEST_UNPARSED_DIR; after a parser update, "
            "this stores what they yield and moves them to reparsed/."
        ),
    )
    p.add_argument("dir", nargs="?", help="the kept pages (default: HARVEST_UNPARSED_DIR)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_reparse)

    p = sub.add_parser(
        "enqueue",
        help="give the distributed workers a crawl (its arguments go to Redis)",
        description=(
            "Store a crawl's arguments (as for scrapy crawl medium -a NAME=VALUE) as the job of "
            "the workers sharing a Redis frontier; one of them seeds the shared queue."
        ),
    )
    p.add_argument("arguments", nargs="+", metavar="NAME=VALUE", help="e.g. tags=seo,marketing")
    p.add_argument("--redis", default=None, help="Redis URL (default: HARVEST_REDIS_URL)")
    p.add_argument("--job", default=None, help="job name (default: HARVEST_REDIS_JOB or medium)")
    p.add_argument(
        "--keep-seen",
        action="store_true",
        help="keep the seen-set of an earlier pass (by default a finished job starts afresh)",
    )
    p.set_defaults(func=cmd_enqueue)

    p = sub.add_parser(
        "schedule",
        help="post due crawls from the schedule file to scrapyd",
        description=(
            "Read the schedule, ask scrapyd which jobs are pending or running, and post each "
            "crawl that is due and not still running. One pass (for cron), or --loop SECONDS."
        ),
    )
    p.add_argument("--file", default="deploy/schedule.toml", help="the schedule (TOML)")
    p.add_argument("--url", help="scrapyd URL (default: the file's, or SCRAPYD_URL)")
    p.add_argument("--state", help="state file (default: HARVEST_SCHEDULE_STATE or the data dir)")
    p.add_argument(
        "--loop", type=_positive, metavar="SECONDS", help="keep running, a pass every N s"
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be posted, post nothing")
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("jobs", help="scrapyd's pending, running and finished jobs")
    p.add_argument("--url", help="scrapyd URL (default: SCRAPYD_URL or http://127.0.0.1:6800)")
    p.add_argument("--project", default="harvest")
    fmt(p)
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser(
        "scrapyd",
        help="start scrapyd with harvest's configuration, refusing unsafe set-ups",
        description=(
            "Start scrapyd in --dir with --config. Refuses to listen on a non-loopback address "
            "without SCRAPYD_USERNAME and SCRAPYD_PASSWORD: scrapyd's API runs uploaded code."
        ),
    )
    p.add_argument("--config", default="deploy/scrapyd.conf")
    p.add_argument("--dir", default=".scrapyd", help="where eggs, logs and job databases go")
    p.add_argument("--check", action="store_true", help="only check the configuration")
    p.set_defaults(func=cmd_scrapyd)
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
