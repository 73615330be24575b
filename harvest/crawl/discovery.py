"""The spider's GraphQL discovery: walks over Medium's listings, and the fallback.

With ``-a history=all`` (or a month range) the spider lists every post of its
tags, users and publications through ``/_/graphql`` (:mod:`harvest.medium.graphql`)
instead of reading their listing pages. A walk that cannot go on (GraphQL
answered with errors, a shape harvest does not know, a challenge, a refusal
by robots.txt, a failed request) falls back to the listing page (server HTML
and the browser, as without ``history``), and the crawl counts which path
each listing took and why. Drift, challenges and robots.txt refusals turn
GraphQL off for that host for the rest of the crawl: every further walk
there would meet the same.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from harvest import config
from harvest.contract.meta import WALK_META
from harvest.contract.signals import walk_done, walk_marks
from harvest.crawl.args import CrawlArgs
from harvest.crawl.hostgate import Blocked, HostGivenUp, HostUnreachable
from harvest.crawl.walk_cursors import AFTER_META, LocalWalks, RedisWalks, WalkCursor, WalkStore
from harvest.crawl.walk_robots import ROBOTS_PAGE_REFUSAL, ROBOTS_REFUSAL
from harvest.frontier.schema import QueueEntryError
from harvest.items import PageProblem, WalkDone
from harvest.links import host_of
from harvest.medium import PostRef
from harvest.medium.graphql import (
    DRIFT,
    FIRST_MONTH,
    OK,
    Walk,
    WalkPage,
    months,
    publication_walk,
    read_page,
    tag_walk,
    user_walk,
    walk_of,
)

log = logging.getLogger(__name__)
# Walk pages go ahead of the articles they find: discovery stays a step ahead.
WALK_PRIORITY = 10
_STATS = "harvest/discovery/"


class Router(Protocol):
    """What discovery needs of the spider that holds it: its arguments and URLs,
    the crawler, the shared frontier, the requests it makes for listings and
    articles, and the two methods its walk requests are called back on (a
    request's callbacks must be the spider's own methods for a JOBDIR or a
    shared queue to keep it)."""

    args: CrawlArgs
    urls: Any
    crawler: Any
    frontier: Any

    def listing(self, medium_url: str, depth: int, *, browser: bool = False) -> Any: ...
    async def articles(self, posts: Any, depth: int, check: bool = True) -> list[Any]: ...
    def problem(self, url: str, kind: str, reason: str, response: Response) -> PageProblem: ...
    def learn_domain(self, host: str, *, share: bool = True) -> bool: ...
    def parse_walk(self, response: Response) -> AsyncIterator[Any]: ...
    def errback_close_page(self, failure: Any) -> AsyncIterator[Any]: ...


class GraphqlDiscovery:
    """The spider's GraphQL walks: which to make, their requests, what their
    answers list, and the fallback to listing pages. The spider holds one and
    routes its walk callbacks here."""

    walks: WalkStore

    def __init__(self, spider: Router) -> None:
        self.spider = spider
        self.crawler = spider.crawler
        # host -> why GraphQL is off there for the rest of the crawl
        self.graphql_off: dict[str, str] = {}
        # walk -> the newest publish time a complete earlier walk saw (stop there)
        self._stop_at: dict[str, str] = {}
        self._fallen_back: set[str] = set()
        # walk -> the cursors its answers named in this process (a walk that
        # names one again goes round in circles)
        self._cursors: dict[str, set[str]] = {}
        # host -> the walks whose answers drifted there; how many turn GraphQL off
        self._drifted: dict[str, list[str]] = {}
        self._drift_walks: int = config.value(self.crawler.settings, "HARVEST_GRAPHQL_DRIFT_WALKS")
        self.walks = self._open_store()

    @property
    def args(self) -> CrawlArgs:
        """The spider's arguments as they are now: a worker that waited for a
        shared job takes the job's after this object was made."""
        return self.spider.args

    def _open_store(self) -> WalkStore:
        frontier = self.spider.frontier
        if frontier is not None:
            return RedisWalks(frontier.server, frontier.walks_key)
        settings = self.crawler.settings
        path = config.value(settings, "HARVEST_WALKS_FILE")
        if not path and settings.get("JOBDIR"):
            path = f"{settings.get('JOBDIR')}/harvest-walks.jsonl"
        local = LocalWalks(Path(path) if path else None)
        if local.refused:
            self.crawler.stats.inc_value(f"{_STATS}walks/refused_lines", local.refused)
        return local

    # -- which walks -------------------------------------------------------------

    def planned_walks(self) -> list[Walk]:
        a = self.args
        out: list[Walk] = []
        for tag in a.tags:
            if isinstance(a.history, tuple):
                first, last = a.history
                out.extend(tag_walk(tag, m) for m in months(max(first, FIRST_MONTH), last))
            else:
                out.append(tag_walk(tag))
        out.extend(user_walk(u) for u in a.users)
        out.extend(publication_walk(p) for p in a.publications)
        return out

    async def walk_starts(self) -> AsyncIterator[Any]:
        """The first (or, resumed, the next) request of every walk, and the posts a
        killed run of this crawl found but may not have harvested."""
        planned = self.planned_walks()
        for walk in planned:
            if walk.by_domain:
                self.spider.learn_domain(walk.key)
        marks = await self._marks([w.url for w in planned]) if not self.args.recrawl else {}
        found = self.walks.found()
        if found:
            self.crawler.stats.inc_value(f"{_STATS}resumed_posts", len(found))
            for request in await self.spider.articles(found, depth=0):
                yield request
        for walk in planned:
            request = self._start_of(walk, marks.get(walk.url))
            if request is not None:
                yield request

    def _start_of(self, walk: Walk, mark: dict[str, Any] | None) -> scrapy.Request | None:
        """A walk's next request: none if it is done (resumed) or an earlier crawl
        walked its month to the end after the month was over."""
        cursor = self.walks.get(walk.url)
        if cursor is not None and cursor.done:
            self.crawler.stats.inc_value(f"{_STATS}walks/resumed_done")
            return None
        if mark is not None and cursor is None and self._walked_before(walk, mark):
            self.crawler.stats.inc_value(f"{_STATS}walks/skipped_walked")
            return None
        if mark is not None and mark.get("newest"):
            self._stop_at[walk.url] = mark["newest"]
        return self.walk_request(walk, cursor.after if cursor else None)

    @staticmethod
    def _walked_before(walk: Walk, mark: dict[str, Any]) -> bool:
        """A month a complete walk covered after it ended has nothing new to list."""
        if walk.month is None:
            return False
        year, month = walk.month
        after_end = date(year + month // 12, month % 12 + 1, 1) + timedelta(days=1)
        walked = mark.get("walked_at")
        return isinstance(walked, datetime) and walked.date() >= after_end

    async def _marks(self, walks: list[str]) -> dict[str, dict[str, Any]]:
        answers = await self.crawler.signals.send_catch_log_async(signal=walk_marks, walks=walks)
        found: dict[str, dict[str, Any]] = {}
        for _, answer in answers:
            if isinstance(answer, dict):
                found.update(answer)
        return found

    # -- requests ------------------------------------------------------------------

    def walk_request(self, walk: Walk, after: str | None) -> scrapy.Request:
        return scrapy.Request(
            self.spider.urls.fetch_url(walk.endpoint),
            method="POST",
            body=walk.body(after, self.args.page_size),
            headers=walk.headers(),
            callback=self.spider.parse_walk,
            errback=self.spider.errback_close_page,
            priority=WALK_PRIORITY,
            # Every page is its own request, and a resumed one must go again.
            dont_filter=True,
            meta={
                "medium_url": walk.url,
                WALK_META: walk.url,
                AFTER_META: after,
                "harvest_depth": 0,
            },
        )

    def walk_request_for(self, url: str) -> scrapy.Request:
        """A shared-queue entry's walk, at the cursor the job's store holds now."""
        walk = walk_of(url)
        if walk is None:
            raise QueueEntryError(f"{url[:200]!r} names no GraphQL walk")
        cursor = self.walks.get(walk.url)
        after = cursor.after if cursor else None
        return self.walk_request(walk, after)

    # -- answers -----------------------------------------------------------------

    async def walk_answer(self, response: Response) -> AsyncIterator[Any]:
        meta = response.meta
        walk = walk_of(meta[WALK_META])
        assert walk is not None
        asked_with = meta.get(AFTER_META)
        stats = self.crawler.stats
        stats.inc_value(f"{_STATS}graphql/requests")
        page = read_page(walk, response.body)
        if page.status != OK:
            for item in self._walk_unreadable(walk, page, response):
                yield item
            return
        before = self.walks.get(walk.url) or WalkCursor()
        if before.done or before.after != asked_with:
            stats.inc_value(f"{_STATS}graphql/pages_repeated")
            return  # a page asked twice (resumed): its first answer counted
        wanted, stop = self._wanted(walk, page)
        done = not page.more or stop
        stalled = not done and self._stalled(walk, page, asked_with)
        step = self._next_cursor(page, before, len(wanted), ended=done or stalled)
        if not self.walks.advance(walk.url, asked_with, step, wanted):
            stats.inc_value(f"{_STATS}graphql/pages_repeated")
            return
        stats.inc_value(f"{_STATS}graphql/posts", len(wanted))
        stats.inc_value(f"{_STATS}graphql/listed", page.seen)
        for item in await self.spider.articles(wanted, depth=0):
            yield item
        for request in self._walk_goes_on(walk, page.after, step, done=done, stalled=stalled):
            yield request

    def _next_cursor(
        self, page: WalkPage, before: WalkCursor, wanted: int, *, ended: bool
    ) -> WalkCursor:
        """Where the walk is after ``page``: done when it ended or ran out of budget."""
        newest = max([before.newest or "", *(_position(page, r) or "" for r in page.posts)])
        return WalkCursor(
            after=page.after,
            pages=before.pages + 1,
            posts=before.posts + wanted,
            done=ended or before.pages + 1 >= self.args.walk_pages,
            newest=newest or None,
        )

    def _walk_goes_on(
        self, walk: Walk, after: str | None, step: WalkCursor, *, done: bool, stalled: bool
    ) -> Iterator[scrapy.Request]:
        """After a page: the walk's end said, or its next request (or its
        listing page, where GraphQL went off meanwhile)."""
        stats = self.crawler.stats
        if done:
            stats.inc_value(f"{_STATS}walks/complete")
            seen = [w for w in (_when(self._stop_at.get(walk.url)), _when(step.newest)) if w]
            newest_seen = max(seen).isoformat() if seen else None
            # One line per tag, user or publication; a tag's months go to the debug log.
            log.log(
                logging.INFO if walk.month is None else logging.DEBUG,
                "walked %s through GraphQL: %d posts in %d requests",
                walk.url,
                step.posts,
                step.pages,
            )
            self.crawler.signals.send_catch_log(
                signal=walk_done,
                walk=WalkDone(
                    walk=walk.url, newest=newest_seen, posts=step.posts, requests=step.pages
                ),
            )
        elif stalled:
            # Ended, but not complete: a later crawl must not stop at its newest.
            stats.inc_value(f"{_STATS}walks/stalled")
            log.warning(
                "stopped walking %s after %d requests: the listing did not move "
                "(an empty page or a cursor it had named before); %d posts",
                walk.url,
                step.pages,
                step.posts,
            )
        elif step.pages >= self.args.walk_pages:
            stats.inc_value(f"{_STATS}walks/over_budget")
            log.warning(
                "stopped walking %s after %d requests (walk_pages): %d posts, more remain",
                walk.url,
                step.pages,
                step.posts,
            )
        elif host_of(walk.url) in self.graphql_off:
            yield from self._fall_back(walk, self.graphql_off[host_of(walk.url) or ""])
        else:
            yield self.walk_request(walk, after)

    def _stalled(self, walk: Walk, page: WalkPage, asked_with: str | None) -> bool:
        """Whether a page that says more follow leads nowhere: it lists nothing
        (working clients stop there), or its cursor is one this walk was at."""
        seen = self._cursors.setdefault(walk.url, set())
        if asked_with:
            seen.add(asked_with)
        if page.seen == 0 or page.after in seen:
            return True
        if page.after:
            seen.add(page.after)
        return False

    def _wanted(self, walk: Walk, page: WalkPage) -> tuple[list[PostRef], bool]:
        """The page's posts this crawl wants, and whether the walk ends here: a
        newest-first walk stops at the range's start or at what an earlier complete
        walk saw."""
        first_day, last_day = self._range_days(walk)
        stop_at = _when(self._stop_at.get(walk.url))
        wanted: list[PostRef] = []
        seen_before = before_range = False
        for ref in page.posts:
            # Where the walk is: a publication's goes by listing time, the rest
            # by publish time; a pinned post comes first whatever its age.
            at = _when(_position(page, ref))
            moves = ref.post_id not in page.pinned
            place = _window_place(at, _when(ref.published_at), stop_at, first_day, last_day)
            if place == "seen":
                # an earlier complete walk saw it (and, unless pinned, all after it)
                seen_before = seen_before or moves
            elif place == "early":
                # published before the range; listed before it too, all after it
                listed_early = at is not None and first_day is not None and at < first_day
                before_range = before_range or (moves and listed_early)
            elif place == "in":
                wanted.append(ref)
        if seen_before:
            self.crawler.stats.inc_value(f"{_STATS}walks/reached_last_seen")
        return wanted, seen_before or before_range

    def _range_days(self, walk: Walk) -> tuple[datetime | None, datetime | None]:
        """The first day of ``history``'s months and the day after them, for a walk
        that is not itself one month's (None, None: no range)."""
        if not isinstance(self.args.history, tuple) or walk.month is not None:
            return None, None
        (fy, fm), (ly, lm) = self.args.history
        return datetime(fy, fm, 1, tzinfo=UTC), datetime(ly + lm // 12, lm % 12 + 1, 1, tzinfo=UTC)

    def _walk_unreadable(self, walk: Walk, page: WalkPage, response: Response) -> Iterator[Any]:
        stats = self.crawler.stats
        host = host_of(walk.url) or ""
        if page.status == DRIFT:
            stats.inc_value(f"{_STATS}graphql/drift")
            log.warning(
                "GraphQL answer of a shape harvest does not know for %s: %s", walk.url, page.reason
            )
            # Kept like an unparsed page, with the answer, to be read.
            yield self.spider.problem(
                walk.url, "unparsed", f"GraphQL drift: {page.reason}", response
            )
            # One odd answer (a typename or field one listing has) is that
            # walk's; GraphQL goes off for the host once several walks drift.
            drifted = self._drifted.setdefault(host, [])
            if walk.url not in drifted:
                drifted.append(walk.url)
            if len(drifted) >= self._drift_walks:
                self._turn_off(
                    host,
                    f"drift in {len(drifted)} walks ({', '.join(drifted[:3])}"
                    f"{', …' if len(drifted) > 3 else ''}; last: {page.reason[:120]})",
                )
            yield from self._fall_back(walk, "drift")
            return
        stats.inc_value(f"{_STATS}graphql/errors")
        log.warning("GraphQL answered %s with errors: %s", walk.url, page.reason)
        # The listing page gives part of what the walk would have: not harvested in full.
        yield PageProblem(
            url=walk.url, kind="failed", reason=f"GraphQL errors: {page.reason}", cause="GraphQL"
        )
        yield from self._fall_back(walk, "error")

    def _turn_off(self, host: str, why: str) -> None:
        if host not in self.graphql_off:
            self.graphql_off[host] = why
            self.crawler.stats.set_value(f"{_STATS}graphql_off/{host}", why)
            log.warning(
                "GraphQL discovery is off for %s for the rest of this crawl: %s; "
                "its listings are read from their pages",
                host,
                why,
            )

    def _fall_back(self, walk: Walk, cause: str) -> Iterator[scrapy.Request]:
        """The walk's listing page instead (once per page): server HTML, then the
        browser, as a crawl without history reads it."""
        self.crawler.stats.inc_value(f"{_STATS}fallback/{cause.split(' ', maxsplit=1)[0]}")
        page = walk.html_listing()
        if page in self._fallen_back:
            return
        self._fallen_back.add(page)
        log.info("reading %s from its page instead of GraphQL (%s)", page, cause)
        yield self.spider.listing(page, 0)

    async def walk_failed(self, failure: Any) -> AsyncIterator[Any]:
        """The errback's part for a walk request that failed for good."""
        request = failure.request
        walk = walk_of(request.meta[WALK_META])
        assert walk is not None
        host = host_of(walk.url) or ""
        refused = not getattr(failure.value, "response", None) and str(failure.value)
        if failure.check(IgnoreRequest) and refused and refused.startswith(ROBOTS_REFUSAL):
            for item in self._robots_refused(walk, host, refused):
                yield item
            return
        for item in self._walk_not_answered(walk, host, failure):
            yield item

    def _walk_not_answered(self, walk: Walk, host: str, failure: Any) -> Iterator[Any]:
        """A walk's request its host gave up on, blocked, or did not answer."""
        if failure.check(HostGivenUp) or failure.check(HostUnreachable):
            # The listing page is on the same host: it would meet the same.
            kind = "blocked" if failure.check(HostGivenUp) else "failed"
            cause = "gave up on host" if kind == "blocked" else "unreachable"
            yield PageProblem(url=walk.url, kind=kind, reason=str(failure.value), cause=cause)
            return
        stats = self.crawler.stats
        if failure.check(Blocked):
            stats.inc_value(f"{_STATS}graphql/challenged")
            yield PageProblem(
                url=walk.url, kind="blocked", reason=f"GraphQL: {failure.value}", cause="challenge"
            )
            self._turn_off(host, "challenged")
            yield from self._fall_back(walk, "challenge")
            return
        response = getattr(failure.value, "response", None)
        reason = f"HTTP {response.status}" if response is not None else type(failure.value).__name__
        stats.inc_value(f"{_STATS}graphql/failed")
        log.warning("GraphQL request of %s failed: %s", walk.url, reason)
        yield PageProblem(url=walk.url, kind="failed", reason=f"GraphQL: {reason}", cause=reason)
        yield from self._fall_back(walk, reason)

    def _robots_refused(self, walk: Walk, host: str, text: str) -> Iterator[Any]:
        """robots.txt disallows the endpoint or the walk's page: GraphQL goes off for
        the host, and the walk's page is skipped as robots.txt asks; its listing
        page is the page the crawl reads instead."""
        what = "the walk's page" if text.startswith(ROBOTS_PAGE_REFUSAL) else "/_/graphql"
        self.crawler.stats.inc_value(f"{_STATS}graphql/robots_refused")
        self._turn_off(host, f"robots.txt disallows {what}")
        yield PageProblem(url=walk.url, kind="skipped", reason=text, cause="robots.txt")
        yield from self._fall_back(walk, "robots.txt")

    def close(self) -> None:
        stats = self.crawler.stats
        for walk in self.planned_walks() if self.args.history else []:
            cursor = self.walks.get(walk.url)
            if cursor is not None and not cursor.done:
                stats.inc_value(f"{_STATS}walks/unfinished")
        self.walks.close()


def _when(value: str | None) -> datetime | None:
    """An ISO time (Medium's ``...Z`` included) as an aware datetime; None if unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _window_place(
    at: datetime | None,
    published: datetime | None,
    stop_at: datetime | None,
    first_day: datetime | None,
    last_day: datetime | None,
) -> str:
    """Where a listed post falls for its walk: "seen" (at or before where an
    earlier complete walk stopped), "early" or "late" (published before or after
    the range of months), else "in"."""
    if at is not None and stop_at is not None and at <= stop_at:
        return "seen"
    if published is not None and first_day is not None and published < first_day:
        return "early"
    if published is not None and last_day is not None and published >= last_day:
        return "late"
    return "in"


def _position(page: WalkPage, ref: PostRef) -> str | None:
    """The time a walk's order goes by: when the post was listed (a
    publication's walk), else when it was published."""
    return page.listed.get(ref.post_id) or ref.published_at
