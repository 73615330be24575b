"""Start scrapyd only in a set-up where its API is not open to strangers.

scrapyd runs whatever egg is uploaded to it, so an unauthenticated scrapyd on a
reachable address hands out code execution. This check is what
``harvest scrapyd`` (and the systemd unit) runs before scrapyd itself.
"""

from __future__ import annotations

import configparser
import ipaddress
import os
import shutil
import sys
from pathlib import Path
from typing import TextIO


class UnsafeScrapyd(RuntimeError):
    pass


def _is_loopback(address: str) -> bool:
    if address in ("localhost", ""):
        return address == "localhost"
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable


def prepare_scrapyd(config: Path, workdir: Path, err: TextIO) -> tuple[Path, list[str]]:
    """Check ``config`` and lay out ``workdir``; returns (workdir, scrapyd argv)."""
    parser = configparser.ConfigParser()
    try:
        with open(config, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise UnsafeScrapyd(f"cannot read {config}: {exc.strerror or exc}") from None
    section = parser["scrapyd"] if parser.has_section("scrapyd") else {}
    bind = os.environ.get("SCRAPYD_BIND_ADDRESS") or section.get("bind_address", "127.0.0.1")
    socket_path = os.environ.get("SCRAPYD_UNIX_SOCKET_PATH") or section.get("unix_socket_path", "")
    user = os.environ.get("SCRAPYD_USERNAME") or section.get("username", "")
    password = os.environ.get("SCRAPYD_PASSWORD") or section.get("password", "")
    if section.get("username") or section.get("password"):
        raise UnsafeScrapyd(
            f"{config} holds credentials; set SCRAPYD_USERNAME/SCRAPYD_PASSWORD in the "
            "environment instead"
        )
    authenticated = bool(user and password)
    if bind and not _is_loopback(bind) and not authenticated:
        raise UnsafeScrapyd(
            f"bind_address {bind} is not loopback and SCRAPYD_USERNAME/SCRAPYD_PASSWORD are "
            "not both set: anyone reaching the API could run code"
        )
    if not authenticated:
        err.write(
            "harvest scrapyd: warning: no credentials; only processes on this machine can "
            f"reach {bind or socket_path}, and every one of them can run code through it\n"
        )
    scrapyd = shutil.which("scrapyd", path=str(Path(sys.executable).parent)) or shutil.which(
        "scrapyd"
    )
    if scrapyd is None:
        raise UnsafeScrapyd("scrapyd is not installed (pip install -r requirements.txt)")
    workdir.mkdir(parents=True, exist_ok=True)
    # scrapyd reads scrapyd.conf from its working directory.
    target = workdir / "scrapyd.conf"
    shutil.copyfile(config, target)
    return workdir, [scrapyd]
