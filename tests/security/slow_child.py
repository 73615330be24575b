"""A parse child that takes a minute over a page holding b"SLOW-PAGE" (the parse deadline's test)."""

from __future__ import annotations

import time
from typing import Any

import harvest.spiders.parsing as parsing

_extract = parsing.extract


def _slow_extract(body: Any, *args: Any, **kwargs: Any) -> Any:
    if b"SLOW-PAGE" in bytes(body[:4096]):
        time.sleep(60)
    return _extract(body, *args, **kwargs)


def serve(**kwargs: Any) -> None:
    parsing.extract = _slow_extract  # type: ignore[assignment]
    parsing.serve(**kwargs)
