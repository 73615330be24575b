"""The words harvest's answers use, each declared once with what it means: the
CLI's options and tables, the exports, the report, the explorer and the SQL
views' column comments all take them from here.

Below every room (the database, the analysis, the explorer and the CLI read it;
it imports nothing of harvest's).
"""

from __future__ import annotations

# Where on the page a link stands (link_placement, migration 0006).
PLACEMENTS = {
    "body": "in the post's text",
    "caption": "in a figure's caption",
    "link_card": "a link card (an embedded preview of the page)",
    "author_bio": "in the author's bio under the post",
}

# What a link's rel says, as a class a filter can name.
REL_CLASSES = {
    "dofollow": "none of nofollow, ugc or sponsored",
    "nofollow": "rel nofollow",
    "ugc": "rel ugc (user-generated content)",
    "sponsored": "rel sponsored",
}

# The verdict per link (link_verdict, migration 0005): "follow" passes value,
# anything else is the first reason it does not. README.md has the rules.
REASONS = {
    "follow": "passes value: a followed anchor on an indexable page Medium still serves",
    "nofollow": "the anchor says nofollow",
    "ugc": "the anchor says ugc (user-generated content)",
    "sponsored": "the anchor says sponsored",
    "page_noindex": "the page is noindex (robots meta or X-Robots-Tag)",
    "page_nofollow": "the page is nofollow (robots meta or X-Robots-Tag)",
    "canonical_elsewhere": "the canonical is off Medium (a cross-post): value goes to that page",
    "preview_only": "member-only: not in the preview a logged-out reader or crawler gets",
    "lost": "no longer on the post",
    "post_deleted": "the post was deleted",
    "post_suspended": "the post's account was suspended",
}

