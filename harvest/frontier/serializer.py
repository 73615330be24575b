"""Requests in the shared queue as JSON, not pickle.

Anyone who can write to a pickle-backed queue can run code in every worker;
JSON cannot carry code. Bytes (body, headers) are tagged and base64-encoded;
meta values that cannot be written as JSON (a browser page object left by
scrapy-playwright, say) belong to one process only and are left out.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

log = logging.getLogger(__name__)
_BYTES = "__b64__"
_PAIRS = "__pairs__"  # a dict whose keys are not all strings (headers: bytes keys)
_TRANSIENT_META = frozenset({"playwright_page", "download_latency", "download_slot", "depth"})


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {_PAIRS: [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _BYTES in value:
            return base64.b64decode(value[_BYTES])
        if len(value) == 1 and _PAIRS in value:
            return {_decode(k): _decode(v) for k, v in value[_PAIRS]}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _portable_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in meta.items():
        if key in _TRANSIENT_META:
            continue
        try:
            json.dumps(_encode(value))
        except (TypeError, ValueError):
            log.debug("request meta %r is not portable; left out of the shared queue", key)
            continue
        out[key] = value
    return out


def dumps(obj: dict[str, Any]) -> bytes:
    obj = dict(obj)
    obj["meta"] = _portable_meta(obj.get("meta") or {})
    return json.dumps(_encode(obj), separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> dict[str, Any]:
    obj: dict[str, Any] = _decode(json.loads(data))
    return obj
