"""``harvest enqueue``: give the distributed workers a crawl."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, TextIO

from harvest.cli.common import CommandError, command


def add_parsers(sub: Any) -> None:
    p = command(
        sub,
        "enqueue",
        "give the distributed workers a crawl (its arguments go to Redis)",
        "Store a crawl's arguments (as for scrapy crawl medium -a NAME=VALUE) as the job of "
        "the workers sharing a Redis frontier; one of them seeds the shared queue.",
    )
    p.add_argument("arguments", nargs="+", metavar="NAME=VALUE", help="e.g. tags=seo,marketing")
    p.add_argument("--redis", default=None, help="Redis URL (default: HARVEST_REDIS_URL)")
    p.add_argument("--job", default=None, help="job name (default: HARVEST_REDIS_JOB or medium)")
    p.add_argument(
        "--keep-seen",
        action="store_true",
        help="keep the seen-set of an earlier pass (by default a finished job starts afresh)",
    )
    p.set_defaults(func=enqueue)


def _key_values(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r} is not NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def enqueue(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from scrapy.settings import Settings

    from harvest.crawl.args import CrawlArgs, SpiderArgumentError
    from harvest.frontier import Frontier, FrontierConfig, FrontierConfigError
    from harvest.secrets import mask_dsn

    try:
        # urls_file is read here: the job carries its URLs, not a path on this machine.
        given = _key_values(args.arguments)
        raw = CrawlArgs.parse(given).as_job(given)
        settings = Settings({"HARVEST_REDIS_URL": args.redis, "HARVEST_REDIS_JOB": args.job})
        config = FrontierConfig.from_settings(settings)
    except (ValueError, SpiderArgumentError, FrontierConfigError) as exc:
        raise CommandError(str(exc), 2) from None
    if config is None:
        raise CommandError("name the Redis with --redis or HARVEST_REDIS_URL", 2)
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
