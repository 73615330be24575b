"""Settings of the distributed mode, read and checked once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harvest import config

_JOB_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class FrontierConfigError(config.SettingError):
    pass


@dataclass(frozen=True, slots=True)
class FrontierConfig:
    url: str
    job: str
    idle_seconds: float
    heartbeat_ttl: float

    @classmethod
    def from_settings(cls, settings: Any) -> FrontierConfig | None:
        """None when no Redis is named: the crawl then runs on Scrapy's own scheduler."""

        def get(name: str) -> Any:
            return config.value(settings, name, error=FrontierConfigError)

        url = get("HARVEST_REDIS_URL")
        if not url:
            return None
        job = str(get("HARVEST_REDIS_JOB") or "medium")
        if not _JOB_RE.match(job):
            raise FrontierConfigError(
                f"HARVEST_REDIS_JOB {job!r}: letters, digits, '.', '_' and '-' only, at most 64"
            )
        idle = get("HARVEST_REDIS_IDLE_SECONDS")
        ttl = get("HARVEST_REDIS_HEARTBEAT_TTL")
        return cls(url=str(url), job=job, idle_seconds=idle, heartbeat_ttl=ttl)

    def key(self, name: str) -> str:
        return f"harvest:{self.job}:{name}"

    def scrapy_settings(self) -> dict[str, Any]:
        return {
            "SCHEDULER": "harvest.frontier.scheduler.FrontierScheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.FifoQueue",
            "SCHEDULER_QUEUE_KEY": self.key("requests"),
            "SCHEDULER_DUPEFILTER_KEY": self.key("seen"),
            # Unused by harvest's scheduler (harvest.frontier.schema encodes the
            # entries); named so that scrapy-redis's pickle default cannot be.
            "SCHEDULER_SERIALIZER": "harvest.frontier.schema",
            # Kept between runs: a restarted worker resumes the same frontier.
            "SCHEDULER_PERSIST": True,
            # Never block the reactor on BLPOP; idleness is decided by the scheduler.
            "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
            "REDIS_URL": self.url,
        }
