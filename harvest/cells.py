"""The formula guard of a CSV cell a spreadsheet may open (CSV injection): one
rule, for harvest's own CSV writers and for the CSV the database server writes
itself (COPY, harvest.db.export_rows). Below both; imports nothing of harvest's.

Spreadsheets run a cell as a formula when it starts with one of FORMULA_SIGNS,
the full-width forms too, after any BLANKS; such a cell is written with a
leading ' (its text stays visible), unless it is a plain number (-3, +1e5).
The patterns are written in the syntax Python's re and PostgreSQL's ~ share.
"""

from __future__ import annotations

BLANKS = " \t\r\n\u00a0\u3000"
FORMULA_SIGNS = "=+@|＝＋－＠-"
_B = f"[{BLANKS}]"
# a formula sign after any blanks; or blanks alone, the first a tab or line break
FORMULA = f"^({_B}*[{FORMULA_SIGNS}]|[\t\r\n]{_B}*$)"
# a number in decimal notation, blanks around it allowed
NUMBER = f"^{_B}*[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?{_B}*$"
