"""Printing query results: aligned tables for people, CSV and JSON Lines for tools."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

FORMATS = ("table", "csv", "json")
# Spreadsheets run cells that start with these as formulas (CSV injection),
# the full-width forms too (some locales' spreadsheets read ＝ as =), and
# they skip leading blanks before they look.
_FORMULA_FIRST = frozenset("=+-@\t\r\n|＝＋－＠")
_BLANKS = " \t\r\n\u00a0\u3000"


def plain(value: Any) -> Any:
    """A value as JSON can carry it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def text_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return " ".join(text_cell(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(plain(value))


def csv_safe(cell: str) -> str:
    """Neutralize a cell a spreadsheet would evaluate, keeping its text visible:
    the one CSV formula guard, for tables and exports alike."""
    if not cell or (cell[0] not in _FORMULA_FIRST and cell[0] not in _BLANKS):
        return cell
    first = cell.lstrip(_BLANKS)[:1]
    if (first and first not in _FORMULA_FIRST) or (not first and cell[0] == " "):
        return cell
    # Numbers such as -3 are data, not formulas.
    if first in ("+", "-"):
        try:
            float(cell)
            return cell
        except ValueError:
            pass
    return "'" + cell


def csv_cell(value: Any) -> Any:
    """A value as an export's CSV writer takes it, guarded by csv_safe."""
    # Called for every cell of a 10^7-row export: the common cases (plain
    # text, numbers) return before any general conversion.
    kind = type(value)
    if kind is str:
        return csv_safe(value)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return value  # the csv module writes these itself; never a formula
    if kind is list:
        # rel is an array everywhere; a CSV cell holds its tokens as HTML writes them
        return csv_safe(text_cell(value))
    value = plain(value)
    return csv_safe(value if isinstance(value, str) else str(value))


def write(
    out: TextIO,
    fmt: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    max_width: int = 60,
) -> int:
    """Write ``rows`` in ``fmt``; returns how many. csv and json stream an iterator."""
    n = 0
    if fmt == "json":
        for row in rows:
            n += 1
            out.write(
                json.dumps(
                    dict(zip(columns, (plain(v) for v in row), strict=True)), ensure_ascii=False
                )
                + "\n"
            )
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            n += 1
            writer.writerow([csv_safe(text_cell(v)) for v in row])
    else:
        rows = list(rows)
        n = len(rows)
        shares = [c.endswith("_share") for c in columns]
        cells = [
            [_clip(_table_cell(v, share), max_width) for v, share in zip(row, shares, strict=True)]
            for row in rows
        ]
        widths = [len(c) for c in columns]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        # Times keep their width: a clipped time says nothing.
        fixed = [any(isinstance(row[i], datetime) for row in rows) for i in range(len(columns))]
        widths = _fit(widths, columns, shutil.get_terminal_size((120, 24)).columns, fixed)
        cells = [[_clip(c, w) for c, w in zip(row, widths, strict=True)] for row in cells]
        out.write(
            "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n"
        )
        out.write("  ".join("-" * w for w in widths) + "\n")
        for row in cells:
            out.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
            )
        out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")
    return n


# Characters a terminal acts on instead of showing (escape sequences, BEL,
# bidirectional overrides that reorder what follows): page text is anyone's.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that becomes ``path`` only if the block ends
    well: an export or report that fails half way leaves no short file that looks
    complete (nor a file of an earlier run cut short).

    A symbolic link keeps being one: its target is replaced. Something that is
    not a regular file (``-o /dev/null``, a FIFO) is written in place: replacing
    it would leave a regular file where the device was, for every program.
    """
    path = path.resolve() if path.is_symlink() else path
    if path.exists() and not path.is_file():
        yield path
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    temporary = Path(tmp)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        with suppress(FileNotFoundError):
            temporary.unlink()


def terminal_safe(text: str) -> str:
    """``text`` with the characters a terminal would act on shown as escapes."""
    return _CONTROL_RE.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def _table_cell(value: Any, share: bool) -> str:
    """A table cell: a share as a percentage, a time to the minute (CSV and JSON
    keep the fraction and the full time)."""
    if share and isinstance(value, (float, Decimal)) and not isinstance(value, bool):
        return f"{float(value):.1%}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return text_cell(value)


def share_rows(rows: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(metric, value) rows for a table, each ``*_share`` value as a percentage."""
    return [
        (name, f"{float(v):.1%}" if name.endswith("_share") and isinstance(v, float) else v)
        for name, v in rows
    ]


# A column is never squeezed below this (or its header), however narrow the terminal.
_MIN_COLUMN = 8


def _fit(widths: list[int], columns: Sequence[str], room: int, fixed: Sequence[bool]) -> list[int]:
    """Column widths that fit ``room`` characters: the widest columns (URLs,
    anchors) give way first, down to their header or _MIN_COLUMN; ``fixed`` ones
    (times) keep their width."""
    widths = list(widths)
    floor = [
        w if keep else min(w, max(len(c), _MIN_COLUMN))
        for w, c, keep in zip(widths, columns, fixed, strict=True)
    ]
    excess = sum(widths) + 2 * (len(widths) - 1) - room
    while excess > 0:
        i = max(range(len(widths)), key=lambda k: widths[k] - floor[k])
        if widths[i] <= floor[i]:
            break  # as narrow as it goes: the terminal wraps the rest
        widths[i] -= 1
        excess -= 1
    return widths


def _clip(text: str, width: int) -> str:
    text = terminal_safe(" ".join(text.split()))  # newlines and tabs would break the table
    return text if len(text) <= width else text[: width - 1] + "…"
