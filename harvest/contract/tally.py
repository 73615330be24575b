"""A crawl's outcome: decided once, from the crawl's own counts, and said plainly.

Every page the crawl found ends one way: harvested (stored), deliberately
skipped (robots.txt, ``since``, harvested recently, over ``max_posts``), or not
harvested: failed, unparsed, blocked, dropped, lost to a callback error or
never fetched because the crawl stopped. :func:`decide` turns those counts and
Scrapy's close reason into one status:

========================  ====  ================================================
status                    exit  when
========================  ====  ================================================
finished                  0     every page found was harvested or skipped
failed                    1     the crawl could not do its job: the database was
                                unreachable, pages could not be stored, nothing
                                was reachable, or it stopped before its end
(usage)                   2     a wrong spider argument or setting; nothing ran
finished_with_failures    3     some pages failed, were unparsed or blocked
blocked                   4     Medium blocked the crawl (the breaker gave up on
                                a host, or every page fetched was a challenge)
========================  ====  ================================================

The status goes to the process exit status (``harvest.crawl.commands.crawl``),
the ``crawl_runs`` row (the store listens to :data:`harvest.contract.signals.crawl_outcome`)
and the summary printed at the end (:func:`summary_lines`). The extension that
counts and decides as the crawl goes is :mod:`harvest.crawl.outcome`; this module
is arithmetic on the stats alone, for the store to decide the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harvest.items import PageProblem

EXIT_CODES = {"finished": 0, "failed": 1, "finished_with_failures": 3, "blocked": 4}
USAGE_EXIT = 2
# Close reasons that end a crawl on purpose (CLOSESPIDER_* limits included).
_DELIBERATE = ("finished",)
OUTCOME_STAT = "harvest/outcome/"
# Pages: each found once (harvest.crawl.pages) and ending one of these ways.
PAGE_ENDS = ("harvested", "skipped", "failed", "blocked", "unparsed")
FOUND_STAT = "harvest/pages/found"
ENDED_STAT = "harvest/pages/ended/"
# Why a found post was not fetched: each distinct post is counted under one of
# these (the spider's _skip), in this order of words.
POST_SKIPS = (
    ("harvest/posts/skipped_recent", "harvested recently"),
    ("harvest/posts/stored_before_resume", "stored before the resume"),
    ("harvest/posts/skipped_before_since", "published before since"),
    ("harvest/posts/over_max_posts", "over max_posts"),
)
# How a fetched post ended, best first: each distinct post is counted under one.
POST_ENDS = ("harvested", "blocked", "unparsed", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    why: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def _count(stats: Mapping[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, (int, float)) else 0


def _by_cause(stats: Mapping[str, Any], kind: str) -> dict[str, int]:
    prefix = f"{OUTCOME_STAT}{kind}/"
    return {
        k[len(prefix) :]: _count(stats, k)
        for k in sorted(stats)
        if isinstance(k, str) and k.startswith(prefix)
    }


def posts_without_end(stats: Mapping[str, Any]) -> int:
    """Posts found and fetched that reached no end: neither stored nor recorded as
    failed, unparsed, blocked or skipped. Whatever lost them (a dropped item, a
    callback error, a request never sent), they were not harvested."""
    found = _count(stats, "harvest/posts/found")
    if not found:
        return 0
    skipped = sum(_count(stats, key) for key, _ in POST_SKIPS)
    ended = sum(_count(stats, f"harvest/posts/ended/{end}") for end in POST_ENDS)
    return max(0, found - skipped - ended)


def pages_without_end(stats: Mapping[str, Any]) -> int:
    """Pages this process found (took from the scheduler last) that reached no end
    (harvest.crawl.pages): a callback error, or the crawl stopped with them in flight."""
    found = _count(stats, FOUND_STAT)
    ended = sum(_count(stats, ENDED_STAT + end) for end in PAGE_ENDS)
    return max(0, found - ended)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True, slots=True)
class Counts:
    """The counts an outcome is decided on, read from the crawl stats."""

    harvested: int
    failed: int
    unparsed: int
    blocked: int
    unreachable: int
    lost: int  # dropped items, item and callback errors, pages never fetched
    not_stored: int
    gave_up: int

    @classmethod
    def of(cls, stats: Mapping[str, Any]) -> Counts:
        c = _count
        if "harvest/db/run_id" in stats:
            harvested = c(stats, "harvest/db/pages") + c(stats, "harvest/db/profiles")
        else:
            harvested = c(stats, f"{OUTCOME_STAT}pages")
        return cls(
            harvested=harvested,
            failed=c(stats, f"{OUTCOME_STAT}failed"),
            unparsed=c(stats, f"{OUTCOME_STAT}unparsed"),
            blocked=c(stats, f"{OUTCOME_STAT}blocked"),
            unreachable=c(stats, f"{OUTCOME_STAT}failed/unreachable"),
            lost=max(
                c(stats, "item_dropped_count")
                + c(stats, f"{OUTCOME_STAT}item_errors")
                + c(stats, "spider_exceptions/count")
                + c(stats, "harvest/hosts/abandoned"),
                posts_without_end(stats),
                pages_without_end(stats),
            ),
            not_stored=c(stats, "harvest/db/pages_not_stored"),
            gave_up=c(stats, "harvest/hosts/gave_up"),
        )

    @property
    def problems(self) -> int:
        return self.failed + self.unparsed + self.lost


def decide(stats: Mapping[str, Any], reason: str) -> Outcome:
    """The outcome of a crawl with these stats that closed for ``reason``."""
    n = Counts.of(stats)
    stopped = _stopped(n, reason)
    if stopped is not None:
        return stopped
    nothing = _nothing_harvested(n)
    if nothing is not None:
        return nothing
    if n.problems or n.blocked:
        return _with_failures(n)
    return Outcome("finished", "every page found was harvested or deliberately skipped")


def _stopped(n: Counts, reason: str) -> Outcome | None:
    """A crawl that failed whatever its pages say: no database, pages it could not
    store, or a stop before its end."""
    if reason == "database_unavailable":
        return Outcome("failed", "the database was unreachable when the crawl started")
    if n.not_stored:
        return Outcome("failed", f"{_plural(n.not_stored, 'harvested page')} could not be stored")
    if reason == "shutdown":
        return Outcome("failed", "interrupted (Ctrl-C or a stop signal) before its end")
    if reason not in _DELIBERATE and not reason.startswith("closespider_"):
        return Outcome("failed", f"the crawl stopped before its end ({reason})")
    return None


def _nothing_harvested(n: Counts) -> Outcome | None:
    """Medium blocked the crawl (the breaker gave up on a host, or nothing but
    challenges came back), or no page was reachable at all."""
    if n.gave_up or (n.harvested == 0 and n.blocked and not n.problems):
        hosts = f"gave up on {_plural(n.gave_up, 'host')}; " if n.gave_up else ""
        return Outcome(
            "blocked", f"Medium blocked the crawl: {hosts}{_plural(n.blocked, 'page')} blocked"
        )
    only_unreachable = n.failed and n.unreachable == n.failed
    if n.harvested == 0 and only_unreachable and not (n.unparsed or n.lost or n.blocked):
        return Outcome("failed", "nothing was reachable: every page failed to connect")
    return None


def _with_failures(n: Counts) -> Outcome:
    parts = [
        f"{count} {word}"
        for count, word in (
            (n.failed, "failed"),
            (n.unparsed, "unparsed"),
            (n.blocked, "blocked"),
            (n.lost, "lost"),
        )
        if count
    ]
    return Outcome(
        "finished_with_failures",
        f"{_plural(n.problems + n.blocked, 'page')} not harvested: {', '.join(parts)}",
    )


_HEADLINES = {
    "finished": "crawl finished",
    "finished_with_failures": "crawl finished with failures",
    "blocked": "crawl blocked",
    "failed": "crawl failed",
}


def _causes(stats: Mapping[str, Any], kind: str) -> str:
    causes = _by_cause(stats, kind)
    return ", ".join(f"{cause} ×{n}" for cause, n in causes.items())


def summary_lines(
    stats: Mapping[str, Any], outcome: Outcome, host_lines: Sequence[str] = ()
) -> list[str]:
    """The end-of-crawl summary: what was harvested, what was not and why, where it went."""
    n = Counts.of(stats)
    lines = [
        f"{_HEADLINES[outcome.status]} (exit status {outcome.exit_code}): {outcome.why}",
    ]
    lines.extend(_harvested(stats, n))
    said = (
        ("discovery", _discovery(stats)),
        ("posts", _post_statuses(stats)),
        ("browser", _browser(stats)),
        ("fetched", _fetchers(stats)),
    )
    lines.extend(f"  {label}: {text}" for label, text in said if text)
    lines.extend(_pages(stats))
    lines.extend(_found_and_skipped(stats))
    if n.problems or n.blocked:
        lines.append("  not harvested: " + "; ".join(_not_harvested(stats, n)))
    lines.extend(f"  host: {line}" for line in host_lines)
    where = stats.get("harvest/db/where")
    run_id = stats.get("harvest/db/run_id")
    if where:
        lines.append(f"  data: {where}" + (f" (run {run_id})" if run_id is not None else ""))
    kept = stats.get("harvest/unparsed/dir")
    if kept:
        lines.append(f"  unparsed pages kept in {kept} (harvest reparse)")
    if run_id is not None:
        lines.append(f"  next: harvest crawl-report {run_id}")
    if stats.get(f"{OUTCOME_STAT}interrupted"):
        lines.append(f"  resume: {stats[f'{OUTCOME_STAT}interrupted']}")
    return lines


def _harvested(stats: Mapping[str, Any], n: Counts) -> list[str]:
    """What was stored: pages, posts, profiles and links."""
    c = _count
    if "harvest/db/run_id" not in stats:
        if "harvest/db/unavailable" in stats:
            return []
        return [f"  harvested: {_plural(n.harvested, 'page')} (not stored: no database)"]
    posts_new, posts_again = (
        c(stats, "harvest/db/posts_new"),
        c(stats, "harvest/db/posts_recrawled"),
    )
    profiles = c(stats, "harvest/db/profiles")
    links_new, links_seen = c(stats, "harvest/db/links_new"), c(stats, "harvest/db/links_seen")
    return [
        f"  harvested: {_plural(n.harvested, 'page')} "
        f"({_plural(posts_new + posts_again, 'post')}: {posts_new} new, "
        f"{posts_again} recrawled; {_plural(profiles, 'profile')})",
        f"  links: {c(stats, 'harvest/db/links')} stored ({links_new} new, "
        f"{links_seen} seen again), {c(stats, 'harvest/db/links_lost')} lost",
    ]


def _not_harvested(stats: Mapping[str, Any], n: Counts) -> list[str]:
    parts = []
    for kind, count in (("failed", n.failed), ("unparsed", n.unparsed), ("blocked", n.blocked)):
        if count:
            causes = _causes(stats, kind)
            parts.append(f"{kind} {count}" + (f" ({causes})" if causes else ""))
    if n.lost:
        parts.append(f"lost {n.lost} (dropped, errors, or never fetched)")
    return parts


def _end_parts(stats: Mapping[str, Any], prefix: str, ends: Sequence[str], lost: int) -> list[str]:
    """Each end reached, as "N end" (counted under ``prefix``), and what reached none."""
    parts = [f"{n} {end}" for end in ends if (n := _count(stats, prefix + end))]
    if lost:
        parts.append(f"{lost} lost (no end reached)")
    return parts


def _pages(stats: Mapping[str, Any]) -> list[str]:
    """Distinct pages fetched (listings, walks, profiles, posts) and how each ended."""
    found = _count(stats, FOUND_STAT)
    if not found:
        return []
    parts = _end_parts(stats, ENDED_STAT, PAGE_ENDS, pages_without_end(stats))
    ends = " + ".join(parts) or "none ended"
    return [f"  pages: {_plural(found, 'distinct page')} sent = {ends}"]


def _found_and_skipped(stats: Mapping[str, Any]) -> list[str]:
    """How many distinct posts the listings named, and what was not fetched and why."""
    c = _count
    lines = []
    posts_skipped = [(c(stats, key), what) for key, what in POST_SKIPS]
    skipped = [
        *posts_skipped,
        *((count, f"by {cause}") for cause, count in _by_cause(stats, "skipped").items()),
    ]
    found = c(stats, "harvest/posts/found")
    if found:
        # Distinct posts: each counted once, under the first thing that happened
        # to it, so found = skipped + each way a fetch ended (+ what no end reached).
        fetched = found - sum(n for n, _ in posts_skipped)
        parts = _end_parts(stats, "harvest/posts/ended/", POST_ENDS, posts_without_end(stats))
        lines.append(
            f"  found: {_plural(found, 'distinct post')} = {found - fetched} skipped + "
            f"{fetched} fetched ({', '.join(parts) or 'none ended'})"
        )
    if any(count for count, _ in skipped):
        lines.append(
            "  skipped: " + ", ".join(f"{count} {what}" for count, what in skipped if count)
        )
    return lines


def _discovery(stats: Mapping[str, Any]) -> str:
    """Which path the listings took: GraphQL walks, and what fell back to pages and why."""
    c, d = _count, "harvest/discovery/"
    requests = c(stats, f"{d}graphql/requests")
    fallbacks = {cause: _count(stats, k) for cause, k in _under(stats, f"{d}fallback/")}
    if not requests and not fallbacks:
        return ""
    parts = [
        f"GraphQL {_plural(c(stats, f'{d}graphql/posts'), 'post')} in "
        f"{_plural(requests, 'request')}, {_plural(c(stats, f'{d}walks/complete'), 'walk')} "
        "complete"
    ]
    for key, what in (
        ("walks/over_budget", "stopped at walk_pages"),
        ("walks/stalled", "stopped where the listing did not move"),
        ("walks/unfinished", "unfinished"),
        ("walks/skipped_walked", "skipped (walked whole before)"),
        ("walks/reached_last_seen", "stopped at the last crawl's newest"),
        ("graphql/pages_repeated", "pages answered twice (resumed)"),
        ("resumed_posts", "posts found before a resume"),
        ("walks/refused_lines", "walks-file lines refused"),
    ):
        if c(stats, d + key):
            parts.append(f"{c(stats, d + key)} {what}")
    if fallbacks:
        parts.append(
            "fell back to listing pages: "
            + ", ".join(f"{cause} ×{n}" for cause, n in fallbacks.items())
        )
    off = [f"{host} ({stats[k]})" for host, k in _under(stats, f"{d}graphql_off/")]
    if off:
        parts.append("GraphQL off for " + "; ".join(off))
    return "; ".join(parts)


def _under(stats: Mapping[str, Any], prefix: str) -> list[tuple[str, str]]:
    """(the rest of the key, the key) of every stat under ``prefix``, in order."""
    return [
        (k[len(prefix) :], k) for k in sorted(stats) if isinstance(k, str) and k.startswith(prefix)
    ]


# What the browser's pages were refused, by where it was stopped: in the page
# (Playwright's route) or on the way out (the egress proxy, harvest.crawl.egress).
_BROWSER_REFUSALS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("harvest/browser/aborted/", "stopped in the page", frozenset({"resource"})),
    ("harvest/browser/refused/", "refused at the proxy", frozenset()),
)


def _browser(stats: Mapping[str, Any]) -> str:
    """What pages tried to reach off Medium from the crawl's browser, and where it stopped."""
    parts = []
    for prefix, where, quiet in _BROWSER_REFUSALS:
        causes = {
            k[len(prefix) :]: _count(stats, k)
            for k in sorted(stats)
            if isinstance(k, str) and k.startswith(prefix) and k[len(prefix) :] not in quiet
        }
        if causes:
            total = sum(causes.values())
            listed = ", ".join(f"{cause} ×{n}" for cause, n in causes.items())
            parts.append(f"{_plural(total, 'request')} {where} ({listed})")
    return "; ".join(parts)


