"""harvest's own Scrapy signals: how the spider, the store and the frontier talk
without importing each other."""

# Sent by the PostgreSQL pipeline once a batch is committed, with items=[...]:
# only then is a page safe from a crash of this process.
items_stored = object()

# Sent by a store when it opens: from now on it sends items_stored for every
# item it takes, so an item is done when stored, not when scraped.
store_opened = object()

# Sent by the spider when a request failed for good (its errback ran and no
# retry follows), with request=Request.
request_failed = object()

# Sent (awaited) by the spider before it schedules posts, with post_ids=[...],
# days=N (0: none is recent) and runs=[run ids of dead runs this crawl resumes];
# a store answers {post_id: {"why": "recent" | "resumed", "author", "tags"}} for
# those it harvested within the last N days or stored in one of those runs,
# which the spider does not fetch again (a resumed post's follow-ups it still
# makes). Answers are united; no store, no skip.
recent_posts = object()

# Sent by harvest.crawl.outcome.CrawlOutcome when the spider closes, with
# outcome=Outcome: the store records the status in the crawl's run row.
crawl_outcome = object()

# Sent (awaited) by the spider before its GraphQL walks start, with walks=[walk
# URL, ...]; a store answers {walk: {"newest": ISO time, "walked_at": datetime}}
# for those an earlier crawl walked to their end (it records no other), so a
# recrawl lists only what is newer. No store, no marks: everything is walked.
walk_marks = object()

# Sent by the spider when a GraphQL walk reached its end, with walk=WalkDone; a
# store records it when the crawl ends with every page harvested. Not an item:
# an -o file holds the crawl's records of one kind (articles, or listed posts).
walk_done = object()
