"""A parse child that takes a minute over a page holding b"SLOW-PAGE" (the parse deadline's test)."""

from __future__ import annotations

import time
from typing import Any

import harvest.crawl.parse_pool as parsing
from harvest.medium import extract as _extract


def _slow_extract(body: Any, *args: Any, **kwargs: Any) -> Any:
    if b"SLOW-PAGE" in bytes(body[:4096]):
        time.sleep(60)
    return _extract(body, *args, **kwargs)


def serve(**kwargs: Any) -> None:
    module: Any = parsing  # the child's own copy of the module
    module.extract = _slow_extract
    parsing.serve(**kwargs)
