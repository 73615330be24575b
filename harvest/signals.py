"""harvest's own Scrapy signals."""

# Sent by the PostgreSQL pipeline once a batch is committed, with items=[...]:
# only then is a page safe from a crash of this process.
items_stored = object()
