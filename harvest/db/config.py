"""Database settings, read once and checked together."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harvest.db.connection import default_pgdata
from harvest.setting_values import number, whole_number


class ConfigError(ValueError):
    """A setting, or a combination of settings, that cannot work."""


def _int(settings: Any, name: str, default: int, minimum: int) -> int:
    return whole_number(settings, name, default, minimum, ConfigError)


def _float(settings: Any, name: str, default: float, minimum: float) -> float:
    return number(settings, name, default, minimum, ConfigError)


def _bool(settings: Any, name: str, default: bool) -> bool:
    if hasattr(settings, "getbool"):
        return bool(settings.getbool(name, default))
    raw = settings.get(name, default)
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return bool(raw)


@dataclass(frozen=True, slots=True)
class DbConfig:
    """Where harvest stores links and how the pipeline batches them.

    ``dsn`` comes from ``DATABASE_URL`` (environment) or ``HARVEST_DATABASE_URL``
    (setting); without it the embedded server in ``pgdata`` is used.
    """

    dsn: str | None
    pgdata: Path
    enabled: bool = True
    migrate: bool = True
    batch_pages: int = 500
    batch_links: int = 20_000
    flush_interval: float = 5.0
    retries: int = 8
    retry_max_delay: float = 10.0
    writers: int = 2

    @classmethod
    def from_settings(cls, settings: Any, environ: dict[str, str] | None = None) -> DbConfig:
        env = os.environ if environ is None else environ
        dsn = env.get("DATABASE_URL") or settings.get("HARVEST_DATABASE_URL") or None
        pgdata_raw = env.get("HARVEST_PGDATA") or settings.get("HARVEST_PGDATA") or None
        if dsn and pgdata_raw:
            raise ConfigError(
                "HARVEST_PGDATA names the embedded server's data directory; it cannot be "
                "combined with DATABASE_URL/HARVEST_DATABASE_URL, which name an external server"
            )
        if dsn and not (dsn.startswith(("postgresql://", "postgres://")) or "=" in dsn):
            raise ConfigError(
                "the database URL must be postgresql://... or a libpq key=value string"
            )
        config = cls(
            dsn=dsn,
            pgdata=Path(pgdata_raw) if pgdata_raw else default_pgdata(),
            enabled=_bool(settings, "HARVEST_DB_ENABLED", True),
            migrate=_bool(settings, "HARVEST_DB_MIGRATE", True),
            batch_pages=_int(settings, "HARVEST_DB_BATCH_PAGES", 500, 1),
            batch_links=_int(settings, "HARVEST_DB_BATCH_LINKS", 20_000, 1),
            flush_interval=_float(settings, "HARVEST_DB_FLUSH_INTERVAL", 5.0, 0.05),
            retries=_int(settings, "HARVEST_DB_RETRIES", 8, 1),
            writers=_int(settings, "HARVEST_DB_WRITERS", 2, 1),
            retry_max_delay=_float(settings, "HARVEST_DB_RETRY_MAX_DELAY", 10.0, 0.0),
        )
        return config
