"""Everything that faces Scrapy: the spider (discovery and routing only) and its
arguments, the offsite guard, the host gate (rate limits, challenges,
unreachable hosts), the browser, the parse child, the log formatter, the
unparsed-page store, the crawl's outcome and progress lines, the ``scrapy
crawl`` command, and harvest's own signals, through which the spider, the store
and the frontier talk without importing each other.

Pure rules (what a challenge page looks like, how an outcome is decided) are
functions here that take plain values, so they are tested without a crawl.
"""


class StartupError(RuntimeError):
    """An expected condition that stops a crawl before it starts (Redis or the
    database unreachable); its message is the one line the user sees."""
