"""The host gate: rate limits, challenges and unreachable hosts, one host at a time.

Medium answers a crawler that goes too fast with bursts of 429 (with
Retry-After) and, once it looks automated, with Cloudflare challenges; a
machine without network answers with DNS failures. A careful harvester reacts
per host, and never by holding a downloader slot while it waits:

* **Retry-After.** A 429 (or a 503 with Retry-After) sends that request
  out of the downloader to wait the time asked (capped by
  HARVEST_RETRY_AFTER_MAX; without the header, HARVEST_RETRY_BACKOFF doubling
  per retry); it comes back through the scheduler when the time is up, and no
  downloader slot is held meanwhile. Until the wait is over the host is
  *cooling*: one request at a time goes to it (a probe), the others wait out of
  the downloader too. A probe that gets through ends the cooling at once (the
  limit is over, or it was only for some pages); one that is refused waits
  like the first, and the next request becomes the probe. So a burst of 429s
  costs about one Retry-After, however many pages it hit, without hammering a
  host that is limiting every request; other hosts keep going throughout.
* **Challenges** (:mod:`harvest.crawl.blocking`) are never retried from the
  same address (Cloudflare keeps a challenged URL challenged) and never
  parsed: the page fails as ``blocked``.
* **The breaker.** Each 429 burst (429s that come while the host is cooling
  belong to the burst that began it) and each challenge is a strike; responses
  to requests sent before the last strike do not count again.
  HARVEST_BREAKER_STRIKES strikes within HARVEST_BREAKER_WINDOW seconds pause
  the host for HARVEST_BREAKER_COOLDOWN seconds, doubling (up to
  HARVEST_BREAKER_COOLDOWN_MAX) while the blocks go on. After
  HARVEST_BREAKER_TRIPS pauses in a row without a page answered, or at once
  when a host has challenged every page so far, the crawl gives up on the
  host: its pages fail as ``blocked`` without being requested, and the crawl
  ends instead of retrying for hours.
* **Unreachable hosts.** A host that never answered and fails to connect
  HARVEST_UNREACHABLE_AFTER times (DNS, refused, timeout) is unreachable: its
  requests fail at once with one line saying so, instead of each being
  retried. A host that has answered once gets Scrapy's usual retries.

:class:`HostGate` is the state, with an injected clock (tested without a
crawl); :class:`HostGateMiddleware` is the downloader middleware around it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import (
    CannotResolveHostError,
    DontCloseSpider,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import error as twisted_errors

from harvest import config
from harvest.crawl.blocking import challenge_reason, header_map

log = logging.getLogger(__name__)

# Request meta keys of the gate's own.
REFUSE = "harvest_refuse"
HELD = "harvest_held"
PROBE = "harvest_probe"
PASSED = "harvest_passed_at"  # when the gate let the request go
RATE_LIMIT_STATUSES = frozenset({429, 503})
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    twisted_errors.ConnectError,
    twisted_errors.TimeoutError,
)


class Postponed(IgnoreRequest):
    """The request waits for its host's pause; it comes back by itself (errbacks ignore it)."""


class Blocked(IgnoreRequest):
    """The host answered with a challenge."""


class HostGivenUp(Blocked):
    """The crawl gave up on the host (its breaker): the page was not requested."""


class HostUnreachable(IgnoreRequest):
    """The host never answered and cannot be connected to."""


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class GateConfig:
    retry_after_max: float = config.default("HARVEST_RETRY_AFTER_MAX")
    backoff: float = config.default("HARVEST_RETRY_BACKOFF")
    strikes: int = config.default("HARVEST_BREAKER_STRIKES")
    window: float = config.default("HARVEST_BREAKER_WINDOW")
    cooldown: float = config.default("HARVEST_BREAKER_COOLDOWN")
    cooldown_max: float = config.default("HARVEST_BREAKER_COOLDOWN_MAX")
    trips: int = config.default("HARVEST_BREAKER_TRIPS")
    unreachable_after: int = config.default("HARVEST_UNREACHABLE_AFTER")

    @classmethod
    def from_settings(cls, settings: Any) -> GateConfig:
        def get(name: str) -> Any:
            return config.value(settings, name)

        return cls(
            retry_after_max=get("HARVEST_RETRY_AFTER_MAX"),
            backoff=get("HARVEST_RETRY_BACKOFF"),
            strikes=get("HARVEST_BREAKER_STRIKES"),
            window=get("HARVEST_BREAKER_WINDOW"),
            cooldown=get("HARVEST_BREAKER_COOLDOWN"),
            cooldown_max=get("HARVEST_BREAKER_COOLDOWN_MAX"),
            trips=get("HARVEST_BREAKER_TRIPS"),
            unreachable_after=get("HARVEST_UNREACHABLE_AFTER"),
        )


