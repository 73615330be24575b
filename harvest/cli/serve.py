"""``harvest serve``: the explorer, a local read-only web view of the harvest."""

from __future__ import annotations

import argparse
import socket
from typing import Any, TextIO

from harvest.cli.common import CommandError, command, database


def add_parsers(sub: Any) -> None:
    p = command(
        sub,
        "serve",
        "browse the harvest in a local web explorer (read-only)",
        "Serve a read-only web view of the harvest: the verdict and top domains, a page "
        "per domain (backlinks, anchors, target pages, new and lost links by month, "
        "referring authors and publications, with filters), per post, author, "
        "publication and tag; each table one click from CSV and JSON Lines. It listens "
        "on 127.0.0.1 unless told otherwise, and then asks for a token.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    p.add_argument(
        "--token",
        help="ask every request for this token (default: HARVEST_EXPLORER_TOKEN); "
        "needed beyond loopback; `--token new` makes one and prints the address with it",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name people reach the explorer by (repeatable)",
    )
    p.add_argument(
        "--role",
        help="the read-only role to query as (default: HARVEST_EXPLORER_ROLE, harvest_reader)",
    )
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import uvicorn

    from harvest import config
    from harvest.db import connection as dbconn
    from harvest.db.readers import ReaderError, ReaderPool
    from harvest.explorer.app import create_app
    from harvest.explorer.guard import Guard, UnsafeBind
    from harvest.explorer.sections import SectionCache

    token = args.token or config.value(None, "HARVEST_EXPLORER_TOKEN")
    made = token == "new"  # noqa: S105 (the word that asks for a new token)
    if made:
        token = Guard.new_token()
    try:
        guard = Guard.for_bind(args.host, token, tuple(args.allow_host))
    except UnsafeBind as exc:
        raise CommandError(f"refusing to listen: {exc}", 2) from None
    role = args.role or config.value(None, "HARVEST_EXPLORER_ROLE")
    # the schema is checked (and nothing written) as for any reading command
    with database():
        pass
    pool = ReaderPool(dbconn.resolve().dsn, role)
    try:
        pool.check()
    except ReaderError as exc:
        raise CommandError(str(exc), 2) from None
    try:
        sock = socket.create_server((args.host, args.port), family=_family(args.host))
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    shown = "localhost" if args.host in ("127.0.0.1", "::1") else host
    address = f"http://{shown}:{port}/" + (f"?token={token}" if made else "")
    out.write(f"harvest explorer on {address} (as role {role}; Ctrl-C stops it)\n")
    out.flush()
    large = config.value(None, "HARVEST_EXPLORER_LARGE")
    sections = SectionCache(pool=pool)

    # the largest domains' groupings take seconds: computed ahead, while it serves
    def warmed(domains: int, seconds: float) -> None:
        if domains:
            out.write(f"grouped the {domains} largest domains' links ahead in {seconds:.0f} s\n")
            out.flush()

    sections.warm(pool, least=large, done=warmed)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(pool, guard, sections, large),
            log_level="warning",
            server_header=False,
            proxy_headers=False,
            access_log=False,
            lifespan="off",
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        pool.close()
        sock.close()
    return 0


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
