"""The host gate: Retry-After pauses, the breaker, challenges and unreachable hosts."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from scrapy import Spider
from scrapy.exceptions import CannotResolveHostError, DontCloseSpider, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError as TxConnectionRefused

from harvest.crawl.hostgate import (
    PROBE,
    Blocked,
    GateConfig,
    HostGate,
    HostGateMiddleware,
    HostGivenUp,
    HostUnreachable,
    Postponed,
    retry_after_seconds,
)

CHALLENGE_HEADERS = {"cf-mitigated": "challenge", "Content-Type": "text/html"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate(**cfg: Any) -> tuple[HostGate, Clock]:
    clock = Clock()
    return HostGate(GateConfig(**cfg), clock), clock


def test_retry_after_values() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None


def test_a_429_read_after_the_wait_is_its_bursts_tail_if_sent_before_the_wait_ended() -> None:
    g, clock = gate(strikes=5)
    first = clock.now
    clock.now += 0.1
    assert [e.kind for e in g.rate_limited("h", first, 2.0)] == ["burst"]
    # a request sent with the first, whose 429 a loaded crawler reads 3 s later
    clock.now += 3.0
    assert g.rate_limited("h", first + 0.05, 2.0) == []
    assert g.host("h").bursts == 1
    assert g.host("h").cooling_until < clock.now  # and no wait again for it
    # the probe sent just before the wait was over, refused and read after it
    h = g.host("h")
    probe_sent = clock.now
    clock.now += 0.1
    assert [e.kind for e in g.rate_limited("h", probe_sent, 2.0)] == ["burst"]
    assert h.bursts == 2
    clock.now = h.cooling_until - 0.01
    late_probe = clock.now
    clock.now += 0.5
    assert g.rate_limited("h", late_probe, 2.0) == []
    assert h.bursts == 2
    # one sent after the wait was over, refused: a burst of its own
    sent = clock.now
    clock.now += 2.5
    assert [e.kind for e in g.rate_limited("h", sent, 2.0)] == ["burst"]
    assert g.host("h").bursts == 3


def test_a_page_sent_before_the_host_refused_does_not_end_its_wait() -> None:
    # Medium's limiter lets five pages through and refuses the sixth: the five
    # answers, read after the 429 on a loaded crawler (CI), ended the wait, the
    # waiting requests all went, were refused, and made a second burst.
    g, clock = gate(strikes=5)
    g.answered("h", page=True, sent_at=clock.now)
    sent = clock.now
    clock.now += 0.1
    assert [e.kind for e in g.rate_limited("h", sent, 2.0)] == ["burst"]
    clock.now += 0.2
    g.answered("h", page=True, sent_at=sent - 0.05)
    h = g.host("h")
    assert not h.trusted and h.cooling_until > clock.now
    assert g.before_send("h") == ("probe", None)
    # the probe, sent since, gets through: that ends it
    probe_sent = clock.now
    clock.now += 0.1
    g.answered("h", page=True, probe=True, sent_at=probe_sent)
    assert g.is_trusted("h") and g.before_send("h") == ("go", None)
    assert g.host("h").bursts == 1


def test_a_burst_of_429s_is_one_strike_and_the_host_cools_with_one_probe() -> None:
    g, clock = gate(strikes=3)
    sent = clock.now
    clock.now += 0.1
    events = g.rate_limited("medium.com", sent, 2.0)
    assert [e.kind for e in events] == ["burst"]
    # 49 more 429s while the host cools: the same burst, however they were sent
    for i in range(49):
        clock.now += 0.01
        assert g.rate_limited("medium.com", clock.now - 0.005 * (i % 2), 2.0) == []
    h = g.host("medium.com")
    assert (h.bursts, len(h.strikes), h.rate_limits, h.pauses) == (1, 1, 50, 0)
    # one request at a time while it cools; other hosts are not concerned
    assert g.before_send("medium.com") == ("probe", None)
    assert g.before_send("medium.com")[0] == "wait"
    g.answered("other.example", page=True)
    assert g.before_send("other.example") == ("go", None)
    # the probe got through: the limit is over
    g.answered("medium.com", page=True, probe=True)
    assert g.before_send("medium.com") == ("go", None)


def test_a_new_host_gets_one_request_until_a_page_answers() -> None:
    g, _ = gate()
    assert g.before_send("h") == ("probe", None)
    assert g.before_send("h")[0] == "wait"
    assert g.before_send("h", inline=True) == ("go", None)  # robots.txt is not held back
    g.answered("h", page=False, probe=False)  # robots.txt answered: not yet a page
    assert g.before_send("h")[0] == "wait"
    g.answered("h", page=True, probe=True)
    assert [g.before_send("h")[0] for _ in range(3)] == ["go", "go", "go"]


def test_a_lost_probe_does_not_stall_the_host() -> None:
    g, clock = gate()
    assert g.before_send("h")[0] == "probe"
    clock.now += HostGate.PROBE_LOST_AFTER + 1
    assert g.before_send("h")[0] == "probe"


def test_a_refused_probe_hands_the_probe_on() -> None:
    g, clock = gate()
    g.rate_limited("h", clock.now, 2.0)
    assert g.before_send("h")[0] == "probe"
    g.probe_failed("h")
    assert g.before_send("h")[0] == "probe"  # the next request probes
    clock.now += 2.1
    assert g.before_send("h")[0] == "wait"  # still one at a time, until a page answers
    g.answered("h", page=True, probe=True)
    assert g.before_send("h") == ("go", None)


def test_the_breaker_pauses_longer_each_time_then_gives_up() -> None:
    g, clock = gate(strikes=3, window=600, cooldown=60, cooldown_max=100, trips=2)
    g.answered("medium.com", page=True)
    pauses = []
    for _ in range(3):  # three trips with no page answered in between
        events: list[Any] = []
        for _ in range(3):
            clock.now += 1
            events += g.challenged("medium.com", clock.now - 0.5)
        pauses.append([(e.kind, e.seconds) for e in events])
        clock.now += 200
    assert pauses[0] == [("tripped", 60)]
    assert pauses[1] == [("tripped", 100)]  # doubled, capped at cooldown_max
    assert pauses[2][0][0] == "gave_up"
    state, why = g.before_send("medium.com")
    assert state == "blocked" and "gave up on medium.com" in why


def test_a_page_answered_between_trips_starts_the_count_again() -> None:
    g, clock = gate(strikes=1, cooldown=10, trips=1)
    g.answered("h", page=True)
    for _ in range(5):
        clock.now += 1
        assert [e.kind for e in g.challenged("h", clock.now - 0.1)] == ["tripped"]
        clock.now += 20
        g.answered("h", page=True)
    assert g.host("h").gave_up is None


def test_a_host_that_challenged_every_page_is_given_up_at_the_first_trip() -> None:
    g, clock = gate(strikes=3)
    g.answered("medium.com", page=False)  # robots.txt answered: not a page
    kinds = []
    for _ in range(3):
        clock.now += 1
        kinds += [e.kind for e in g.challenged("medium.com", clock.now - 0.1)]
    assert kinds == ["gave_up"]


def test_strikes_older_than_the_window_do_not_count() -> None:
    g, clock = gate(strikes=3, window=60)
    g.answered("h", page=True)
    for _ in range(6):
        clock.now += 61
        assert g.challenged("h", clock.now - 1) == []


def test_unreachable_after_connection_failures_of_a_host_that_never_answered() -> None:
    g, _ = gate(unreachable_after=2)
    assert g.connection_failed("a", "DNS") == (None, False)
    assert g.connection_failed("a", "DNS") == ("DNS", True)
    assert g.connection_failed("a", "DNS") == ("DNS", False)
    assert g.before_send("a") == ("unreachable", "DNS")
    g.answered("b", page=False)
    for _ in range(5):  # a host that answered once gets Scrapy's retries instead
        assert g.connection_failed("b", "refused") == (None, False)


# -- the middleware ---------------------------------------------------------------------


class Engine:
    def __init__(self) -> None:
        self.crawled: list[tuple[float, Request]] = []

    def crawl(self, request: Request) -> None:
        self.crawled.append((time.monotonic(), request))


def middleware(**settings: Any) -> tuple[HostGateMiddleware, Any, Engine]:
    crawler: Any = get_crawler(Spider, {"HARVEST_RETRY_AFTER_MAX": 5, **settings})
    crawler.spider = Spider.from_crawler(crawler, name="t")
    crawler.stats.open_spider()
    engine = Engine()
    crawler.engine = engine
    return HostGateMiddleware.from_crawler(crawler), crawler, engine


def page_request(url: str = "https://medium.com/@a/post-0123456789ab") -> Request:
    def ignore(_: Any) -> None:
        return None

    return Request(url, callback=ignore, errback=ignore)


async def trust(mw: HostGateMiddleware) -> None:
    """A first page of the host answered: its requests go freely."""
    first = page_request("https://medium.com/@a/first-0123456789ab")
    await mw.process_request(first)
    await mw.process_response(first, Response(first.url, status=200))


def test_a_429_frees_its_slot_at_once_and_the_request_comes_back_after_the_wait() -> None:
    mw, crawler, engine = middleware()

    async def run() -> tuple[float, list[Any]]:
        await trust(mw)
        requests = [page_request(f"https://medium.com/@a/p{i}-0123456789ab") for i in range(50)]
        for r in requests:
            await mw.process_request(r)
        started = time.monotonic()
        for r in requests:
            with pytest.raises(Postponed):
                await mw.process_response(
                    r, Response(r.url, status=429, headers={"Retry-After": "1"})
                )
        handed_back = time.monotonic() - started
        with pytest.raises(DontCloseSpider):  # the crawl waits for them
            mw._idle()
        # requests for the host that come meanwhile: one goes, as the probe ...
        probe = page_request("https://medium.com/@a/probe-0123456789ab")
        await mw.process_request(probe)
        # ... and the rest wait with the others
        late = page_request("https://medium.com/@a/late-0123456789ab")
        with pytest.raises(Postponed):
            await mw.process_request(late)
        await asyncio.sleep(0.1)
        assert engine.crawled == []  # nothing goes while the probe is out
        # the probe gets through: what waited for it goes, the 429s after their wait
        await mw.process_response(probe, Response(probe.url, status=200))
        await asyncio.sleep(0.1)
        assert [r.url for _, r in engine.crawled] == [late.url]
        await asyncio.sleep(1.1)
        return handed_back, engine.crawled

    handed_back, crawled = asyncio.run(run())
    assert handed_back < 0.5  # no response waited for its Retry-After
    assert len(crawled) == 51
    assert all(r.meta.get("retry_times", 0) <= 1 for _, r in crawled)
    assert crawler.stats.get_value("harvest/retry_after/waits") == 50
    mw._idle()  # nothing held any more: the crawl may end


def test_a_probe_sent_during_the_wait_and_read_late_is_that_burst() -> None:
    # CI's loaded machine read a probe's 429 seconds late: with its send time
    # taken as now less its latency, it looked sent after the wait, and the
    # one burst became two strikes.
    mw, _, _ = middleware()
    clock = Clock()
    mw.gate.clock = clock
    limited = {"Retry-After": "2"}

    async def run() -> None:
        await trust(mw)
        first = page_request("https://medium.com/@a/p1-0123456789ab")
        await mw.process_request(first)
        clock.now += 0.1
        with pytest.raises(Postponed):
            await mw.process_response(first, Response(first.url, status=429, headers=limited))
        # the probe leaves just before the wait is over ...
        clock.now += 1.9
        probe = page_request("https://medium.com/@a/probe-0123456789ab")
        await mw.process_request(probe)
        assert probe.meta[PROBE]
        # ... and its 429 is read 3 s later, with a latency of milliseconds
        clock.now += 3.0
        probe.meta["download_latency"] = 0.005
        with pytest.raises(Postponed):
            await mw.process_response(probe, Response(probe.url, status=429, headers=limited))
        # a probe that leaves after the wait and is refused: the limit goes on
        clock.now += 2.5
        again = page_request("https://medium.com/@a/again-0123456789ab")
        await mw.process_request(again)
        clock.now += 0.1
        with pytest.raises(Postponed):
            await mw.process_response(again, Response(again.url, status=429, headers=limited))
        mw._closed()

    asyncio.run(run())
    assert mw.gate.host("medium.com").bursts == 2


def test_retry_after_is_capped_and_retries_run_out() -> None:
    mw, _, _ = middleware(RETRY_TIMES=1)

    async def run() -> Any:
        await trust(mw)
        r = page_request()
        await mw.process_request(r)
        with pytest.raises(Postponed):
            await mw.process_response(
                r, Response(r.url, status=429, headers={"Retry-After": "3600"})
            )
        ready_at, retry = mw.held["medium.com"][0]
        assert ready_at - mw.gate.clock() <= 5  # HARVEST_RETRY_AFTER_MAX
        # the retry is rate limited again: no retries left, the 429 goes on as a failure
        return await mw.process_response(retry, Response(r.url, status=429))

    response = asyncio.run(run())
    assert isinstance(response, Response) and response.status == 429


def test_robots_txt_waits_inline_instead_of_being_postponed() -> None:
    mw, _, _ = middleware()

    async def run() -> tuple[Any, float]:
        robots = Request("https://medium.com/robots.txt", callback=NO_CALLBACK)
        await mw.process_request(robots)
        started = time.monotonic()
        out = await mw.process_response(
            robots, Response(robots.url, status=429, headers={"Retry-After": "1"})
        )
        return out, time.monotonic() - started

    out, waited = asyncio.run(run())
    assert isinstance(out, Request) and 0.9 <= waited < 3


def test_a_challenge_is_blocked_never_passed_on() -> None:
    mw, crawler, _ = middleware()

    async def run() -> None:
        await trust(mw)
        r = page_request()
        await mw.process_request(r)
        with pytest.raises(Blocked) as caught:
            await mw.process_response(
                r, Response(r.url, status=403, headers=CHALLENGE_HEADERS, body=b"<html>")
            )
        assert not isinstance(caught.value, HostGivenUp)
        # the host blocked: the next request is its probe, and it gets through
        ok = page_request("https://medium.com/@a/fine-0123456789ab")
        await mw.process_request(ok)
        assert ok.meta.get("harvest_probe")
        answer = await mw.process_response(ok, Response(ok.url, status=200))
        assert isinstance(answer, Response) and answer.status == 200
        assert mw.gate.is_trusted("medium.com")

    asyncio.run(run())
    assert crawler.stats.get_value("harvest/hosts/challenges") == 1


def test_a_given_up_host_sends_its_waiting_requests_back_as_blocked() -> None:
    mw, crawler, _ = middleware(HARVEST_BREAKER_STRIKES=2)

    async def run() -> None:
        first, second = page_request(), page_request("https://medium.com/@a/x-0123456789ab")
        await mw.process_request(first)
        with pytest.raises(Blocked):
            await mw.process_response(
                first, Response(first.url, status=403, headers=CHALLENGE_HEADERS)
            )
        await mw.process_request(second)
        with pytest.raises(Blocked):
            await mw.process_response(
                second, Response(second.url, status=403, headers=CHALLENGE_HEADERS)
            )
        with pytest.raises(HostGivenUp, match=r"gave up on medium\.com"):
            await mw.process_request(page_request("https://medium.com/@a/y-0123456789ab"))

    asyncio.run(run())
    assert crawler.stats.get_value("harvest/hosts/gave_up") == 1


def test_connection_failures_make_a_new_host_unreachable_fast() -> None:
    mw, crawler, _ = middleware(HARVEST_UNREACHABLE_AFTER=2)

    async def run() -> None:
        r = page_request()
        await mw.process_exception(r, CannotResolveHostError("no such host"))  # passed on
        with pytest.raises(HostUnreachable, match=r"medium\.com unreachable"):
            await mw.process_exception(r, TxConnectionRefused())  # type: ignore[no-untyped-call]
        with pytest.raises(HostUnreachable):
            await mw.process_request(page_request("https://medium.com/tag/seo"))
        # what the gate raised itself is not a connection failure
        await mw.process_exception(r, IgnoreRequest("offsite"))

    asyncio.run(run())
    assert crawler.stats.get_value("harvest/hosts/unreachable") == 1
