"""Every harvest setting, declared once and read in one order.

Like Scrapy's ``default_settings.py``, this module is the one list of what can
be set: each :class:`Setting` names its type, default, bounds and help, and
:func:`value` reads it the same way everywhere (crawl, pipelines, ``harvest``
commands):

1. a Scrapy setting: ``-s NAME=value``, a scrapyd job's settings, or a value
   a component sets at run time;
2. the environment (``NAME``, then any older name the setting also answers to,
   such as ``DATABASE_URL``);
3. the declared default.

A value that cannot be used raises :class:`SettingError` naming the setting,
where the value came from and what is expected; :func:`check` reads them all
before a crawl starts, so a typo stops the crawl before its first request.
README's settings table is :func:`markdown_table` (a test keeps the two equal).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_USER_AGENT = (
    "harvest/0.1 (+https://github.com/harvest-medium/harvest; link research crawler)"
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingError(ValueError):
    """A setting whose value cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: str  # "bool", "int", "float", "text"
    default: Any
    help: str
    group: str
    minimum: float | None = None
    maximum: float | None = None
    # Environment names after NAME itself (older conventions such as DATABASE_URL).
    also_env: tuple[str, ...] = ()
    # Scrapy setting names after NAME itself (scrapy-redis's REDIS_URL).
    also_setting: tuple[str, ...] = ()
    # What the default means when it is computed at run time (shown in the table).
    default_text: str | None = None
    # An address that may carry a password: shown masked (`harvest settings`, logs).
    secret: bool = False
    check_text: Callable[[str], str | None] | None = field(default=None, compare=False)

    @property
    def env_names(self) -> tuple[str, ...]:
        return (self.name, *self.also_env)


def _url_scheme(*schemes: str) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        if not text or text.startswith(schemes):
            return None
        return f"must start with {' or '.join(schemes)}"

    return check


def _dsn(text: str) -> str | None:
    if not text or text.startswith(("postgresql://", "postgres://")) or "=" in text:
        return None
    return "must be a postgresql://... URL or a libpq key=value string"


def _one_of(*names: str) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        return None if not text or text in names else f"must be one of {', '.join(names)}"

    return check


def _http_url(text: str) -> str | None:
    return (
        None if not text or text.startswith(("http://", "https://")) else "must be an http(s) URL"
    )