# Every field name harvest's answers use (the CLI's json and csv, the exports,
# the report's JSON, the explorer's tables and the SQL views), with what it
# means. Counts end in _links (or are posts, authors, ...), shares in _share
# (fractions); rel is an array; placement is where on the page, location the
# stored part of the page (body or author_bio) it is kept under.
FIELDS = {
    # a link
    "target_url": "the link's target, normalized (WHATWG parsing, default ports, fragments off)",
    "target_url_raw": "the href as the page wrote it",
    "domain": "the target's registered domain (public suffix list)",
    "host": "the target's host",
    "anchor_text": "the link's text",
    "rel": "the link's rel tokens (an array; space-separated in CSV)",
    "nofollow": "the link says rel nofollow",
    "ugc": "the link says rel ugc",
    "sponsored": "the link says rel sponsored",
    "dofollow": "the link says none of nofollow, ugc, sponsored",
    "placement": "where on the page: " + ", ".join(PLACEMENTS),
    "location": "the part of the page the link is stored under: body or author_bio",
    "kind": "how the link is drawn: text, link_card, image, ...",
    "block": "the kind of block the link stands in (paragraph, caption, quote, ...)",
    "position": "the link's place among its post's links",
    "passes": "the link passes value (its reason is follow)",
    "reason": "the verdict: follow, or the first reason the link passes no value",
    "first_seen": "when harvest first saw the link",
    "last_seen": "when harvest last saw the link",
    "lost_at": "when a recrawl found the link gone (empty while it is live)",
    # a post
    "post_id": "Medium's id of the post (hex)",
    "post_url": "the post's canonical address",
    "post_title": "the post's title",
    "post_status": "live, deleted or suspended",
    "post_status_at": "when the post's status was last seen",
    "post_access": "public, or member_only",
    "post_complete": "the whole post was read (not a member-only preview)",
    "page_robots": "the page's robots directives (meta and X-Robots-Tag)",
    "robots": "the page's robots meta directives",
    "x_robots": "the page's X-Robots-Tag directives",
    "canonical_elsewhere": "the post's canonical is off Medium (a cross-post)",
    "first_published_at": "when Medium says the post was first published",
    "last_crawled_at": "when harvest last fetched the post",
    "tags": "the post's tags (slugs)",
    "word_count": "the post's length in words",
    "language": "the post's language",
    "claps": "claps on the post",
    "responses": "responses to the post",
    "author_followers": "the author's followers",
    "publication_followers": "the publication's followers",
    # who
    "author": "the author's Medium username",
    "author_name": "the author's display name",
    "publication": "the publication's key: its slug, or its own domain",
    "publication_name": "the publication's name",
    "publication_domain": "the publication's own domain",
    "tag": "a tag's slug",
    # counts and shares
    "links": "live links",
    "nofollow_links": "live links with rel nofollow",
    "ugc_links": "live links with rel ugc",
    "sponsored_links": "live links with rel sponsored",
    "dofollow_links": "live links with none of nofollow, ugc, sponsored",
    "passing_links": "links that pass value (reason follow)",
    "lost_links": "links a recrawl found gone",
    "new_links": "links first seen in the month",
    "new_dofollow_links": "dofollow links first seen in the month",
    "lost_dofollow_links": "dofollow links found gone in the month",
    "posts": "posts with such links",
    "authors": "authors of those posts",
    "publications": "publications of those posts",
    "domains": "target domains (intersect: how many of the competitors' domains)",
    "linked_domains": "which of the competitors' domains it links to",
    "nofollow_share": "nofollow links / links",
    "ugc_share": "ugc links / live links",
    "sponsored_share": "sponsored links / live links",
    "dofollow_share": "dofollow links / links",
    "passing_share": "links that pass value / links",
    "month": "a calendar month (its first day)",
    "year": "the year the posts were first published",
    "dimension": "what a rel_summary row groups by: publication or tag",
    "value": "the publication or tag a rel_summary row is for",
    # the graph export
    "source": "a graph edge's source (publication:KEY or author:USERNAME); in a report, "
    "where its numbers came from (summaries or links)",
    "target": "a graph edge's target (a domain or host)",
    # runs and failures
    "run_id": "a crawl run's number",
    "spider": "the spider that ran",
    "status": "a run's outcome: running, finished, finished_with_failures, blocked, failed, died",
    "started_at": "when the run started",
    "finished_at": "when the run finished",
    "progress_at": "when the run last recorded its progress",
    "arguments": "the spider arguments the run was given",
    "counts": "the run's counters (pages, posts, links, failures by kind)",
    "pages": "pages stored",
    "url": "the page's address",
    "at": "when it happened",
    "raw_path": "where the page's raw body was kept for reparse",
    # the search box
    "name": "a domain, author, publication or tag's name",
    "label": "how the name is shown",
    # the report's sections and header
    "generated_at": "when the report was made",
    "filters": "what the report was narrowed to",
    "crawled_from": "the mirrors or simulators the runs fetched from instead of Medium",
    "crawled_tags": "the tags the runs walked (other tags' rows are partial)",
    "not_counted_yet": "stored link changes the summaries had not counted yet",
    "overall": "the totals of the matching live links",
    "verdict": "what the links are worth: passing links and the reasons the others fail",
    "by_reason": "links by verdict reason",
    "dofollow_by_reason": "dofollow links by verdict reason",
    "by_year": "links by year first published",
    "by_placement": "links by placement",
    "by_publication": "links by publication",
    "by_tag": "links by tag",
    "top_domains": "the most linked domains",
    "dofollow_exceptions": "dofollow links that pass no value, and where",
    "by_publication_and_placement": "dofollow links by publication and placement",
    "placements": "the placements a post's dofollow links stand in",
    "backlinks": "the first backlinks to the domain",
    "groupings": "a domain's anchors, target pages, referrers, and new and lost links by month",
    "anchors": "links grouped by anchor text",
    "targets": "links grouped by target page",
    "months": "new and lost links by month",
    "why_not_passing": "links that pass no value, by reason",
    "runs": "the most recent crawl runs",
    "since": "links first seen on or after this day",
    "until": "links first seen on or before this day",
    "published_since": "posts first published on or after this day",
    "published_until": "posts first published on or before this day",
}
