"""What the crawl, the store and the frontier agree on without importing each
other: harvest's own signals, the request meta keys more than one of them reads,
and the arithmetic that turns a crawl's counts into its outcome. Below all three;
it imports nothing of harvest but the items and the parsers' records."""
