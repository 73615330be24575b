"""harvest's own Scrapy signals."""

# Sent by the PostgreSQL pipeline once a batch is committed, with items=[...]:
# only then is a page safe from a crash of this process.
items_stored = object()

# Sent by harvest.crawl.outcome.CrawlOutcome when the spider closes, with
# outcome=Outcome: the store records the status in the crawl's run row.
crawl_outcome = object()
