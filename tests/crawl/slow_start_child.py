"""A parse child whose start takes HARVEST_TEST_CHILD_START seconds (a loaded machine's imports)."""

from __future__ import annotations

import os
import time
from typing import Any

import harvest.crawl.parse_pool as parsing


def serve(**kwargs: Any) -> None:
    time.sleep(float(os.environ["HARVEST_TEST_CHILD_START"]))
    parsing.serve(**kwargs)
