"""scrapyd's credentials: made once at set-up, kept owner-only, read by every client.

One file in the format of a systemd ``EnvironmentFile`` (so the unit in
deploy/ can load the same one)::

    SCRAPYD_USERNAME=harvest
    SCRAPYD_PASSWORD=<32 random bytes, URL-safe>

at ``HARVEST_SCRAPYD_CREDENTIALS``, or ``scrapyd.env`` in harvest's
configuration directory. ``harvest scrapyd`` starts scrapyd with them;
``harvest schedule`` and ``harvest jobs`` send them; ``scrapyd-deploy`` reads
them from its environment (``set -a; . FILE; set +a``). ``SCRAPYD_USERNAME``
and ``SCRAPYD_PASSWORD`` in the environment, both set, win over the file.
A file that others may read is refused, not used.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import platformdirs

ENV_FILE = "HARVEST_SCRAPYD_CREDENTIALS"
USER_VAR, PASSWORD_VAR = "SCRAPYD_USERNAME", "SCRAPYD_PASSWORD"
DEFAULT_USER = "harvest"


class CredentialsError(RuntimeError):
    pass


def path() -> Path:
    named = os.environ.get(ENV_FILE)
    if named:
        return Path(named)
    return Path(platformdirs.user_config_dir("harvest")) / "scrapyd.env"


def read(where: Path) -> tuple[str, str] | None:
    """The (user, password) in ``where``; None when there is no such file."""
    try:
        fd = os.open(where, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialsError(f"cannot read {where}: {exc.strerror or exc}") from None
    with os.fdopen(fd, encoding="utf-8") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CredentialsError(
                f"{where} may be read by others (mode {stat.S_IMODE(mode):o}): chmod 600 it"
            )
        values: dict[str, str] = {}
        for line in fh.read(64 * 1024).splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    user, password = values.get(USER_VAR, ""), values.get(PASSWORD_VAR, "")
    if not user or not password:
        raise CredentialsError(f"{where} lacks {USER_VAR} or {PASSWORD_VAR}")
    return user, password


def ensure(where: Path) -> tuple[str, str]:
    """The credentials in ``where``, made (owner-only) when there are none."""
    found = read(where)
    if found is not None:
        return found
    where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    user, password = DEFAULT_USER, secrets.token_urlsafe(32)
    try:
        fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # made meanwhile by another set-up: take that one
        return ensure(where)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{USER_VAR}={user}\n{PASSWORD_VAR}={password}\n")
    return user, password


def current() -> tuple[str, str] | None:
    """What a client sends: the environment's pair, else the file's, else nothing."""
    user, password = os.environ.get(USER_VAR, ""), os.environ.get(PASSWORD_VAR, "")
    if user and password:
        return user, password
    return read(path())
