"""The `medium` spider: discovery and routing only.

Pages are parsed by :func:`harvest.medium.extract`; items are stored by the
pipelines. Discovery starts from tag, profile and publication pages, RSS feeds
and sitemaps; listings come as server HTML first, then (for the 2025 listing
markup, whose later posts load as the reader scrolls) once more in Chromium,
scrolled until no new posts appear. Article pages are plain HTTP, with the
browser only when the server HTML does not hold the post.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import redis
import scrapy
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from harvest import config
from harvest.contract.meta import WALK_META
from harvest.contract.signals import recent_posts, request_failed, store_opened
from harvest.crawl import StartupError, fetchers, resume, unparsed
from harvest.crawl.args import CrawlArgs, SpiderArgumentError
from harvest.crawl.browser import GUARD as BROWSER_GUARD
from harvest.crawl.browser import PIN_META as BROWSER_PIN_META
from harvest.crawl.browser import BrowserConfig, browser_meta
from harvest.crawl.discovery import GraphqlDiscovery
from harvest.crawl.hostgate import Blocked, HostGivenUp, HostUnreachable, Postponed
from harvest.crawl.pages import same_page
from harvest.crawl.parse_pool import Parser, ParserDied, ParserError
from harvest.crawl.resume import ResumeState
from harvest.crawl.walk_robots import ROBOTS_REFUSAL
from harvest.frontier import Frontier, FrontierConfig
from harvest.items import ArticlePage, FetchFacts, PageProblem, PostGone, ProfilePage
from harvest.links import host_of, is_medium_host, is_public_hostname, robots_tokens
from harvest.medium import PageResult, PostRef
from harvest.medium.status import fetched_status, gone_status
from harvest.medium.urls import BaseUrlError, MediumUrls, author_from_url, post_id_from_url
from harvest.secrets import mask_dsn

log = logging.getLogger(__name__)
_SITEMAP_DAY_RE = re.compile(r"(\d{4}-\d{2}-\d{2})\.xml(?:\.gz)?$")
_CARD_COUNT_JS = "document.querySelectorAll('article[data-testid=\"post-preview\"]').length"
_MORE_CARDS_JS = (
    "n => document.querySelectorAll('article[data-testid=\"post-preview\"]').length > n"
)


class MediumSpider(scrapy.Spider):
    name = "medium"
    # Offsite is decided per request by refusal() (OffsiteGuardMiddleware).
    allowed_domains = None
    # set in from_crawler, where the settings are known
    urls: MediumUrls
    browser: BrowserConfig
    parser: Parser
    unparsed: unparsed.UnparsedStore | None
    browser_on_challenge: bool
    discovery: GraphqlDiscovery

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        # Every setting is checked before the crawl starts: a typo stops it here.
        config.check(settings)
        for name in config.unknown(settings):
            log.warning("%s is not a harvest setting (see README: Settings)", name)
        if config.source(settings, "HARVEST_USER_AGENT") != "default":
            settings.set(
                "USER_AGENT", config.value(settings, "HARVEST_USER_AGENT"), priority="spider"
            )
        browser = BrowserConfig.from_settings(settings)
        for key, value in browser.scrapy_settings().items():
            settings.set(key, value, priority="spider")
        # after the browser's: this handler holds the browser's own
        for key, value in fetchers.scrapy_settings(settings).items():
            settings.set(key, value, priority="spider")
        frontier = FrontierConfig.from_settings(settings)
        if frontier is not None:
            for key, value in frontier.scrapy_settings().items():
                settings.set(key, value, priority="spider")
            middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
            middlewares["harvest.frontier.tokens.FrontierTokens"] = 10
            settings.set("SPIDER_MIDDLEWARES", middlewares, priority="spider")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raw = {k: v for k, v in kwargs.items() if k not in ("name", "_job")}
        super().__init__(*args, **{k: v for k, v in kwargs.items() if k in ("name",)})
        self._raw_args = raw
        # scrapyd's id for this job (its `_job` argument), kept on the run row.
        self.scrapyd_job: str | None = kwargs.get("_job")
        # Checked again in from_crawler: in distributed mode the arguments may
        # come from Redis instead.
        self.args = self._parse_args(raw, require_target=False)
        self.harvest_arguments = self.args.as_record()
        self.frontier: Frontier | None = None
        self.scheduled_posts: set[str] = set()
        self.skipped_posts: set[str] = set()  # known and not fetched (recently crawled)
        self.found_posts: set[str] = set()  # every post a listing named, once
        # Runs of this job that died, whose stored posts this crawl does not fetch again.
        self.resumed_runs: list[int] = []
        self.resume: ResumeState | None = None
        self.publication_domains: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> MediumSpider:
        spider: MediumSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        try:
            spider.urls = MediumUrls.from_base(config.value(settings, "MEDIUM_BASE_URL"))
        except BaseUrlError as exc:
            raise SpiderArgumentError(str(exc)) from None
        spider.browser = BrowserConfig.from_settings(settings)
        BROWSER_GUARD.configure(spider.refusal, crawler)
        spider.browser_on_challenge = config.value(settings, "HARVEST_BROWSER_ON_CHALLENGE")
        spider.parser = Parser.from_settings(settings)
        n = spider.parser.workers
        log.info(
            "parsing pages %s",
            "in the crawler itself" if n == 0 else f"in {n} child process{'es' if n > 1 else ''}",
        )
        spider.unparsed = unparsed.from_settings(settings)
        frontier_config = FrontierConfig.from_settings(settings)
        if frontier_config is None:
            spider._parse_args(spider._raw_args, require_target=True)
        else:
            try:
                spider._join_frontier(Frontier(frontier_config))
            except redis.RedisError as exc:
                raise StartupError(
                    f"cannot reach Redis at {mask_dsn(frontier_config.url)} "
                    f"({str(exc).strip() or type(exc).__name__}): start it, or unset "
                    "HARVEST_REDIS_URL to crawl without a shared frontier"
                ) from None
        if frontier_config is None:
            # A shared frontier survives a worker's death by itself (held requests
            # go back to the queue); a local job needs to know whether its last
            # crawl died before Scrapy opens the job's queue.
            spider._claim_job(settings)
        spider.discovery = GraphqlDiscovery(spider)
        return spider

    def _claim_job(self, settings: Any) -> None:
        jobdir = settings.get("JOBDIR")
        walks = config.value(settings, "HARVEST_WALKS_FILE")
        self.resume = resume.claim(Path(jobdir) if jobdir else None, Path(walks) if walks else None)
        if self.resume is None:
            return
        self.resumed_runs = list(self.resume.dead_runs)
        self.crawler.signals.connect(self._job_store_opened, signal=store_opened)
        self.crawler.signals.connect(self._job_closed, signal=signals.spider_closed)

    def _job_store_opened(self) -> None:
        if self.resume is not None:
            run_id = self.crawler.stats.get_value("harvest/db/run_id")
            self.resume.record_run(run_id if isinstance(run_id, int) else None)

    def _job_closed(self, spider: Any = None, reason: str = "") -> None:
        # Scrapy closed the scheduler (and persisted JOBDIR's queue) before this signal.
        if self.resume is not None:
            self.resume.release()

    @staticmethod
    def _parse_args(raw: dict[str, Any], *, require_target: bool, local: bool = True) -> CrawlArgs:
        try:
            return CrawlArgs.parse(raw, require_target=require_target, local=local)
        except SpiderArgumentError as exc:
            raise SpiderArgumentError(f"medium spider: {exc}") from None

    def _join_frontier(self, frontier: Frontier) -> None:
        """Distributed mode: the job's arguments live in Redis, shared by all workers.

        A worker started with arguments of its own makes them the job's (as
        `harvest enqueue` does); one started without takes the job's.
        """
        self.frontier = frontier
        if self.args.has_target:
            job = self.args.as_job(self._raw_args)  # urls_file read here, its URLs sent
            if frontier.job_args() != job:
                frontier.set_job(job)
            self.harvest_arguments = self.args.as_record()
        else:
            self._adopt_job_args()

    def _adopt_job_args(self) -> bool:
        assert self.frontier is not None
        raw = self.frontier.job_args()
        if raw is None:
            return False
        # What Redis says is the job, not this machine's: it names no local file.
        self.args = self._parse_args(raw, require_target=True, local=False)
        self.harvest_arguments = self.args.as_record()
        return True

    def frontier_adopt_job_args(self) -> None:
        """Called by the scheduler with each batch of requests it takes from Redis.

        A worker started without arguments may have looked for the job's before
        the first worker stored them; it must have them before it handles any
        of the job's pages, whose callbacks read them (sitemap range, since,
        depth, follow, limits).
        """
        if not self.args.has_target:
            self._adopt_job_args_or_say_why()

    async def frontier_seed_requests(self) -> AsyncIterator[scrapy.Request]:
        """Start requests of a job enqueued while this worker was waiting."""
        if self._adopt_job_args_or_say_why():
            async for request in self._start_requests():
                yield request

    def _adopt_job_args_or_say_why(self) -> bool:
        try:
            return self._adopt_job_args()
        except SpiderArgumentError as exc:
            # A job in Redis that is not a valid crawl: this worker keeps waiting.
            self.crawler.stats.inc_value("harvest/frontier/refused_job")
            log.error("refused the shared job's arguments: %s", exc)
            return False

    # -- offsite ------------------------------------------------------------------

    @property
    def use_browser(self) -> bool:
        """Chromium for listings: on unless HARVEST_BROWSER=0 or -a browser=0."""
        return self.browser.enabled and self.args.browser

    def learn_domain(self, host: str, *, share: bool = True) -> bool:
        """Medium named a post on ``host``: the publication's own domain, which the
        crawl may fetch from, unless it is no public name (an address, a local name)."""
        if host in self.publication_domains:
            return True
        if not is_public_hostname(host):
            self.crawler.stats.inc_value("harvest/posts/refused_host")
            log.warning("not fetching posts on %s: not a public host name", host[:100])
            return False
        self.publication_domains.add(host)
        if share and self.frontier is not None:
            self.frontier.add_domain(host)  # the other workers fetch its posts too
        return True

    def knows_publication_domain(self, host: str) -> bool:
        """Whether ``host`` is a publication domain this crawl (any of its workers) learnt."""
        if host in self.publication_domains:
            return True
        if self.frontier is not None and self.frontier.has_domain(host):
            return self.learn_domain(host, share=False)
        return False

    def refusal(self, url: str) -> str | None:
        """Why this crawl must not request ``url`` (None: it may); see MediumUrls.refusal."""
        return self.urls.refusal(url, self.publication_domains)

    # -- start --------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.resume is not None and self.resume.died:
            self.crawler.stats.set_value("harvest/resume/dead_runs", self.resume.dead_runs)
        if self.frontier is not None:
            # One worker per enqueued job seeds the shared queue; the others
            # only take from it. Seeds go to Redis at once rather than at the
            # pace this worker's own downloads would take them, so that every
            # worker has work from the start.
            if self.args.has_target and self.frontier.claim_seeding():
                async for request in self._start_requests():
                    self.crawler.engine.crawl(request)
                self.frontier.flush_releases()
            return
        async for request in self._start_requests():
            yield request

    async def _start_requests(self) -> AsyncIterator[scrapy.Request]:
        if self.args.history is not None:
            # GraphQL walks list the tags, users and publications, with their
            # listing pages as the fallback.
            async for request in self.discovery.walk_starts():
                yield request
        for page in self._start_pages():
            yield self.listing(page, depth=0)
        for url in self.args.urls:
            for request in await self.articles(
                [PostRef(post_id="", url=url)], depth=0, check=False
            ):
                yield request

    def _start_pages(self) -> list[str]:
        """The listing pages (without ``history``: with it, walks list them), feeds
        and sitemap index the crawl starts from."""
        a, u = self.args, self.urls
        pages = []
        if a.history is None:
            pages += [u.tag(t) for t in a.tags] + [u.profile(user) for user in a.users]
            pages += [u.publication(p) for p in a.publications]
        if a.feeds:
            pages += [u.tag_feed(t) for t in a.tags] + [u.user_feed(user) for user in a.users]
            pages += [u.publication_feed(p) for p in a.publications]
        if a.sitemap:
            pages.append(u.sitemap_index())
        return pages

    # -- requests -----------------------------------------------------------------

    def listing(self, medium_url: str, depth: int, *, browser: bool = False) -> scrapy.Request:
        meta: dict[str, Any] = {"medium_url": medium_url, "harvest_depth": depth}
        if browser:
            meta.update(browser_meta(include_page=True))
        return scrapy.Request(
            self.urls.fetch_url(medium_url),
            callback=self.parse_listing_browser if browser else self.parse_listing,
            errback=self.errback_close_page,
            meta=meta,
            dont_filter=browser,  # the same listing, once more, in the browser
        )

    async def articles(
        self, posts: Iterable[PostRef], depth: int, check: bool = True
    ) -> list[scrapy.Request]:
        """Requests for the posts not scheduled or skipped before; with ``check``,
        not those a store says were harvested recently or before a resume."""
        fresh = self._unseen(posts)
        out: list[Any] = []
        if check and fresh:
            fresh = await self._drop_known(fresh, depth, out)
        a = self.args
        for ref in fresh:
            key = _post_key(ref)
            if a.max_posts is not None and len(self.scheduled_posts) >= a.max_posts:
                self._skip(key, "harvest/posts/over_max_posts")
                continue
            self.scheduled_posts.add(key)
            if not a.articles:
                # Found, not fetched: the post's record is the item (for -o).
                self.crawler.stats.inc_value("harvest/posts/listed")
                out.append(ref)
                continue
            self.crawler.stats.inc_value("harvest/posts/scheduled")
            out.append(self._article(ref.url, depth))
        return out

    def _unseen(self, posts: Iterable[PostRef]) -> list[PostRef]:
        """The posts met for the first time, counted as found; those published
        before ``since`` skipped, those on a host the crawl may not learn left out."""
        fresh: list[PostRef] = []
        for ref in posts:
            key = _post_key(ref)
            if key in self.scheduled_posts or key in self.skipped_posts:
                continue
            self.found_posts.add(key)
            if self.args.published_before_since(ref.published_at):
                self._skip(key, "harvest/posts/skipped_before_since")
                continue
            host = host_of(ref.url)
            if host and not is_medium_host(host) and not self.learn_domain(host):
                continue
            fresh.append(ref)
        return fresh

    async def _drop_known(self, fresh: list[PostRef], depth: int, out: list[Any]) -> list[PostRef]:
        """``fresh`` without the posts a store harvested recently or stored before
        this crawl's resume (whose follow-ups go to ``out``)."""
        days = 0 if self.args.recrawl else self.args.recrawl_days
        if days <= 0 and not self.resumed_runs:
            return fresh
        known = await self._known_posts([r.post_id for r in fresh if r.post_id], days)
        for post_id, facts in known.items():
            if facts.get("why") == "resumed":
                # Stored by the dead run this crawl resumes: done, but its
                # follow-ups may not have been made before the death.
                self._skip(post_id, "harvest/posts/stored_before_resume")
                out.extend(self._follow_ups(facts.get("author"), facts.get("tags") or [], depth))
            else:
                self._skip(post_id, "harvest/posts/skipped_recent")
        return [r for r in fresh if r.post_id not in known]

    def _skip(self, key: str, stat: str) -> None:
        """A post found and deliberately not fetched (or not kept): counted once,
        under the first reason it met, however many listings name it."""
        if key in self.skipped_posts or key in self.scheduled_posts:
            return
        self.skipped_posts.add(key)
        self.crawler.stats.inc_value(stat)

    def _article(self, medium_url: str, depth: int) -> scrapy.Request:
        return scrapy.Request(
            self.urls.fetch_url(medium_url),
            callback=self.parse_article,
            errback=self.errback_close_page,
            meta={"medium_url": medium_url, "harvest_depth": depth},
        )

    def request_for(
        self,
        kind: str,
        medium_url: str,
        *,
        depth: int = 0,
        retry_times: int | None = None,
        browser_tries: int | None = None,
    ) -> scrapy.Request:
        """One of this spider's requests, rebuilt from a shared-queue entry's fields
        (harvest.frontier.schema): nothing of the entry's beyond them reaches it."""
        if kind == "listing":
            request = self.listing(medium_url, depth)
        elif kind == "listing_browser":
            request = self.listing(medium_url, depth, browser=True)
        elif kind == "article":
            request = self._article(medium_url, depth)
        elif kind == "article_browser":
            request = self._article_in_browser(self.urls.fetch_url(medium_url), medium_url, depth)
        elif kind == "walk":
            request = self.discovery.walk_request_for(medium_url)
        else:
            raise ValueError(f"no request of kind {kind!r}")
        if retry_times is not None:
            request.meta["retry_times"] = retry_times
            request.dont_filter = True  # a retry: its fingerprint is in the seen-set
        if browser_tries is not None:
            request.meta["harvest_browser_tries"] = browser_tries
        return request

    async def _known_posts(self, ids: list[str], days: int) -> dict[str, dict[str, Any]]:
        """The posts among ``ids`` a store says it harvested within ``days`` days or
        stored in a dead run this crawl resumes (signals.recent_posts)."""
        if not ids:
            return {}
        answers = await self.crawler.signals.send_catch_log_async(
            signal=recent_posts, post_ids=ids, days=days, runs=self.resumed_runs
        )
        found: dict[str, dict[str, Any]] = {}
        for _, answer in answers:
            if isinstance(answer, dict):
                found.update(answer)
        return found

    def _follow_ups(self, author: str | None, tags: list[str], depth: int) -> list[Any]:
        """The listings a post at ``depth`` leads to under -a follow."""
        if depth >= self.args.depth:
            return []
        out = []
        if "authors" in self.args.follow and author:
            out.append(self.listing(self.urls.profile(author), depth + 1))
        if "tags" in self.args.follow:
            out.extend(self.listing(self.urls.tag(tag), depth + 1) for tag in tags)
        return out

    async def closed(self, reason: str) -> None:
        # Distinct posts the listings named: each was fetched or skipped once. A
        # shared frontier's posts end on whichever worker takes them: no one
        # worker's count can add up, so none is given.
        if self.frontier is None:
            self.crawler.stats.set_value("harvest/posts/found", len(self.found_posts))
        discovery = getattr(self, "discovery", None)  # none if from_crawler failed
        if discovery is not None:
            discovery.close()
        await self.parser.aclose()

    # -- callbacks ----------------------------------------------------------------

    async def _extract(
        self, response: Response, body: bytes | str | None = None
    ) -> tuple[str, PageResult]:
        medium_url = response.meta.get("medium_url") or self.urls.medium_url(response.url)
        # The page is read at the address it came from: after a redirect (a
        # publication moved to its own domain) that is not the one asked for.
        page_url = self.urls.medium_url(response.url)
        ctype = response.headers.get("Content-Type")
        try:
            result = await self.parser.parse(
                response.body if body is None else body,
                page_url,
                ctype.decode("latin-1") if ctype else None,
                self._page_hosts(page_url),
            )
        except (ParserDied, ParserError) as exc:
            # A page that crashed the parser is exactly one to keep: the
            # callers record it as unparsed, with its raw HTML.
            self.crawler.stats.inc_value("harvest/parser/crashes")
            result = PageResult(kind="unknown", problems=[str(exc)])
        self.crawler.stats.inc_value(f"harvest/pages/{result.kind}")
        return medium_url, result

    def _page_hosts(self, page_url: str) -> list[str]:
        """Hosts the parser may take for Medium's: the mirror, and the page's own host
        when it is a publication domain the crawl learnt from Medium."""
        hosts = [h for h in (self.urls.mirror_host,) if h]
        host = host_of(page_url)
        if host and not is_medium_host(host) and self.knows_publication_domain(host):
            hosts.append(host)
        return hosts

    async def parse_listing(self, response: Response) -> AsyncIterator[Any]:
        medium_url, result = await self._extract(response)
        depth = response.meta.get("harvest_depth", 0)
        async for item in self._from_listing(result, medium_url, depth):
            yield item
        if result.kind == "unknown":
            reason = "; ".join(result.problems) or "not a listing"
            yield self.problem(medium_url, "unparsed", reason, response)
        if (
            self.use_browser
            and self.args.scroll > 0
            and result.kind in ("listing", "profile")
            and b'data-testid="post-preview"' in response.body
        ):
            yield self.listing(medium_url, depth, browser=True)

    async def parse_listing_browser(self, response: Response) -> AsyncIterator[Any]:
        page = response.meta["playwright_page"]
        medium_url = response.meta.get("medium_url") or self.urls.medium_url(response.url)
        # A crashed or hung browser must not stall the crawl: the whole scroll
        # has a deadline, and a failure retries the listing once in a fresh
        # page (scrapy-playwright restarts a browser that died) before it is
        # recorded. The server HTML's posts were taken already.
        b = self.browser
        budget = (
            b.navigation_timeout_ms
            + self.args.scroll * (b.scroll_pause_ms + b.scroll_wait_ms + 5_000)
        ) / 1000
        kind, reason, result = "failed", "", None
        try:
            html, landed = await asyncio.wait_for(self._scroll(page), timeout=budget)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(page.close(), timeout=5)
            reason = f"browser: {type(exc).__name__}: {str(exc).strip()[:300]}"
            self.crawler.stats.inc_value("harvest/browser/errors")
        else:
            if landed != response.url:
                # The page's own script took the tab elsewhere (a form, a refresh,
                # location=): what was read is not the listing.
                kind, reason = "unparsed", f"browser: the page navigated away to {landed[:200]}"
                self.crawler.stats.inc_value("harvest/browser/navigated_away")
            else:
                medium_url, result = await self._extract(response, html)
                if result.kind == "unknown":
                    kind = "unparsed"
                    reason = "browser: " + ("; ".join(result.problems) or "not a listing")
        if result is None or result.kind == "unknown":
            tries = response.meta.get("harvest_browser_tries", 0) + 1
            if tries <= 1:
                log.warning(
                    "listing %s failed in the browser (%s); trying once more", medium_url, reason
                )
                retry = self.listing(
                    medium_url, response.meta.get("harvest_depth", 0), browser=True
                )
                same_page(retry, response.request)
                retry.meta["harvest_browser_tries"] = tries
                # Once more with the tab kept on the listing: a navigation away is refused.
                retry.meta[BROWSER_PIN_META] = True
                # Playwright waits for the listing's load through a navigation that
                # never ends once a later one was aborted: the document is read
                # when it says it is ready (_scroll), not when goto says so.
                retry.meta["playwright_page_goto_kwargs"] = {"wait_until": "commit"}
                yield retry
                return
            log.error("listing %s failed in the browser: %s", medium_url, reason)
            if kind == "unparsed":
                self.crawler.stats.inc_value("harvest/pages/unparsed")
            yield PageProblem(url=medium_url, kind=kind, reason=reason)
            return
        async for item in self._from_listing(
            result, medium_url, response.meta.get("harvest_depth", 0)
        ):
            yield item

    async def _scroll(self, page: Any) -> tuple[str, str]:
        """Scroll a listing to its end: (its HTML, the URL the tab is on then)."""
        try:
            await page.wait_for_function(
                "document.readyState !== 'loading'",
                timeout=self.browser.navigation_timeout_ms,
                polling=100,
            )
            count = await page.evaluate(_CARD_COUNT_JS)
            unchanged = 0
            for _ in range(self.args.scroll):
                if (
                    self.args.max_posts is not None
                    and len(self.scheduled_posts) >= self.args.max_posts
                ):
                    break
                await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                # The next batch arrives when the network and the page say so, not
                # after a fixed pause: a slow batch is not the end of the listing.
                with contextlib.suppress(PlaywrightTimeoutError):
                    await page.wait_for_function(
                        _MORE_CARDS_JS,
                        arg=count,
                        timeout=self.browser.scroll_wait_ms,
                        polling=100,
                    )
                await page.wait_for_timeout(self.browser.scroll_pause_ms)
                now = await page.evaluate(_CARD_COUNT_JS)
                self.crawler.stats.inc_value("harvest/browser/scrolls")
                if now == count:
                    unchanged += 1
                    if unchanged >= 2:  # nothing new twice in a row: the end
                        break
                else:
                    unchanged = 0
                count = now
            return str(await page.content()), str(page.url)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(page.close(), timeout=5)

    async def _from_listing(
        self, result: PageResult, medium_url: str, depth: int
    ) -> AsyncIterator[Any]:
        for problem in result.problems:
            log.info("%s: %s", medium_url, problem)
        if result.kind == "unknown":
            self.crawler.stats.inc_value("harvest/pages/unparsed")
            log.warning("unparsed listing %s: %s", medium_url, "; ".join(result.problems))
        for sitemap in result.sitemaps:
            if self._sitemap_wanted(sitemap.url):
                yield self.listing(sitemap.url, depth)
        for request in await self.articles(result.posts, depth):
            yield request
        if result.kind == "profile" and result.links:
            owner = author_from_url(medium_url)
            if owner:
                yield ProfilePage(
                    username=owner, links=list(result.links), url=medium_url, links_normalized=True
                )

    def _sitemap_wanted(self, url: str) -> bool:
        if not self.args.sitemap:
            return False
        m = _SITEMAP_DAY_RE.search(url)
        if not m:
            return True  # a nested index: follow it
        day = date.fromisoformat(m.group(1))
        first, last = self.args.sitemap
        return first <= day <= last

    async def parse_article(self, response: Response) -> AsyncIterator[Any]:
        medium_url, result = await self._extract(response)
        art = result.article
        if result.kind != "article" or art is None or not art.post_id:
            yield self._not_an_article(response, medium_url, result)
            return
        if self.args.published_before_since(art.published_at):
            # Listed without a date, fetched, and older than since: skipped after all.
            self.scheduled_posts.discard(medium_url)
            self.scheduled_posts.discard(art.post_id)
            self._skip(art.post_id, "harvest/posts/skipped_before_since")
            return
        if art.publication and art.publication.domain:
            self.learn_domain(art.publication.domain)
        self.scheduled_posts.add(art.post_id)
        fetch = self._fetch_facts(response)
        status = fetched_status(art, medium_url, fetch.final_url)
        if art.facts.complete is not True:
            self.crawler.stats.inc_value(f"harvest/posts/{_completeness(art.facts.complete)}")
        yield ArticlePage(
            article=art,
            links=list(result.links),
            fetched_at=datetime.now(UTC),
            url=medium_url,
            links_normalized=True,
            fetch=fetch,
            status=status,
        )
        author = art.author.username if art.author else None
        for request in self._follow_ups(
            author, list(art.tags), response.meta.get("harvest_depth", 0)
        ):
            yield request

    def _not_an_article(
        self, response: Response, medium_url: str, result: PageResult
    ) -> scrapy.Request | PageProblem:
        """The page held no post: a try in the browser, where the server HTML
        was read; else the page is unparsed."""
        if self.use_browser and not response.meta.get("playwright"):
            self.crawler.stats.inc_value("harvest/pages/article_retried_in_browser")
            depth = response.meta.get("harvest_depth", 0)
            return self._article_in_browser(response.url, medium_url, depth)
        reason = "; ".join(result.problems) or f"not an article ({result.kind})"
        self.crawler.stats.inc_value("harvest/pages/unparsed")
        log.warning("unparsed article %s: %s", medium_url, reason)
        return self.problem(medium_url, "unparsed", reason, response)

    def _fetch_facts(self, response: Response) -> FetchFacts:
        headers = response.headers
        fulfilled = headers.get("medium-fulfilled-by")
        x_robots: list[str] = []
        for value in headers.getlist("X-Robots-Tag"):
            x_robots.extend(robots_tokens(value.decode("latin-1")))
        return FetchFacts(
            http_status=response.status,
            redirects=[self.urls.medium_url(u) for u in response.meta.get("redirect_urls", [])],
            final_url=self.urls.medium_url(response.url),
            fulfilled_by=fulfilled.decode("latin-1")[:200] if fulfilled else None,
            x_robots=list(dict.fromkeys(x_robots)),
        )

    def _gone(self, request: Any, url: str, failure: Any) -> PostGone | None:
        """A PostGone for an article that answered 404 or 410 (deleted, suspended)."""
        response = getattr(failure.value, "response", None)
        if response is None or request.callback != self.parse_article:
            return None
        status = gone_status(response.status, response.body)
        post_id = post_id_from_url(url)
        if status is None or post_id is None:
            return None
        return PostGone(post_id=post_id, url=url, status=status, http_status=response.status)

    async def parse_walk(self, response: Response) -> AsyncIterator[Any]:
        async for item in self.discovery.walk_answer(response):
            yield item

    async def errback_close_page(self, failure: Any) -> AsyncIterator[Any]:
        request = failure.request
        page = request.meta.get("playwright_page")
        if page is not None:
            with contextlib.suppress(Exception):  # the browser may be gone
                await asyncio.wait_for(page.close(), timeout=5)
        if failure.check(Postponed):
            return  # its host is paused; the gate sends it again when the pause ends
        self.crawler.signals.send_catch_log(signal=request_failed, request=request)
        if WALK_META in request.meta:
            async for item in self.discovery.walk_failed(failure):
                yield item
            return
        url = request.meta.get("medium_url") or request.url
        for item in self._page_failed(failure, request, url):
            yield item

    def _page_failed(self, failure: Any, request: Any, url: str) -> Iterator[Any]:
        """What a page's request that failed for good leaves: a problem of the
        kind its failure is, a try in the browser, or the post measured gone."""
        stats = self.crawler.stats
        if failure.check(Blocked):
            cause = "gave up on host" if failure.check(HostGivenUp) else "challenge"
            retry = self._in_browser_after_challenge(request, url) if cause == "challenge" else None
            if retry is not None:
                yield retry
                return
            stats.inc_value("harvest/requests/blocked")
            log.warning("blocked %s: %s", url, failure.value)
            yield PageProblem(url=url, kind="blocked", reason=str(failure.value), cause=cause)
        elif failure.check(HostUnreachable):
            # The host was reported once, when it was found unreachable.
            stats.inc_value("harvest/requests/failed")
            yield PageProblem(
                url=url, kind="failed", reason=str(failure.value), cause="unreachable"
            )
        elif failure.check(IgnoreRequest) and not getattr(failure.value, "response", None):
            yield self._refused(request, url, str(failure.value))
        elif (gone := self._gone(request, url, failure)) is not None:
            # Not a failure: the crawl measured that the post is no longer there.
            stats.inc_value(f"harvest/posts/gone/{gone.status}")
            log.info("%s: post %s (HTTP %d)", url, gone.status, gone.http_status)
            yield gone
        else:
            reason, cause = _failure_reason(failure)
            stats.inc_value("harvest/requests/failed")
            log.warning("failed %s: %s", url, reason)
            yield PageProblem(url=url, kind="failed", reason=reason, cause=cause)

    def _refused(self, request: Any, url: str, text: str) -> PageProblem:
        """A request harvest itself would not send (robots.txt, offsite), or a
        redirect to a host the crawl may not fetch."""
        if request.meta.get("redirect_urls"):
            # Medium's page sent us to a host the crawl may not fetch: not harvested.
            self.crawler.stats.inc_value("harvest/requests/failed")
            log.warning("failed %s: redirected to %s (%s)", url, request.url[:200], text)
            return PageProblem(
                url=url,
                kind="failed",
                reason=f"redirected to {request.url[:500]}: {text}",
                cause="redirected offsite",
            )
        cause = "robots.txt" if text == ROBOTS_REFUSAL else "offsite"
        self.crawler.stats.inc_value(f"harvest/requests/skipped/{cause}")
        log.info("skipped %s: %s", url, text)
        return PageProblem(url=url, kind="skipped", reason=text, cause=cause)

    def _in_browser_after_challenge(self, request: Any, url: str) -> scrapy.Request | None:
        """HARVEST_BROWSER_ON_CHALLENGE: a page plain HTTP got a challenge for, once in
        the browser (gave-up hosts and browser fetches are not tried again)."""
        if not self.browser_on_challenge or not self.use_browser or request.meta.get("playwright"):
            return None
        self.crawler.stats.inc_value("harvest/blocked/retried_in_browser")
        depth = request.meta.get("harvest_depth", 0)
        if request.callback == self.parse_article:
            return same_page(self._article_in_browser(request.url, url, depth), request)
        return same_page(self.listing(url, depth, browser=True), request)

    def _article_in_browser(self, fetch_url: str, medium_url: str, depth: int) -> scrapy.Request:
        return scrapy.Request(
            fetch_url,
            callback=self.parse_article,
            errback=self.errback_close_page,
            # Only harvest's own keys: Scrapy's (retry and redirect counts,
            # download latency) belong to the first fetch.
            meta={
                "medium_url": medium_url,
                "harvest_depth": depth,
                **browser_meta(include_page=False),
            },
            dont_filter=True,
        )

    def problem(self, url: str, kind: str, reason: str, response: Response) -> PageProblem:
        raw_path = None
        if self.unparsed is not None:
            ctype = response.headers.get("Content-Type")
            try:
                raw_path = str(
                    self.unparsed.save(
                        url, response.body, reason, ctype.decode("latin-1") if ctype else None
                    )
                )
            except OSError as exc:
                log.error("could not keep the unparsed page %s: %s", url, exc)
            else:
                self.crawler.stats.set_value("harvest/unparsed/dir", str(self.unparsed.root))
        return PageProblem(url=url, kind=kind, reason=reason, raw_path=raw_path)


def _post_key(ref: PostRef) -> str:
    """One key per post, however it was named (by id, or by a URL that holds it)."""
    return ref.post_id or post_id_from_url(ref.url) or ref.url


def _completeness(complete: bool | None) -> str:
    return "previews" if complete is False else "completeness_unknown"


def _failure_reason(failure: Any) -> tuple[str, str]:
    """(the reason a fetch failed for good, the cause it is counted under)."""
    exc = failure.value
    response = getattr(exc, "response", None)
    if response is not None:
        return f"HTTP {response.status}", f"HTTP {response.status}"
    text = str(exc).strip()
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:500], name
