"""The crawl's outcome extension: it counts every page's and post's end as the
crawl goes, decides the outcome at close (:func:`harvest.contract.tally.decide`),
sends it to the store (:data:`harvest.contract.signals.crawl_outcome`) and says it.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from scrapy import signals

from harvest.contract.signals import crawl_outcome
from harvest.contract.tally import (
    OUTCOME_STAT,
    POST_ENDS,
    Outcome,
    count_problem,
    decide,
    summary_lines,
)
from harvest.crawl.pages import ledger_of
from harvest.items import ArticlePage, PageProblem, PostGone, ProfilePage
from harvest.medium.records import PostRef
from harvest.medium.urls import post_id_from_url

log = logging.getLogger(__name__)

# Set by the crawl command when the log goes to the terminal: the summary is
# printed when the process ends instead of logged at close.
SUMMARY_AT_EXIT = False


def resume_command(argv: Sequence[str], jobdir: str | None) -> str:
    """The command that goes on with an interrupted crawl: the same one. With a
    JOBDIR Scrapy takes up its queue where it stopped; without one, the posts
    stored so far are skipped as harvested recently (recrawl_days)."""
    args = list(argv)
    if args and (args[0].endswith("scrapy") or args[0].endswith("scrapy/__main__.py")):
        # Scrapy takes its command's name out of sys.argv before it runs it.
        args[0:1] = ["scrapy"] if args[1:2] == ["crawl"] else ["scrapy", "crawl"]
    command = shlex.join(args)
    if jobdir:
        return command
    return f"{command}   (with -s JOBDIR=DIR next time, the queue itself is kept)"


class CrawlOutcome:
    """Counts every page's end, decides the outcome at close, records and says it."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.outcome: Outcome | None = None
        self.summary: list[str] = []
        self.level = logging.INFO
        self._post_ends: dict[str, str] = {}  # post id -> how its fetch ended
        self.pages = ledger_of(crawler)
        sig = crawler.signals
        sig.connect(self._scraped, signal=signals.item_scraped)
        sig.connect(self._scheduled, signal=signals.request_scheduled)
        sig.connect(self._error, signal=signals.item_error)
        sig.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlOutcome:
        return cls(crawler)

    def _scraped(self, item: Any, response: Any = None, **kwargs: Any) -> None:
        self.pages.end_of_item(item, response)
        if isinstance(item, PageProblem):
            count_problem(self.stats, item)
            post_id = post_id_from_url(item.url)
            if post_id and item.kind in POST_ENDS:
                self._post_end(post_id, item.kind)
        elif isinstance(item, (ArticlePage, ProfilePage)):
            self.stats.inc_value(f"{OUTCOME_STAT}pages")
            if isinstance(item, ArticlePage) and item.article.post_id:
                self._post_end(item.article.post_id, "harvested")
        elif isinstance(item, PostGone):
            self._post_end(item.post_id, "harvested")  # its status is what was to know
        elif isinstance(item, PostRef):
            self._post_end(item.post_id or item.url, "harvested")  # articles=0: listed

    def _scheduled(self, request: Any, **kwargs: Any) -> None:
        self.pages.hand_back(request)

    def _post_end(self, post_id: str, end: str) -> None:
        """One end per post: the best it reached (a post that failed once and was
        harvested on its retry is harvested)."""
        now = self._post_ends.get(post_id)
        if now is None or POST_ENDS.index(end) < POST_ENDS.index(now):
            self._post_ends[post_id] = end

    def _error(self, item: Any, **kwargs: Any) -> None:
        self.stats.inc_value(f"{OUTCOME_STAT}item_errors")

    async def _closed(self, spider: Any = None, reason: str = "finished") -> None:
        for end, n in Counter(self._post_ends.values()).items():
            self.stats.set_value(f"harvest/posts/ended/{end}", n)
        for key, n in self.pages.counts().items():
            self.stats.set_value(key, n)
        if reason == "shutdown":
            self.stats.set_value(
                f"{OUTCOME_STAT}interrupted",
                resume_command(sys.argv, self.crawler.settings.get("JOBDIR")),
            )
        stats = self.stats.get_stats()
        outcome = decide(stats, reason)
        self.outcome = outcome
        self.stats.set_value(f"{OUTCOME_STAT}status", outcome.status)
        self.stats.set_value(f"{OUTCOME_STAT}exit_code", outcome.exit_code)
        await self.crawler.signals.send_catch_log_async(signal=crawl_outcome, outcome=outcome)
        self.summary = summary_lines(self.stats.get_stats(), outcome, self._host_lines())
        self.level = {
            "finished": logging.INFO,
            "finished_with_failures": logging.WARNING,
            "blocked": logging.WARNING,
            "failed": logging.ERROR,
        }[outcome.status]
        if SUMMARY_AT_EXIT:
            # The command prints it once the crawl is over, after Scrapy's own
            # closing lines (its stats dump): the last thing on the screen.
            log.debug("%s", "\n".join(self.summary))
        else:
            log.log(self.level, "%s", "\n".join(self.summary))

    def _host_lines(self) -> list[str]:
        from harvest.crawl.hostgate import HostGateMiddleware

        try:
            gate = self.crawler.get_downloader_middleware(HostGateMiddleware)
        except RuntimeError:  # the engine never started
            return []
        return gate.report() if gate is not None else []
