"""The explorer (``harvest serve``): a local, read-only web view of the harvest.

Its pages are served by the same queries and summaries as the CLI (harvest.db),
through a read-only role, to the analyst's own browser only (explorer.guard).
"""
