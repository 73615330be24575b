"""Numeric settings read with a clear message for a bad value, shared by the config dataclasses."""

from __future__ import annotations

from typing import Any


def whole_number(
    settings: Any, name: str, default: int, minimum: int, error: type[Exception] = ValueError
) -> int:
    raw = settings.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise error(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise error(f"{name} must be at least {minimum}, not {value}")
    return value


def number(
    settings: Any, name: str, default: float, minimum: float, error: type[Exception] = ValueError
) -> float:
    raw = settings.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise error(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise error(f"{name} must be at least {minimum}, not {value}")
    return value