_FETCHERS = (
    ("impersonate", "curl_cffi (a browser's fingerprint)"),
    ("zyte", "Zyte API"),
    ("browser", "the browser"),
)


def _fetchers(stats: Mapping[str, Any]) -> str:
    """Which client fetched how many requests, when it is not Scrapy's own alone
    (harvest.crawl.fetchers counts them)."""
    counts = ((_count(stats, f"harvest/fetch/{name}"), who) for name, who in _FETCHERS)
    return ", ".join(f"{_plural(n, 'request')} by {who}" for n, who in counts if n)


def _post_statuses(stats: Mapping[str, Any]) -> str:
    """What the pages said about their posts: gone, or read only in part."""
    prefix = "harvest/posts/gone/"
    parts = [
        f"{_count(stats, k)} {k[len(prefix) :]}"
        for k in sorted(stats)
        if isinstance(k, str) and k.startswith(prefix)
    ]
    previews = _count(stats, "harvest/posts/previews")
    if previews:
        parts.append(f"{previews} member-only previews (links below the cut kept, not lost)")
    unknown = _count(stats, "harvest/posts/completeness_unknown")
    if unknown:
        parts.append(f"{unknown} locked with no word count (nothing marked lost)")
    return ", ".join(parts)


def count_lines(counts: Mapping[str, Any]) -> list[tuple[str, int]]:
    """A run's counts as ``harvest crawl-report`` lists them: posts found, skipped
    and how each fetched post ended; pages sent and how each ended; what was lost."""
    c = _count
    lines = [("posts found", c(counts, "harvest/posts/found"))]
    lines += [(f"posts skipped: {what}", c(counts, key)) for key, what in POST_SKIPS]
    lines += [(f"posts fetched: {e}", c(counts, f"harvest/posts/ended/{e}")) for e in POST_ENDS]
    lines.append(("posts fetched: lost", posts_without_end(counts)))
    lines.append(("pages stored", c(counts, "harvest/db/pages")))
    lines.append(("pages sent", c(counts, FOUND_STAT)))
    lines += [(f"pages sent: {end}", c(counts, ENDED_STAT + end)) for end in PAGE_ENDS]
    lines.append(("pages sent: lost", pages_without_end(counts)))
    prefix = "harvest/outcome/skipped/"
    lines += [
        (f"pages skipped: {key[len(prefix) :]}", c(counts, key))
        for key in sorted(k for k in counts if k.startswith(prefix))
    ]
    return lines


def count_problem(stats: Any, problem: PageProblem) -> None:
    """Count a page that was not harvested where the outcome reads it."""
    stats.inc_value(f"{OUTCOME_STAT}{problem.kind}")
    stats.inc_value(f"{OUTCOME_STAT}{problem.kind}/{problem_cause(problem)}")


def problem_cause(problem: PageProblem) -> str:
    """The short cause a problem is counted under (its reason without detail)."""
    if problem.cause:
        return problem.cause
    return problem.reason.split(":", 1)[0].strip()[:60] or problem.kind
