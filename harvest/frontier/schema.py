"""Requests in the shared queue: a strict schema of harvest's own, never a request dump.

Whoever can write to the queue must not be able to command a worker. So an
entry carries only what harvest needs to rebuild one of its own requests, and
the worker rebuilds it with its own spider (:meth:`MediumSpider.request_for`):

    {"v": 1, "kind": "article", "url": "https://medium.com/@a/post-0123456789ab",
     "depth": 0, "priority": 0}

plus, where they apply, ``retry_times``, ``redirect_times``, ``browser_tries``
and ``refuse`` (the host gate's reason to fail the page without fetching it). ``kind`` is one of
:data:`KINDS`, which fixes the callback and whether the browser loads the page;
``url`` is the Medium address (http or https, on Medium or a publication
domain the crawl knows, never a local file); the worker maps it to its own
fetch address. Everything else a Scrapy request can carry (other meta,
headers, cookies, a proxy, a body, Playwright's context and launch options, a
callback by name, a class to import) has no field here, so an entry cannot
set it. An entry that does not fit is refused with :class:`QueueEntryError`,
counted and logged by the scheduler, which goes on with the next one.
"""

from __future__ import annotations

import json
from typing import Any

from harvest.contract.meta import WALK_META
from harvest.links import host_of, is_medium_host

VERSION = 1
# kind -> (callback name, loaded in the browser)
KINDS: dict[str, tuple[str, bool]] = {
    "listing": ("parse_listing", False),
    "listing_browser": ("parse_listing_browser", True),
    "article": ("parse_article", False),
    "article_browser": ("parse_article", True),
    # url: the walk's listing page; its cursor is the job's (harvest.crawl.walk_cursors)
    "walk": ("parse_walk", False),
}
MAX_ENTRY_BYTES = 16 * 1024
# An entry is one flat object; a little room so that a nested value is refused
# by the schema, with its name, rather than here.
MAX_NESTING = 4
MAX_URL = 2048
# field -> (type, smallest, largest); url, kind and refuse are checked apart
_NUMBERS = {
    "depth": (0, 100),
    "priority": (-1_000_000, 1_000_000),
    "retry_times": (0, 100),
    "redirect_times": (0, 100),
    "browser_tries": (0, 10),
}
_FIELDS = frozenset({"v", "kind", "url", "refuse", *_NUMBERS})
# Request meta the schema carries, and the field it goes in.
_META = {
    "harvest_depth": "depth",
    "retry_times": "retry_times",
    "redirect_times": "redirect_times",
    "harvest_browser_tries": "browser_tries",
}
REFUSE_META = "harvest_refuse"


class QueueEntryError(ValueError):
    """A queue entry that harvest will not turn into a request."""


def kind_of(request: Any, spider: Any) -> str:
    """The kind of one of the spider's own requests."""
    callback = getattr(request.callback, "__name__", None)
    browser = bool(request.meta.get("playwright"))
    for kind, (name, in_browser) in KINDS.items():
        if name == callback and in_browser == browser:
            return kind
    raise QueueEntryError(f"not a request of harvest's: callback {callback!r}")


def encode(request: Any, spider: Any) -> bytes:
    # The address the request goes to, as a Medium URL: after a redirect, its target.
    url = request.meta.get(WALK_META) or spider.urls.medium_url(request.url)
    entry: dict[str, Any] = {
        "v": VERSION,
        "kind": kind_of(request, spider),
        "url": url,
        "priority": int(request.priority),
    }
    for key, field in _META.items():
        value = request.meta.get(key)
        if value is not None:
            entry[field] = int(value)
    entry.setdefault("depth", 0)
    refuse = request.meta.get(REFUSE_META)
    if refuse is not None:
        entry["refuse"] = str(refuse)[:1000]
    return json.dumps(entry, separators=(",", ":")).encode("utf-8")


