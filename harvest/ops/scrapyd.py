"""Start scrapyd only in a set-up where its API is not open to strangers.

scrapyd runs whatever egg is uploaded to it, so an unauthenticated scrapyd on a
reachable address hands out code execution. This check is what
``harvest scrapyd`` (and the systemd unit) runs before scrapyd itself.

scrapyd reads more than the file it is given: its defaults, then
``/etc/scrapyd/scrapyd.conf``, ``/etc/scrapyd/conf.d/*``, ``scrapyd.conf`` in
its working directory, ``~/.scrapyd.conf`` and the nearest ``scrapy.cfg`` at or
above its working directory, later files winning, and ``SCRAPYD_*``
environment variables over them all. So the check reads the configuration the
way scrapyd will (with scrapyd's own reader, from scrapyd's working directory)
and refuses to start when the effective address, port, socket or credentials
differ from those of the checked file and environment, naming the file that
changes them.
"""

from __future__ import annotations

import configparser
import contextlib
import glob
import ipaddress
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from scrapy.utils.conf import closest_scrapy_cfg

from harvest.ops import credentials

# What decides who can reach scrapyd: where it listens and whether it asks who you are.
_EXPOSURE = ("bind_address", "http_port", "unix_socket_path", "username", "password")
_ENV = {
    "bind_address": "SCRAPYD_BIND_ADDRESS",
    "http_port": "SCRAPYD_HTTP_PORT",
    "unix_socket_path": "SCRAPYD_UNIX_SOCKET_PATH",
    "username": "SCRAPYD_USERNAME",
    "password": "SCRAPYD_PASSWORD",
}


