"""Distributed-mode settings are checked once, with messages that name the setting."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from harvest.frontier import FrontierConfig, FrontierConfigError


def test_off_without_a_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARVEST_REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert FrontierConfig.from_settings(Settings()) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"HARVEST_REDIS_URL": "http://x"}, "redis://"),
        ({"HARVEST_REDIS_JOB": "a b"}, "HARVEST_REDIS_JOB"),
        ({"HARVEST_REDIS_IDLE_SECONDS": "-1"}, "HARVEST_REDIS_IDLE_SECONDS must be at least 0"),
        ({"HARVEST_REDIS_HEARTBEAT_TTL": "0.5"}, "HARVEST_REDIS_HEARTBEAT_TTL must be at least 1"),
        ({"HARVEST_REDIS_HEARTBEAT_TTL": "soon"}, "must be a number, not 'soon'"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, str], message: str) -> None:
    full = {"HARVEST_REDIS_URL": "redis://127.0.0.1:6379/0", **settings}
    with pytest.raises(FrontierConfigError, match=message):
        FrontierConfig.from_settings(Settings(full))


def test_keys_are_per_job() -> None:
    config = FrontierConfig.from_settings(
        Settings({"HARVEST_REDIS_URL": "redis://h/1", "HARVEST_REDIS_JOB": "nightly"})
    )
    assert config is not None
    assert config.key("requests") == "harvest:nightly:requests"
    assert config.scrapy_settings()["SCHEDULER_DUPEFILTER_KEY"] == "harvest:nightly:seen"
