"""The nofollow audit: numbers from the link table, as JSON or one self-contained HTML file."""

from harvest.report.numbers import Filters, report_numbers

__all__ = ["Filters", "report_numbers"]
