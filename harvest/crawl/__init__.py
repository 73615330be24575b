"""Everything that faces Scrapy: the crawl command, the host gate (rate limits,
challenges, unreachable hosts), the crawl's outcome and its progress lines.

Pure rules (what a challenge page looks like, how an outcome is decided) are
functions here that take plain values, so they are tested without a crawl.
"""


class StartupError(RuntimeError):
    """An expected condition that stops a crawl before it starts (Redis or the
    database unreachable); its message is the one line the user sees."""