@dataclass(slots=True)
class Host:
    """What the gate knows of one host (scheme-less ``host:port``)."""

    key: str
    answered: bool = False  # any HTTP response at all: the host is reachable
    page_answered: bool = False  # a page (not robots.txt) came back unblocked
    connection_failures: int = 0
    unreachable: str | None = None
    paused_until: float = 0.0  # the breaker's pause: nothing is sent
    cooling_until: float = 0.0  # the end of the last Retry-After asked for
    # A page answered unblocked since the last strike: requests go freely.
    # Until then (a new host, or one that just blocked or rate-limited the
    # crawl) one request at a time, the probe, goes to it.
    trusted: bool = False
    trusted_at: float = -math.inf  # when a page last got through
    # When it last refused (a 429 or a challenge): a page answered to a request
    # sent before then says nothing about whether the refusing is over.
    distrusted_at: float = -math.inf
    probe_since: float | None = None  # a probe is on its way, sent then
    last_strike: float = -math.inf
    strikes: deque[tuple[float, str]] = field(default_factory=deque)
    trips: int = 0  # pauses in a row with no page answered in between
    gave_up: str | None = None
    bursts: int = 0
    waited_seconds: float = 0.0  # cooling and paused, in all
    pauses: int = 0
    challenges: int = 0
    rate_limits: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """Something the gate decided that the crawl must say."""

    kind: str  # "burst" (a Retry-After), "tripped" (the breaker), "gave_up"
    host: str
    seconds: float
    message: str


