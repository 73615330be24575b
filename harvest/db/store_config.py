"""Database settings, read once and checked together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harvest import config
from harvest.db.connection import configured_dsn, configured_pgdata


class ConfigError(config.SettingError):
    """A setting, or a combination of settings, that cannot work."""


@dataclass(frozen=True, slots=True)
class DbConfig:
    """Where harvest stores links and how the pipeline batches them.

    ``dsn`` comes from ``HARVEST_DATABASE_URL`` (a setting, or the environment as
    ``HARVEST_DATABASE_URL`` or ``DATABASE_URL``); without it the embedded
    server in ``pgdata`` is used.
    """

    # No defaults here: each field's default, bounds and help are its
    # HARVEST_DB_* setting's, declared once in harvest.config.
    dsn: str | None
    pgdata: Path
    enabled: bool
    migrate: bool
    batch_pages: int
    batch_links: int
    flush_interval: float
    retries: int
    retry_max_delay: float
    writers: int
    fold_interval: float
    connect_timeout: int

    @classmethod
    def from_settings(cls, settings: Any, environ: dict[str, str] | None = None) -> DbConfig:
        def get(name: str) -> Any:
            return config.value(settings, name, environ, ConfigError)

        try:
            conflict = config.database_conflict(settings, environ)
            dsn, pgdata = configured_dsn(settings, environ), configured_pgdata(settings, environ)
        except config.SettingError as exc:
            raise ConfigError(str(exc)) from None
        if conflict:
            raise ConfigError(conflict)
        return cls(
            dsn=dsn,
            pgdata=pgdata,
            enabled=get("HARVEST_DB_ENABLED"),
            migrate=get("HARVEST_DB_MIGRATE"),
            batch_pages=get("HARVEST_DB_BATCH_PAGES"),
            batch_links=get("HARVEST_DB_BATCH_LINKS"),
            flush_interval=get("HARVEST_DB_FLUSH_INTERVAL"),
            retries=get("HARVEST_DB_RETRIES"),
            writers=get("HARVEST_DB_WRITERS"),
            fold_interval=get("HARVEST_DB_FOLD_INTERVAL"),
            retry_max_delay=get("HARVEST_DB_RETRY_MAX_DELAY"),
            connect_timeout=get("HARVEST_DB_CONNECT_TIMEOUT"),
        )
