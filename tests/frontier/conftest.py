"""A Redis of the machine's (HARVEST_TEST_REDIS_URL, default redis://127.0.0.1:6379):
each test gets a job name of its own in database 13, cleared afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

redis = pytest.importorskip("redis")

REDIS = os.environ.get("HARVEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/")


def redis_or_skip() -> Any:
    client = redis.Redis.from_url(REDIS + "13")
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS}")
    return client


def spider_settings(job: tuple[str, str]) -> dict[str, Any]:
    """Settings for a spider built in the test process (no crawl): the job's Redis."""
    url, name = job
    return {
        "HARVEST_REDIS_URL": url,
        "HARVEST_REDIS_JOB": name,
        "HARVEST_BROWSER": False,
        "MEDIUM_BASE_URL": "http://127.0.0.1:9",
    }


@pytest.fixture
def job() -> Iterator[tuple[str, str]]:
    client = redis_or_skip()
    name = f"t{uuid.uuid4().hex[:10]}"
    yield REDIS + "13", name
    for key in client.scan_iter(match=f"harvest:{name}:*"):
        client.delete(key)