_S = Setting
SETTINGS: tuple[Setting, ...] = (
    # -- the crawl -------------------------------------------------------------------
    _S(
        "MEDIUM_BASE_URL",
        "text",
        None,
        "fetch every Medium address from this mirror or "
        "simulator instead (records keep Medium's own URLs)",
        "crawl",
        check_text=_http_url,
    ),
    _S(
        "HARVEST_USER_AGENT",
        "text",
        DEFAULT_USER_AGENT,
        "the User-Agent of every request; say how to reach you",
        "crawl",
    ),
    _S(
        "HARVEST_PARSE_WORKERS",
        "int",
        None,
        "child processes that parse pages; 0 parses in "
        "the crawler itself (set 0 when you run one worker per core yourself)",
        "crawl",
        minimum=0,
        maximum=64,
        default_text="1 on two or more cores, else 0",
    ),
    _S(
        "HARVEST_PARSE_TIMEOUT",
        "float",
        20.0,
        "seconds a parse child may spend on one page before it is killed and the page "
        "kept as unparsed",
        "crawl",
        minimum=1,
    ),
    _S(
        "HARVEST_GRAPHQL_DRIFT_WALKS",
        "int",
        3,
        "walks on one host whose GraphQL answers are of an unknown shape before GraphQL "
        "discovery is turned off on that host for the rest of the crawl (each such walk "
        "reads its listing page instead)",
        "crawl",
        minimum=1,
    ),
    _S(
        "HARVEST_WALKS_FILE",
        "text",
        None,
        "where GraphQL walks (-a history) note each cursor step and the posts it found, "
        "so a killed crawl run again with the same file resumes where it stopped",
        "crawl",
        default_text="JOBDIR/harvest-walks.jsonl when JOBDIR is set, else none",
    ),
    _S(
        "HARVEST_UNPARSED_DIR",
        "text",
        None,
        "where pages no parser recognizes are kept for `harvest reparse`; empty: keep none",
        "crawl",
        default_text="the user data dir's harvest/unparsed",
    ),
    _S(
        "HARVEST_PROGRESS_INTERVAL",
        "float",
        10.0,
        "seconds between progress lines (INFO); 0: none",
        "crawl",
        minimum=0,
    ),
    # -- rate limits, blocks and unreachable hosts -----------------------------------
    _S(
        "HARVEST_RETRY_AFTER_MAX",
        "float",
        120.0,
        "longest wait a Retry-After may ask for, in seconds (longer asks wait this long)",
        "limits",
        minimum=0,
    ),
    _S(
        "HARVEST_RETRY_BACKOFF",
        "float",
        1.0,
        "first wait after a 429/503 without Retry-After, in seconds; doubles with each retry",
        "limits",
        minimum=0,
    ),
    _S(
        "HARVEST_BREAKER_STRIKES",
        "int",
        3,
        "blocks (challenges) or 429/503 bursts of one host "
        "within HARVEST_BREAKER_WINDOW that pause it",
        "limits",
        minimum=1,
    ),
    _S(
        "HARVEST_BREAKER_WINDOW",
        "float",
        600.0,
        "seconds in which strikes are counted",
        "limits",
        minimum=1,
    ),
    _S(
        "HARVEST_BREAKER_COOLDOWN",
        "float",
        60.0,
        "first pause of a host the breaker tripped on, in seconds; doubles while it keeps blocking",
        "limits",
        minimum=0,
    ),
    _S(
        "HARVEST_BREAKER_COOLDOWN_MAX",
        "float",
        900.0,
        "longest pause, in seconds",
        "limits",
        minimum=0,
    ),
    _S(
        "HARVEST_BREAKER_TRIPS",
        "int",
        3,
        "pauses in a row without one page answered before "
        "the crawl gives up on a host (a host that never answered a page: the first)",
        "limits",
        minimum=1,
    ),
    _S(
        "HARVEST_UNREACHABLE_AFTER",
        "int",
        2,
        "connection failures (DNS, refused, timeout) of a "
        "host that never answered before it counts as unreachable",
        "limits",
        minimum=1,
    ),
    _S(
        "HARVEST_BROWSER_ON_CHALLENGE",
        "bool",
        False,
        "fetch a page that plain HTTP got a challenge for once more in the browser",
        "limits",
    ),
    # -- the browser -----------------------------------------------------------------
    _S(
        "HARVEST_FETCHER",
        "text",
        "scrapy",
        "what fetches pages that are not rendered: `scrapy` (Scrapy's own HTTP client), "
        "`impersonate` (curl_cffi through scrapy-impersonate, with a browser's TLS and "
        "HTTP/2 fingerprint and headers) or `zyte` (Zyte API, a commercial unblocking "
        "service, through scrapy-zyte-api: needs ZYTE_API_KEY); the host gate, breaker, "
        "robots.txt and offsite rule are the same for all",
        "crawl",
        check_text=_one_of("scrapy", "impersonate", "zyte"),
    ),
    _S(
        "HARVEST_IMPERSONATE",
        "text",
        "chrome",
        "the browser whose fingerprint HARVEST_FETCHER=impersonate presents "
        "(a curl_cffi target: chrome, safari, firefox, edge, or a version such as chrome131)",
        "crawl",
    ),
    _S(
        "HARVEST_IMPERSONATE_CA_FILE",
        "text",
        None,
        "CA certificates (PEM) HARVEST_FETCHER=impersonate trusts instead of its own bundle "
        "(a private CA, such as a TLS-inspecting proxy's)",
        "crawl",
    ),
    _S(
        "HARVEST_BROWSER",
        "bool",
        True,
        "scroll 2025-style listings in Chromium; 0: never start a browser",
        "browser",
    ),
    _S(
        "HARVEST_CHROMIUM",
        "text",
        None,
        "the Chromium binary",
        "browser",
        default_text="Playwright's Chromium, else the system's chromium",
    ),
    _S("HARVEST_BROWSER_CONTEXTS", "int", 2, "browser contexts at most", "browser", minimum=1),
    _S("HARVEST_BROWSER_PAGES", "int", 4, "pages per context at most", "browser", minimum=1),
    _S(
        "HARVEST_BROWSER_TIMEOUT_MS",
        "int",
        30_000,
        "navigation timeout, in ms",
        "browser",
        minimum=0,
    ),
    _S(
        "HARVEST_SCROLL_PAUSE_MS",
        "int",
        400,
        "pause after each scroll, in ms",
        "browser",
        minimum=0,
    ),
    _S(
        "HARVEST_SCROLL_WAIT_MS",
        "int",
        2_000,
        "how long a scroll waits for new posts, in ms; two scrolls in a row that bring none "
        "end the listing",
        "browser",
        minimum=100,
    ),
    # -- the database ----------------------------------------------------------------
    _S(
        "HARVEST_DATABASE_URL",
        "text",
        None,
        "the PostgreSQL server (postgresql://... or key=value); unset: the embedded server",
        "database",
        also_env=("DATABASE_URL",),
        secret=True,
        check_text=_dsn,
    ),
    _S(
        "HARVEST_PGDATA",
        "text",
        None,
        "the embedded server's data directory",
        "database",
        default_text="~/.local/share/harvest/pgdata",
    ),
    _S("HARVEST_DB_ENABLED", "bool", True, "store items in PostgreSQL", "database"),
    _S(
        "HARVEST_DB_MIGRATE",
        "bool",
        True,
        "apply pending migrations when a crawl starts",
        "database",
    ),
    _S("HARVEST_DB_BATCH_PAGES", "int", 500, "pages per write batch", "database", minimum=1),
    _S("HARVEST_DB_BATCH_LINKS", "int", 20_000, "links per write batch", "database", minimum=1),
    _S(
        "HARVEST_DB_FLUSH_INTERVAL",
        "float",
        5.0,
        "seconds before a partial batch is written",
        "database",
        minimum=0.05,
    ),
    _S("HARVEST_DB_WRITERS", "int", 2, "batches written at once", "database", minimum=1),
    _S(
        "HARVEST_DB_FOLD_INTERVAL",
        "float",
        5.0,
        "seconds between folds of the stored links into the summaries (and at the crawl's end)",
        "database",
        minimum=0.05,
    ),
    _S(
        "HARVEST_DB_RETRIES",
        "int",
        8,
        "attempts per batch when the server is unavailable",
        "database",
        minimum=1,
    ),
    _S(
        "HARVEST_DB_RETRY_MAX_DELAY",
        "float",
        10.0,
        "longest wait between attempts, in seconds",
        "database",
        minimum=0,
    ),
    _S(
        "HARVEST_DB_CONNECT_TIMEOUT",
        "int",
        5,
        "seconds to wait for the server when a crawl starts",
        "database",
        minimum=1,
    ),
    # -- distributed mode --------------------------------------------------------------
    _S(
        "HARVEST_REDIS_URL",
        "text",
        None,
        "the shared frontier (redis://, rediss:// or unix://); unset: a crawl of its own",
        "frontier",
        also_env=("REDIS_URL",),
        also_setting=("REDIS_URL",),
        secret=True,
        check_text=_url_scheme("redis://", "rediss://", "unix://"),
    ),
    _S("HARVEST_REDIS_JOB", "text", "medium", "the job's name (its Redis keys)", "frontier"),
    _S(
        "HARVEST_REDIS_IDLE_SECONDS",
        "float",
        30.0,
        "seconds the whole job must be quiet before a worker stops",
        "frontier",
        minimum=0,
    ),
    _S(
        "HARVEST_REDIS_HEARTBEAT_TTL",
        "float",
        15.0,
        "seconds a worker's heartbeat lives; a dead worker's requests go back after it",
        "frontier",
        minimum=1,
    ),
    # -- scheduled crawls --------------------------------------------------------------
    _S(
        "HARVEST_SCHEDULE_STATE",
        "text",
        None,
        "`harvest schedule`'s state file",
        "schedule",
        default_text="~/.local/share/harvest/schedule-state.json",
    ),
    # -- the explorer (harvest serve) -------------------------------------------------
    _S(
        "HARVEST_EXPLORER_ROLE",
        "text",
        "harvest_reader",
        "the read-only role `harvest serve` queries as (`harvest db grant-readonly` makes it)",
        "explorer",
    ),
    _S(
        "HARVEST_EXPLORER_LARGE",
        "int",
        40_000,
        "a domain with this many live links is grouped by `harvest serve` at start-up, and "
        "its filtered pages are worked out in the background (a pass over its links)",
        "explorer",
        minimum=1,
    ),
    _S(
        "HARVEST_EXPLORER_TOKEN",
        "text",
        None,
        "the token `harvest serve` asks of every request; needed to listen beyond loopback",
        "explorer",
        secret=True,
    ),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def default(name: str) -> Any:
    """The declared default of setting ``name``: a class that holds settings
    read once takes its fields' defaults from here, never a literal of its own."""
    return BY_NAME[name].default


def _source_value(
    setting: Setting, settings: Any, environ: Mapping[str, str]
) -> tuple[Any, str] | None:
    """The first value given for ``setting`` and where it came from, or None."""
    if settings is not None:
        for name in (setting.name, *setting.also_setting):
            raw = settings.get(name)
            if _given(setting, raw):
                return raw, f"-s {name}"
    for name in setting.env_names:
        raw = environ.get(name)
        if _given(setting, raw):
            return raw, f"environment {name}"
    return None


def _given(setting: Setting, raw: Any) -> bool:
    if raw is None:
        return False
    # An empty text value is a value ("keep none"); an empty number is not given.
    return setting.kind == "text" or not (isinstance(raw, str) and not raw.strip())


def value(
    settings: Any,
    name: str,
    environ: Mapping[str, str] | None = None,
    error: type[SettingError] = SettingError,
) -> Any:
    """The typed value of setting ``name`` (see the module docstring for the order).

    ``error`` is the SettingError subclass a component raises for its own settings.
    """
    setting = BY_NAME[name]
    found = _source_value(setting, settings, os.environ if environ is None else environ)
    if found is None:
        return setting.default
    raw, where = found
    try:
        return convert(setting, raw, where)
    except SettingError as exc:
        if error is SettingError:
            raise
        raise error(str(exc)) from None


def source(settings: Any, name: str, environ: Mapping[str, str] | None = None) -> str:
    """Where the value of ``name`` comes from: "-s NAME", "environment NAME" or "default"."""
    setting = BY_NAME[name]
    found = _source_value(setting, settings, os.environ if environ is None else environ)
    return "default" if found is None else found[1]


def convert(setting: Setting, raw: Any, where: str = "") -> Any:
    """``raw`` as the setting's type, checked; ``where`` (-s NAME, environment NAME) is
    added to the message of a value that cannot be used."""
    origin = f" (from {where})" if where else ""
    if setting.kind == "bool":
        return _to_bool(setting, raw, origin)
    if setting.kind in ("int", "float"):
        return _to_number(setting, raw, origin)
    text = str(raw).strip()
    if setting.check_text is not None:
        problem = setting.check_text(text)
        if problem:
            raise SettingError(f"{setting.name} {problem}, not {text!r}{origin}")
    return text


def _to_bool(setting: Setting, raw: Any, origin: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingError(f"{setting.name} must be 1 or 0 (true/false), not {raw!r}{origin}")


def _to_number(setting: Setting, raw: Any, origin: str) -> float:
    name = setting.name
    number: float
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = int(str(raw).strip()) if setting.kind == "int" else float(raw)
    except (TypeError, ValueError):
        what = "a whole number" if setting.kind == "int" else "a number"
        raise SettingError(f"{name} must be {what}, not {raw!r}{origin}") from None
    if setting.minimum is not None and number < setting.minimum:
        least = _plain(setting.minimum)
        raise SettingError(f"{name} must be at least {least}, not {_plain(number)}{origin}")
    if setting.maximum is not None and number > setting.maximum:
        most = _plain(setting.maximum)
        raise SettingError(f"{name} must be at most {most}, not {_plain(number)}{origin}")
    return number


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def database_conflict(settings: Any, environ: Mapping[str, str] | None = None) -> str | None:
    """Why the database settings cannot work together, if they cannot."""
    dsn = value(settings, "HARVEST_DATABASE_URL", environ)
    if dsn and source(settings, "HARVEST_PGDATA", environ) != "default":
        return (
            "HARVEST_PGDATA names the embedded server's data directory; it cannot be "
            "combined with DATABASE_URL/HARVEST_DATABASE_URL, which name an external server"
        )
    return None


def check(settings: Any, environ: Mapping[str, str] | None = None) -> None:
    """Read every setting once; raise one SettingError naming all that cannot be used."""
    problems = []
    for setting in SETTINGS:
        try:
            value(settings, setting.name, environ)
        except SettingError as exc:
            problems.append(str(exc))
    conflict = None if problems else database_conflict(settings, environ)
    if conflict:
        problems.append(conflict)
    if problems:
        raise SettingError("; ".join(problems))


def unknown(settings: Any, environ: Mapping[str, str] | None = None) -> list[str]:
    """HARVEST_* names given (as settings or in the environment) that no setting declares."""
    names: set[str] = set()
    if settings is not None and hasattr(settings, "attributes"):
        names.update(k for k in settings.attributes if isinstance(k, str))
    names.update((os.environ if environ is None else environ).keys())
    return sorted(
        n for n in names if n.startswith("HARVEST_") and n not in BY_NAME and n not in _NOT_OURS
    )


# Environment variables of harvest's own tests and tools, not settings.
_NOT_OURS = frozenset({"HARVEST_TEST_REDIS_URL"})


def default_text(setting: Setting) -> str:
    if setting.default_text is not None:
        return setting.default_text
    if setting.default is None:
        return "unset"
    if setting.kind == "bool":
        return "1" if setting.default else "0"
    if isinstance(setting.default, float):
        return _plain(setting.default)
    return str(setting.default)


def markdown_table(settings: Iterable[Setting] = SETTINGS) -> str:
    """README's settings table."""
    lines = ["| setting | type | default | what |", "| --- | --- | --- | --- |"]
    for s in settings:
        names = " or ".join(f"`{n}`" for n in s.env_names)
        bounds = ""
        if s.minimum is not None:
            bounds = f" ≥ {_plain(s.minimum)}"
        if s.maximum is not None:
            bounds += f", ≤ {_plain(s.maximum)}"
        kind = {"bool": "0/1", "int": "whole number", "float": "number", "text": "text"}[s.kind]
        default = default_text(s).replace("|", "\\|")
        lines.append(f"| {names} | {kind}{bounds} | {default} | {s.help} |")
    return "\n".join(lines) + "\n"