class UnsafeScrapyd(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Exposure:
    bind_address: str
    http_port: str
    unix_socket_path: str
    username: str
    password: str
    webroot: str = ""

    @property
    def authenticated(self) -> bool:
        return bool(self.username and self.password)


def _is_loopback(address: str) -> bool:
    if address in ("localhost", ""):
        return address == "localhost"
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable


def _section(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise UnsafeScrapyd(f"cannot read {path}: {exc.strerror or exc}") from None
    except configparser.Error as exc:
        raise UnsafeScrapyd(f"{path} is not a configuration file: {exc}") from None
    return dict(parser["scrapyd"]) if parser.has_section("scrapyd") else {}


def _exposure(values: dict[str, str]) -> Exposure:
    """What scrapyd would do with ``values``, the SCRAPYD_* environment on top."""

    def get(option: str, default: str) -> str:
        return os.environ.get(_ENV[option]) or values.get(option, default) or ""

    return Exposure(
        bind_address=get("bind_address", "127.0.0.1"),
        http_port=get("http_port", "6800"),
        unix_socket_path=get("unix_socket_path", ""),
        username=get("username", ""),
        password=get("password", ""),
    )


def scrapyd_sources(workdir: Path) -> list[str]:
    """The files scrapyd reads when started in ``workdir``, in its order."""
    return [
        "/etc/scrapyd/scrapyd.conf",
        *sorted(glob.glob("/etc/scrapyd/conf.d/*")),
        str(workdir / "scrapyd.conf"),
        os.path.expanduser("~/.scrapyd.conf"),
        closest_scrapy_cfg(workdir),
    ]


@contextlib.contextmanager
def _in(directory: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def effective(workdir: Path) -> tuple[Exposure, dict[str, str]]:
    """What scrapyd will listen on, read by scrapyd's own reader from ``workdir``,
    and for each option the file that last set it."""
    from scrapyd.config import Config  # type: ignore[import-untyped]

    with _in(workdir):
        config = Config()
    values = {o: config.get(o, "") for o in _EXPOSURE}
    webroot = config.get("webroot", "scrapyd.website.Root")
    origin: dict[str, str] = {}
    for source in scrapyd_sources(workdir):
        if source and os.path.isfile(source):
            origin.update(_set_in(source))
    for option, name in _ENV.items():
        if os.environ.get(name):
            origin[option] = f"the environment ({name})"
    exposure = _exposure(values)
    return Exposure(**{**asdict(exposure), "webroot": webroot}), origin


def _set_in(source: str) -> dict[str, str]:
    """The exposure options (and webroot) a scrapyd configuration file sets, each
    naming the file; credentials also under "<option> in a file"."""
    parser = configparser.ConfigParser()
    with contextlib.suppress(OSError, configparser.Error):
        parser.read(source, encoding="utf-8")
    found: dict[str, str] = {}
    if not parser.has_section("scrapyd"):
        return found
    for option in (*_EXPOSURE, "webroot"):
        if not parser.has_option("scrapyd", option):
            continue
        # An empty username or password is no credential (the shipped file has both).
        secret = option in ("username", "password")
        if secret and not parser.get("scrapyd", option, raw=True).strip():
            continue
        found[option] = source
        if secret:  # kept apart: the environment's value hides it below
            found[f"{option} in a file"] = source
    return found


WEBROOT = "harvest.ops.scrapyd_web.Root"


def _credentials(allow_no_auth: bool, err: TextIO) -> None:
    """Put scrapyd's credentials in the environment it will read them from."""
    if os.environ.get(_ENV["username"]) and os.environ.get(_ENV["password"]):
        return
    if allow_no_auth:
        return
    where = credentials.path()
    try:
        user, password = credentials.ensure(where)
    except credentials.CredentialsError as exc:
        raise UnsafeScrapyd(str(exc)) from None
    os.environ[_ENV["username"]] = user
    os.environ[_ENV["password"]] = password
    err.write(f"harvest scrapyd: credentials from {where}\n")


def _laid_out(config: Path, workdir: Path) -> None:
    """scrapyd.conf in ``workdir`` (scrapyd reads it there), with harvest's web root."""
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    parser = configparser.ConfigParser(interpolation=None)
    with open(config, encoding="utf-8") as fh:
        parser.read_file(fh)
    if not parser.has_section("scrapyd"):
        parser.add_section("scrapyd")
    parser.set("scrapyd", "webroot", WEBROOT)
    fd = os.open(workdir / "scrapyd.conf", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"# laid out by harvest scrapyd from {config}\n")
        parser.write(fh)


def prepare_scrapyd(
    config: Path, workdir: Path, err: TextIO, *, allow_no_auth: bool = False
) -> tuple[Path, list[str]]:
    """Check ``config`` and lay out ``workdir``; returns (workdir, scrapyd argv).

    Credentials come from the environment or harvest's credentials file (made
    when missing); a TCP listener without them needs ``allow_no_auth``, and
    only on loopback. scrapyd's web root is harvest's (:mod:`harvest.ops.scrapyd_web`),
    which no web page can command or read.
    """
    section = _section(config)
    _check_file(config, section)
    _credentials(allow_no_auth, err)
    checked = _exposure(section)
    _check_listener(checked, allow_no_auth)
    scrapyd = shutil.which("scrapyd", path=str(Path(sys.executable).parent)) or shutil.which(
        "scrapyd"
    )
    if scrapyd is None:
        raise UnsafeScrapyd("scrapyd is not installed (pip install -r requirements.txt)")
    _laid_out(config, workdir)
    actual = _check_effective(config, workdir, checked)
    if not actual.authenticated:
        err.write(
            "harvest scrapyd: warning: no credentials (--no-auth); every process on this "
            f"machine that reaches {actual.bind_address or actual.unix_socket_path} can run "
            "code through it\n"
        )
    return workdir, [scrapyd]


def _check_file(config: Path, section: dict[str, str]) -> None:
    """The configuration file holds no credentials and keeps harvest's web root."""
    if section.get("username") or section.get("password"):
        raise UnsafeScrapyd(
            f"{config} holds credentials; set SCRAPYD_USERNAME/SCRAPYD_PASSWORD in the "
            "environment instead"
        )
    if section.get("webroot", WEBROOT) != WEBROOT:
        raise UnsafeScrapyd(
            f"{config} sets webroot = {section['webroot']}: harvest's ({WEBROOT}) is what "
            "keeps web pages from commanding scrapyd"
        )


def _check_listener(checked: Exposure, allow_no_auth: bool) -> None:
    """No listener off loopback without credentials, nor on TCP unless allowed."""
    exposed = checked.bind_address and not _is_loopback(checked.bind_address)
    if exposed and not checked.authenticated:
        raise UnsafeScrapyd(
            f"bind_address {checked.bind_address} is not loopback and "
            "SCRAPYD_USERNAME/SCRAPYD_PASSWORD are not both set: anyone reaching the API "
            "could run code"
        )
    tcp = bool(checked.bind_address and checked.http_port) and not checked.unix_socket_path
    if tcp and not checked.authenticated and not allow_no_auth:
        raise UnsafeScrapyd(
            "no credentials for a TCP listener: every process on this machine could run code "
            "through it (--no-auth to start it so all the same)"
        )


def _check_effective(config: Path, workdir: Path, checked: Exposure) -> Exposure:
    """What scrapyd will read from ``workdir`` (every file it looks at, not only
    ours) is what was checked; returns it."""
    actual, origin = effective(workdir)
    for option in _EXPOSURE:
        want, got = getattr(checked, option), getattr(actual, option)
        if want != got:
            shown = "***" if option == "password" else repr(got)
            raise UnsafeScrapyd(
                f"scrapyd would take {option} = {shown} from {origin.get(option, 'its defaults')}, "
                f"not {'the checked value' if option == 'password' else repr(want)} from "
                f"{config}: remove it there, or start scrapyd elsewhere"
            )
    for option in ("username", "password"):
        source = origin.get(f"{option} in a file", "")
        if source:
            # The environment wins over it today; a file that holds credentials is
            # still a secret in the wrong place, and would win were the variable unset.
            raise UnsafeScrapyd(f"{source} sets {option}: remove it there")
    if actual.webroot != WEBROOT:
        raise UnsafeScrapyd(
            f"scrapyd would take webroot = {actual.webroot!r} from "
            f"{origin.get('webroot', 'its defaults')}: remove it there"
        )
    return actual