def decode(data: bytes | str, spider: Any) -> Any:
    """The spider's own request for an entry; QueueEntryError if it does not fit."""
    try:
        entry = parse(data)
    except QueueEntryError:
        raise
    except Exception as exc:  # whatever an entry makes the checks raise, it is refused
        raise QueueEntryError(f"not checkable ({type(exc).__name__})") from None
    url = entry["url"]
    host = host_of(url)
    if host is None or not (is_medium_host(host) or spider.knows_publication_domain(host)):
        raise QueueEntryError(f"{host or url[:100]!r} is neither Medium nor a known publication")
    request = spider.request_for(
        entry["kind"],
        url,
        depth=entry.get("depth", 0),
        retry_times=entry.get("retry_times"),
        browser_tries=entry.get("browser_tries"),
    )
    request.priority = entry.get("priority", 0)
    if "redirect_times" in entry:
        request.meta["redirect_times"] = entry["redirect_times"]
        request.dont_filter = True
    if "refuse" in entry:
        request.meta[REFUSE_META] = entry["refuse"]
    return request


def parse(data: bytes | str) -> dict[str, Any]:
    """The entry as a checked dictionary (no spider needed)."""
    entry = _load(data)
    extra = sorted(str(k) for k in entry if k not in _FIELDS)
    if extra:
        raise QueueEntryError(f"fields harvest does not know: {', '.join(extra)[:200]}")
    if entry.get("v") != VERSION:
        raise QueueEntryError(f"version {entry.get('v')!r}, not {VERSION}")
    if entry.get("kind") not in KINDS:
        raise QueueEntryError(f"kind {str(entry.get('kind'))[:50]!r}")
    _check_url(entry.get("url"))
    _check_numbers(entry)
    refuse = entry.get("refuse")
    if refuse is not None and (not isinstance(refuse, str) or len(refuse) > 1000):
        raise QueueEntryError("refuse is not a short text")
    return entry


def _load(data: bytes | str) -> dict[str, Any]:
    if not isinstance(data, (bytes, bytearray, str)):
        raise QueueEntryError(f"a {type(data).__name__}, not bytes")
    if len(data) > MAX_ENTRY_BYTES:
        raise QueueEntryError(f"an entry of {len(data)} bytes")
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    depth = _nesting(raw)
    if depth > MAX_NESTING:
        # json.loads recurses per level: 15,000 of them raise RecursionError, not ValueError.
        raise QueueEntryError(f"nested {depth} deep")
    try:
        entry = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise QueueEntryError("not JSON") from None
    except (RecursionError, MemoryError) as exc:
        raise QueueEntryError(f"not decodable ({type(exc).__name__})") from None
    if not isinstance(entry, dict):
        raise QueueEntryError("not a JSON object")
    return entry


def _nesting(raw: bytes) -> int:
    """How deep ``[`` and ``{`` nest in a JSON text, strings aside (before it is decoded)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
        return raw.count(b"[") + raw.count(b"{")
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _check_url(url: Any) -> None:
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise QueueEntryError("no URL, or one that is too long")
    if not url.startswith(("http://", "https://")):
        raise QueueEntryError(f"a URL that is not http(s): {url[:100]!r}")


def _check_numbers(entry: dict[str, Any]) -> None:
    for field, (least, most) in _NUMBERS.items():
        value = entry.get(field)
        if value is None:
            continue
        if type(value) is not int or not least <= value <= most:
            raise QueueEntryError(f"{field} {str(value)[:50]!r}")


# scrapy-redis builds its queue with a serializer; harvest's scheduler never
# uses it (entries go through encode and decode above), and this one makes
# sure nothing else could, pickle included.
def dumps(obj: Any) -> bytes:
    raise QueueEntryError("the shared queue takes harvest's entries only (harvest.frontier.schema)")


def loads(data: Any) -> Any:
    raise QueueEntryError("the shared queue takes harvest's entries only (harvest.frontier.schema)")
