"""Item pipelines: links normalized and checked (``normalize``), pages stored in
PostgreSQL in batches (``postgres``), which also tells the spider which posts
it stored recently (harvest.contract.signals.recent_posts)."""