class HostGate:
    def __init__(self, cfg: GateConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.hosts: dict[str, Host] = {}

    def host(self, key: str) -> Host:
        found = self.hosts.get(key)
        if found is None:
            found = self.hosts[key] = Host(key)
        return found

    # -- before a request is sent ------------------------------------------------------

    # A probe not heard of for this long is taken as lost (another middleware
    # swallowed its response), so that a host never waits for it forever.
    PROBE_LOST_AFTER = 120.0

    def before_send(
        self, key: str, *, probe: bool = False, inline: bool = False
    ) -> tuple[str, Any]:
        """("go", None), ("probe", None): go as the host's one probe, ("wait", seconds),
        ("blocked", why) or ("unreachable", why).

        ``probe``: the request was handed back to be the probe; ``inline``: it
        waits in place (robots.txt), and is never held back for a probe.
        """
        h = self.host(key)
        if h.gave_up is not None:
            return "blocked", h.gave_up
        if h.unreachable is not None:
            return "unreachable", h.unreachable
        now = self.clock()
        if now < h.paused_until:
            return "wait", h.paused_until - now
        if inline:
            return ("wait", h.cooling_until - now) if now < h.cooling_until else ("go", None)
        if not h.trusted:
            if probe or not self.is_probing(key):
                h.probe_since = now
                return "probe", None
            return "wait", max(h.cooling_until - now, 0.0)
        return "go", None

    def is_paused(self, key: str) -> bool:
        return self.clock() < self.host(key).paused_until

    def is_trusted(self, key: str) -> bool:
        return self.host(key).trusted

    def is_probing(self, key: str) -> bool:
        since = self.host(key).probe_since
        return since is not None and self.clock() - since < self.PROBE_LOST_AFTER

    def next_change(self, key: str) -> float | None:
        """When the host's pause ends, if it is paused."""
        h = self.host(key)
        return h.paused_until if h.paused_until > self.clock() else None

    # -- what came back ------------------------------------------------------------

    def answered(
        self, key: str, *, page: bool, probe: bool = False, sent_at: float | None = None
    ) -> None:
        h = self.host(key)
        h.answered = True
        h.connection_failures = 0
        if probe:
            h.probe_since = None
        if page:
            h.page_answered = True
        if page and (sent_at is None or sent_at >= h.distrusted_at):
            # A page sent since the host refused got through: the limit is over
            # (or was for some pages only). One sent before (answered late, or
            # let through just ahead of the limit) says nothing of the kind.
            h.trusted = True
            h.trips = 0
            now = self.clock()
            h.trusted_at = now
            if h.cooling_until > now:
                h.waited_seconds -= h.cooling_until - now
                h.cooling_until = now

    def probe_failed(self, key: str) -> None:
        self.host(key).probe_since = None

    def rate_limited(
        self, key: str, sent_at: float, wait: float, *, strike: bool = True
    ) -> list[Event]:
        h = self.host(key)
        h.rate_limits += 1
        now = self.clock()
        if sent_at < h.trusted_at:
            # Sent before a page got through: the tail of the burst that page ended.
            return []
        h.trusted = False
        h.distrusted_at = now
        new_burst = now >= h.cooling_until
        if new_burst and sent_at < h.cooling_until:
            # Sent before the wait was over (with the burst, or as a probe while
            # the host cooled), read after it: that burst's tail, however late a
            # loaded crawler reads it.
            return []
        until = now + wait
        if until > h.cooling_until:
            h.waited_seconds += until - max(now, h.cooling_until)
            h.cooling_until = until
        if not new_burst:
            return []
        h.bursts += 1
        events = [Event("burst", key, wait, f"{key} asked to wait {wait:.0f} s (rate limited)")]
        return events + (self._strike(h, sent_at, "rate limit") if strike else [])

    def challenged(self, key: str, sent_at: float) -> list[Event]:
        h = self.host(key)
        h.challenges += 1
        h.trusted = False
        h.distrusted_at = self.clock()
        return self._strike(h, sent_at, "challenge")

    def connection_failed(self, key: str, reason: str) -> tuple[str | None, bool]:
        """(why the host is unreachable or None, whether it became so just now)."""
        h = self.host(key)
        if h.unreachable is not None:
            return h.unreachable, False
        if h.answered:
            return None, False  # a blip on a host that works: Scrapy's retries
        h.connection_failures += 1
        if h.connection_failures < self.cfg.unreachable_after:
            return None, False
        h.unreachable = reason
        return reason, True

    # -- the breaker ----------------------------------------------------------------

    def _strike(self, h: Host, sent_at: float, kind: str) -> list[Event]:
        now = self.clock()
        if h.gave_up is not None or sent_at < h.last_strike:
            return []  # sent before the last strike: the same burst
        h.last_strike = now
        h.strikes.append((now, kind))
        while h.strikes and h.strikes[0][0] < now - self.cfg.window:
            h.strikes.popleft()
        if len(h.strikes) < self.cfg.strikes:
            return []
        kinds = {k for _, k in h.strikes}
        h.strikes.clear()
        h.trips += 1
        what = " and ".join(sorted(kinds)) + "s"
        if (kind == "challenge" and not h.page_answered) or h.trips > self.cfg.trips:
            why = (
                "it has answered every page with a challenge"
                if not h.page_answered
                else f"it kept blocking after {h.trips - 1} pauses"
            )
            h.gave_up = f"the crawl gave up on {h.key}: {why}"
            return [Event("gave_up", h.key, 0.0, h.gave_up)]
        cooldown = min(self.cfg.cooldown * 2 ** (h.trips - 1), self.cfg.cooldown_max)
        until = now + cooldown
        if until > h.paused_until:
            h.waited_seconds += until - max(now, h.paused_until)
            h.paused_until = until
        h.pauses += 1
        return [
            Event(
                "tripped",
                h.key,
                cooldown,
                f"{h.key}: {self.cfg.strikes} {what} within {self.cfg.window:.0f} s; "
                f"pausing it for {cooldown:.0f} s (pause {h.trips} of at most {self.cfg.trips})",
            )
        ]


# A probe handed back to the engine that has not arrived after this long was
# lost on its way (refused by an earlier middleware): another one is sent.
_CANDIDATE_LOST_AFTER = 5.0


def host_key(request: Request) -> str:
    return urlparse_cached(request).netloc.lower()


def _waits_inline(request: Request) -> bool:
    """Requests without an errback (robots.txt) cannot be postponed: they wait here."""
    return request.errback is None


def _is_robots(request: Request) -> bool:
    return urlparse_cached(request).path == "/robots.txt"


class HostGateMiddleware:
    """The gate as a downloader middleware (see the module docstring).

    Its priority puts it next to the downloader: it sees a response before the
    retry middleware does.
    Requests that must wait are held here, out of the downloader (their
    errbacks see :class:`Postponed` and do nothing), and handed back to the
    engine, which schedules them again, when their time comes.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.gate = HostGate(GateConfig.from_settings(crawler.settings))
        # host -> [(when it may go, request)], oldest first
        self.held: dict[str, list[tuple[float, Request]]] = {}
        self._timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        # host -> when a request was handed back to be its probe, until it arrives
        self._candidates: dict[str, float] = {}
        self.abandoned = 0
        self.postponed = self.returned = 0
        # Distributed, a released request may come back to another worker.
        self._shared_queue = bool(config.value(crawler.settings, "HARVEST_REDIS_URL"))
        crawler.signals.connect(self._idle, signal=signals.spider_idle)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> HostGateMiddleware:
        return cls(crawler)

    # -- requests ---------------------------------------------------------------------

    async def process_request(self, request: Request) -> None:
        if request.meta.pop(HELD, False):
            self.returned += 1
        refusal = request.meta.pop(REFUSE, None)
        if refusal is not None:
            raise HostGivenUp(refusal)
        key = host_key(request)
        inline = _waits_inline(request)
        candidate = bool(request.meta.pop(PROBE, False))
        if candidate:
            self._candidates.pop(key, None)
        state, detail = self.gate.before_send(key, probe=candidate, inline=inline)
        if state == "blocked":
            raise HostGivenUp(detail)
        if state == "unreachable":
            raise HostUnreachable(detail)
        if state == "wait":
            if not inline:
                self._hold(key, request, 0.0)
                raise Postponed(f"{key} is paused")
            await asyncio.sleep(detail)
        if state == "probe":
            request.meta[PROBE] = True
        request.meta[PASSED] = self.gate.clock()

    async def process_response(self, request: Request, response: Response) -> Response | Request:
        key = host_key(request)
        probe = bool(request.meta.pop(PROBE, False))
        # When it left, at the earliest: when the gate let it go. Its answer's
        # latency read off the clock now says when at the latest, but a loaded
        # crawler reads answers seconds late (CI took a probe sent during a
        # wait for one sent after it, and counted a second burst). Erring
        # early costs at most one more probe (a new limit read as the old
        # one's tail leaves the host untrusted); erring late costs a strike.
        passed = request.meta.pop(PASSED, None)
        if passed is None:  # not through process_request (another middleware's answer)
            passed = self.gate.clock() - float(request.meta.get("download_latency") or 0.0)
        sent_at = float(passed)
        headers = header_map(response.headers)
        reason = challenge_reason(response.status, headers, response.body)
        if reason is not None:
            self.stats.inc_value("harvest/hosts/challenges")
            if probe:
                self.gate.probe_failed(key)
            self._report(self.gate.challenged(key, sent_at))
            self._wake(key)
            raise Blocked(reason)
        if response.status in RATE_LIMIT_STATUSES and not request.meta.get("dont_retry"):
            return await self._rate_limited(key, sent_at, probe, request, response)
        self.gate.answered(key, page=not _is_robots(request), probe=probe, sent_at=sent_at)
        if probe:
            self._wake(key)
        return response

    async def _rate_limited(
        self, key: str, sent_at: float, probe: bool, request: Request, response: Response
    ) -> Response | Request:
        cfg = self.gate.cfg
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is None:
            wait = cfg.backoff * 2 ** request.meta.get("retry_times", 0)
        wait = min(wait, cfg.retry_after_max)
        self.stats.inc_value("harvest/hosts/rate_limited")
        if probe:
            self.gate.probe_failed(key)
        # A 503 without Retry-After is a server error, not the host asking to slow down.
        asked = response.status == 429 or "Retry-After" in response.headers
        self._report(self.gate.rate_limited(key, sent_at, wait, strike=asked))
        retry = get_retry_request(
            request, spider=self.crawler.spider, reason=f"HTTP {response.status}"
        )
        if retry is None:
            self._wake(key)
            return response  # retries used up: the page fails with its status
        # A browser page belongs to the first try (its errback closes it).
        retry.meta.pop("playwright_page", None)
        self.stats.inc_value("harvest/retry_after/waits")
        if _waits_inline(request):
            await asyncio.sleep(wait)
            return retry
        self._hold(key, retry, self.gate.clock() + wait)
        raise Postponed(f"{key} asked to wait {wait:.0f} s")

    async def process_exception(self, request: Request, exception: Exception) -> None:
        if isinstance(exception, IgnoreRequest):
            return
        key = host_key(request)
        if request.meta.pop(PROBE, False):
            self.gate.probe_failed(key)
            self._wake(key)
        if not isinstance(exception, CONNECTION_ERRORS):
            return
        why, new = self.gate.connection_failed(key, _describe(exception))
        if why is None:
            return
        if new:
            self.stats.inc_value("harvest/hosts/unreachable")
            log.error(
                "%s is unreachable (%s): its pages are not requested; check the network, "
                "a proxy, or MEDIUM_BASE_URL",
                key,
                why,
            )
        raise HostUnreachable(f"{key} unreachable: {why}")

    # -- held requests ----------------------------------------------------------------

    def _hold(self, key: str, request: Request, ready_at: float) -> None:
        # A copy goes back: the engine is still done with this object once its
        # errback has seen Postponed. The scheduler's duplicate filter has seen it.
        copy = request.replace(dont_filter=True)
        copy.meta[HELD] = True
        self.held.setdefault(key, []).append((ready_at, copy))
        self.postponed += 1
        self.stats.inc_value("harvest/hosts/postponed")
        # Not from inside the middleware call: the engine has not let go of it yet.
        asyncio.get_running_loop().call_soon(self._wake, key)

    def _wake(self, key: str) -> None:
        """Hand back what may go now, and set a timer for what may go later."""
        held = self.held.get(key, [])
        now = self.gate.clock()
        if held and not self.gate.is_paused(key) and self.gate.host(key).gave_up is None:
            held = self._release(key, held, now)
        if not held:
            self.held.pop(key, None)
            self._cancel(key)
            return
        times = [at for at, _ in held if at > now]
        change = self.gate.next_change(key)
        if change is not None:
            times.append(change)
        # Waiting for a probe: look again now and then, in case it was lost.
        when = min(times) if times else now + 1.0
        self._timer(key, max(when - now, 0.0) + 0.001)

    def _release(self, key: str, held: list[Any], now: float) -> list[Any]:
        """Send what is due of a host's held requests (one probe at a time while
        the host is not trusted); returns what is still held."""
        ready = [i for i, (at, _) in enumerate(held) if at <= now]
        if not self.gate.is_trusted(key):
            # One probe at a time until a page gets through.
            pending = now - self._candidates.get(key, -math.inf) < _CANDIDATE_LOST_AFTER
            if ready and not pending and not self.gate.is_probing(key):
                _, request = held.pop(ready[0])
                request.meta[PROBE] = True
                self._candidates[key] = now
                self.crawler.engine.crawl(request)
            return held
        keep = []
        for at, request in held:
            if at <= now:
                self.crawler.engine.crawl(request)
            else:
                keep.append((at, request))
        self.held[key] = keep
        return keep

    def _timer(self, key: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        current = self._timers.get(key)
        if current is not None:
            if current[0] <= due:
                return
            current[1].cancel()
        self._timers[key] = (due, loop.call_later(delay, self._fire, key))

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self._wake(key)

    def _cancel(self, key: str) -> None:
        current = self._timers.pop(key, None)
        if current is not None:
            current[1].cancel()

    def _give_up(self, key: str, why: str) -> None:
        self._cancel(key)
        for _, request in self.held.pop(key, []):
            request.meta[REFUSE] = why
            # Back through the scheduler to its errback, which records it as blocked.
            self.crawler.engine.crawl(request)

    def _report(self, events: list[Event]) -> None:
        for event in events:
            if event.kind == "burst":
                log.info("%s", event.message)
                continue
            self.stats.inc_value(f"harvest/hosts/{event.kind}")
            log.warning("%s", event.message)
            if event.kind == "gave_up":
                self._give_up(event.host, event.message)

    def _idle(self, spider: Any = None) -> None:
        if any(self.held.values()):
            raise DontCloseSpider

    def _closed(self, spider: Any = None, reason: str = "") -> None:
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.abandoned = sum(len(v) for v in self.held.values())
        self.held.clear()
        missing = self.postponed - self.returned - self.abandoned
        if missing > 0 and not self._shared_queue:
            # Handed back to the engine and never seen again: a bug, and counted.
            self.abandoned += missing
            log.error("%d postponed requests never came back from the scheduler", missing)
        if self.abandoned:
            # Their pages were never fetched: the outcome counts them as failed.
            self.stats.set_value("harvest/hosts/abandoned", self.abandoned)
            log.warning(
                "%d requests waiting for a paused host were not fetched: the crawl stopped",
                self.abandoned,
            )

    def report(self) -> list[str]:
        """One line per host the gate had to act on, for the crawl's summary."""
        lines = []
        for h in self.gate.hosts.values():
            if h.gave_up:
                lines.append(h.gave_up)
            elif h.unreachable:
                lines.append(f"{h.key} was unreachable: {h.unreachable}")
            elif h.bursts or h.pauses:
                lines.append(
                    f"{h.key} rate limited {h.rate_limits}× in {h.bursts} "
                    f"burst{'s' if h.bursts != 1 else ''}, paused {h.pauses}× by the breaker, "
                    f"{h.waited_seconds:.0f} s of waiting in all"
                    + (f"; {h.challenges} challenges" if h.challenges else "")
                )
            elif h.challenges:
                pages = "1 page" if h.challenges == 1 else f"{h.challenges} pages"
                lines.append(f"{h.key} answered {pages} with a challenge")
        return lines


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text}"[:300] if text else name
