"""``harvest schedule``, ``jobs`` and ``scrapyd``: scheduled crawls on scrapyd."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, TextIO

import psycopg2

from harvest.analysis import output
from harvest.cli.common import (
    CommandError,
    command,
    database,
    first_line,
    format_option,
    positive,
)


def add_parsers(sub: Any) -> None:
    p = command(
        sub,
        "schedule",
        "post due crawls from the schedule file to scrapyd",
        "Read the schedule, ask scrapyd which jobs are pending or running, and post each "
        "crawl that is due and not still running. One pass (for cron), or --loop SECONDS.",
    )
    p.add_argument("--file", default="deploy/schedule.toml", help="the schedule (TOML)")
    p.add_argument("--url", help="scrapyd URL (default: the file's, or SCRAPYD_URL)")
    p.add_argument("--state", help="state file (default: HARVEST_SCHEDULE_STATE or the data dir)")
    p.add_argument(
        "--loop", type=positive, metavar="SECONDS", help="keep running, a pass every N s"
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be posted, post nothing")
    p.set_defaults(func=schedule)

    p = command(sub, "jobs", "scrapyd's pending, running and finished jobs")
    p.add_argument("--url", help="scrapyd URL (default: SCRAPYD_URL or http://127.0.0.1:6800)")
    p.add_argument("--project", default="harvest", help="the scrapyd project")
    format_option(p)
    p.set_defaults(func=jobs)

    p = command(
        sub,
        "scrapyd",
        "start scrapyd with harvest's configuration, refusing unsafe set-ups",
        "Start scrapyd in --dir with --config, with the credentials from SCRAPYD_USERNAME and "
        "SCRAPYD_PASSWORD or harvest's credentials file (made on first start; --credentials "
        "prints where), and a web root that no web page can command. Refuses a set-up where any "
        "file scrapyd reads changes what was checked: scrapyd's API runs uploaded code.",
    )
    p.add_argument("--config", default="deploy/scrapyd.conf", help="scrapyd's configuration")
    p.add_argument("--dir", default=".scrapyd", help="where eggs, logs and job databases go")
    p.add_argument("--check", action="store_true", help="only check the configuration")
    p.add_argument(
        "--credentials",
        action="store_true",
        help="make the credentials file if there is none, print its path, start nothing",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="listen on loopback TCP without credentials (any local process can run code)",
    )
    p.set_defaults(func=scrapyd)


def schedule(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.ops.schedule import Schedule, ScheduleError, Scrapyd, ScrapydError, State, run_once

    while True:
        try:
            plan = Schedule.load(args.file, args.url)
            decisions = run_once(plan, Scrapyd(plan.url), State(args.state), dry_run=args.dry_run)
        except ScheduleError as exc:
            raise CommandError(str(exc), 2) from None
        except ScrapydError as exc:
            if not args.loop:
                raise CommandError(str(exc)) from None
            err.write(f"harvest schedule: {exc}\n")
            decisions = []
        for d in decisions:
            out.write(f"{d.job}\t{d.action}\t{d.detail}\n")
        out.flush()
        if not args.loop:
            return 0
        time.sleep(args.loop)


def jobs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.ops.schedule import Scrapyd, ScrapydError

    url = args.url or os.environ.get("SCRAPYD_URL") or "http://127.0.0.1:6800"
    try:
        listing = Scrapyd(url).list_jobs(args.project)
    except ScrapydError as exc:
        raise CommandError(str(exc)) from None
    jobs = [(status, j) for status in ("pending", "running", "finished") for j in listing[status]]
    runs, why_not = _runs_of(
        [j["id"] for status, j in jobs if status != "pending"],
    )
    if why_not:
        err.write(f"harvest jobs: no run outcomes: {why_not}\n")
    header = [
        "status", "id", "spider", "start_time", "end_time", "pid",
        "run_id", "outcome", "exit_status", "reason", "log",
    ]  # fmt: skip
    table = []
    for status, j in jobs:
        run_id, outcome, reason = runs.get(j["id"], (None, None, None))
        log = j.get("log_url")
        table.append(
            (
                status, j.get("id"), j.get("spider"), j.get("start_time"), j.get("end_time"),
                j.get("pid"), run_id, outcome, _exit_status(outcome), reason,
                url.rstrip("/") + log if log else None,
            )
        )  # fmt: skip
    output.write(out, args.format, header, table)
    return 0


def _runs_of(jobs: list[str]) -> tuple[dict[str, tuple[int, str, str | None]], str | None]:
    """Each job's run row, or why they cannot be read (no database is not an error:
    scrapyd's own listing still stands)."""
    from harvest.db import queries

    if not jobs:
        return {}, None
    try:
        with database() as conn:
            return queries.runs_of_jobs(conn, jobs), None
    except (CommandError, psycopg2.Error) as exc:
        return {}, first_line(exc)


def _exit_status(outcome: str | None) -> int | None:
    """The crawl's exit status, as `scrapy crawl` gave it to scrapyd."""
    from harvest.contract.tally import EXIT_CODES

    return EXIT_CODES.get(outcome) if outcome else None


def scrapyd(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.ops import credentials
    from harvest.ops.scrapyd import UnsafeScrapyd, prepare_scrapyd

    if args.credentials:
        where = credentials.path()
        try:
            credentials.ensure(where)
        except credentials.CredentialsError as exc:
            raise CommandError(str(exc), 2) from None
        out.write(f"{where}\n")
        return 0
    try:
        workdir, argv = prepare_scrapyd(
            Path(args.config), Path(args.dir), err, allow_no_auth=args.no_auth
        )
    except UnsafeScrapyd as exc:
        raise CommandError(f"refusing to start: {exc}", 2) from None
    if args.check:
        out.write(f"scrapyd configuration in {workdir} is acceptable\n")
        return 0
    os.chdir(workdir)
    # Its job logs, items and eggs, and every crawl it starts, are the operator's alone.
    os.umask(0o077)
    os.execv(argv[0], argv)  # noqa: S606 (our own scrapyd, a fixed argv)
