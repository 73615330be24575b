"""``harvest demo`` (the simulator, crawled and checked) and ``harvest settings``."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from harvest.analysis import output
from harvest.cli.common import command


def add_parsers(sub: Any) -> None:
    from harvest.sim import demo

    p = command(
        sub,
        "demo",
        "crawl a local simulated Medium into the embedded database, check it, and report",
    )
    demo.add_arguments(p)
    p.set_defaults(func=run_demo)

    p = command(sub, "settings", "every harvest setting, its value here, and where it comes from")
    p.add_argument(
        "--format", choices=output.FORMATS, default="table", help="table, csv or JSON Lines"
    )
    p.set_defaults(func=settings)


def run_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest.sim import demo

    return demo.run(args)


def settings(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from harvest import config
    from harvest.secrets import mask_dsn

    rows = []
    for setting in config.SETTINGS:
        try:
            value: Any = config.value(None, setting.name)
        except config.SettingError as exc:
            value = f"(cannot be used: {exc})"
        # Only the addresses that may carry a password are masked: a user agent
        # with a URL in it is not a secret.
        if setting.secret and isinstance(value, str):
            # an address keeps all but its password; a bare token is hidden whole
            value = mask_dsn(value) if "://" in value or "=" in value else "***"
        shown = config.default_text(setting) if value is None else value
        rows.append((setting.name, shown, config.source(None, setting.name)))
    if args.format == "json":
        for name, value, source in rows:
            out.write(json.dumps({"setting": name, "value": value, "source": source}) + "\n")
        return 0
    output.write(out, args.format, ["setting", "value", "from"], rows)
    return 0
