"""PostgreSQL: the only place harvest writes SQL.

Where the database is (``connection``, ``config``), its schema (``migrate`` and
``migrations/``), how a batch of pages is stored (``store``), the questions the
CLI asks (``queries``), the audit's numbers (``report``), the exports' rows
(``exports``) and the analysts' read-only roles (``roles``). Callers pass plain
values and get rows or records back; no SQL string lives outside this package.
"""
