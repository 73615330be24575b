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

from harvest import cells

FORMATS = ("table", "csv", "json")
# The formula guard (harvest.cells); a cell whose first character is neither
# a sign nor a blank needs no look further.
_LOOK_FIRST = frozenset(cells.FORMULA_SIGNS + cells.BLANKS)
_FORMULA = re.compile(cells.FORMULA)
_NUMBER = re.compile(cells.NUMBER)


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
    the one CSV formula guard (harvest.cells), for tables and exports alike."""
    if not cell or cell[0] not in _LOOK_FIRST:
        return cell
    if _FORMULA.search(cell) and not _NUMBER.search(cell):
        return "'" + cell
    return cell


def float_text(value: float) -> str:
    """A fraction as CSV carries it, as PostgreSQL writes a float8 (1, 0.25,
    1e-05): the same whether harvest or the server's COPY wrote the file."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


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
    if kind is int:
        return value  # the csv module writes these itself; never a formula
    if kind is float or kind is Decimal:
        return float_text(float(value))
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
    *,
    whole: Sequence[str] = (),
    width: int | None = None,
    priority: Sequence[str] = (),
) -> int:
    """Write ``rows`` in ``fmt``; returns how many. csv and json stream an iterator.

    A table fits the terminal it is written to (``width`` columns, else the
    terminal's own) and is written whole anywhere else (a pipe, a file): a
    script never reads a shortened value. ``whole`` names columns never cut
    (besides ids, domains, hosts and times); where the terminal is too narrow,
    columns are left out from the last, those named in ``priority`` last of all
    (the first named last)."""
    if fmt == "json":
        return _write_json(out, columns, rows)
    if fmt == "csv":
        return _write_csv(out, columns, rows)
    rows = list(rows)
    if width is None and _is_terminal(out):
        width = shutil.get_terminal_size((120, 24)).columns
    lines, left_out = table_lines(columns, rows, width, whole, priority)
    out.write("".join(line + "\n" for line in lines))
    said = f"({len(rows)} row{'s' if len(rows) != 1 else ''}"
    if left_out:
        said += f"; left out to fit: {', '.join(left_out)} (--format csv has every column)"
    out.write(said + ")\n")
    return len(rows)


def _write_json(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    n = 0
    for row in rows:
        n += 1
        record = dict(zip(columns, (plain(v) for v in row), strict=True))
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return n


def _write_csv(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    n = 0
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        n += 1
        writer.writerow([csv_safe(text_cell(v)) for v in row])
    return n


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


# Columns read whole or not at all: names, ids and times.
WHOLE = frozenset({"domain", "host", "post_id", "run_id", "setting", "metric", "field", "reason"})
# A column is never squeezed below its header or this; a URL below _MIN_URL.
_MIN_COLUMN = 8
_MIN_URL = 24


def table_lines(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    width: int | None,
    whole: Sequence[str] = (),
    priority: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """The table's lines (header, rule, rows) within ``width`` characters (None:
    as wide as its values), and the columns left out to fit, the last first."""
    cells = _text_cells(columns, rows)
    natural = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    if width is None:
        kept, widths = list(range(len(columns))), natural
    else:
        kept, widths = _fit_columns(columns, rows, natural, width, whole, priority)
    shown = [[_cut(row[i], w, _is_url(columns[i])) for i, w in zip(kept, widths, strict=True)]
             for row in cells]  # fmt: skip
    lines = [
        _line([columns[i] for i in kept], widths),
        "  ".join("-" * w for w in widths),
        *(_line(r, widths) for r in shown),
    ]
    return lines, [c for i, c in enumerate(columns) if i not in kept]


def _text_cells(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    """Every value as the one line of text its cell shows, uncut."""
    shares = [c.endswith("_share") for c in columns]
    return [
        [_one_line(_table_cell(v, share)) for v, share in zip(row, shares, strict=True)]
        for row in rows
    ]


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _fit_columns(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    natural: list[int],
    width: int,
    whole: Sequence[str],
    priority: Sequence[str],
) -> tuple[list[int], list[int]]:
    """The columns kept within ``width`` and their widths: the last columns go
    first, until what is left can fit; the first one and those the caller needs
    whole stay (the terminal wraps them if it must)."""
    floors = [_floor(c, n, c in WHOLE or c in whole or _has_time(rows, i)) for i, (c, n) in
              enumerate(zip(columns, natural, strict=True))]  # fmt: skip
    rank = {c: n for n, c in enumerate(priority)}
    kept = list(range(len(columns)))
    droppable = sorted(
        (i for i in kept[1:] if columns[i] not in whole),
        key=lambda i: (columns[i] not in rank, rank.get(columns[i], 0), i),
    )
    while droppable and sum(floors[i] for i in kept) + 2 * (len(kept) - 1) > width:
        kept.remove(droppable.pop())
    return kept, _fit([natural[i] for i in kept], width, [floors[i] for i in kept])


def _has_time(rows: Sequence[Sequence[Any]], i: int) -> bool:
    return any(isinstance(r[i], datetime) for r in rows)


def _floor(column: str, natural: int, keep_whole: bool) -> int:
    """The narrowest a column may be cut to."""
    if keep_whole:
        return natural
    return min(natural, max(len(column), _MIN_URL if _is_url(column) else _MIN_COLUMN))


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


def _fit(widths: list[int], room: int, floors: list[int]) -> list[int]:
    """Column widths that fit ``room`` characters: the widest columns (URLs,
    anchors) give way first, each down to its floor."""
    widths = list(widths)
    excess = sum(widths) + 2 * (len(widths) - 1) - room
    while excess > 0:
        i = max(range(len(widths)), key=lambda k: widths[k] - floors[k])
        if widths[i] <= floors[i]:
            break  # as narrow as it goes: the terminal wraps the rest
        widths[i] -= 1
        excess -= 1
    return widths


def _is_url(column: str) -> bool:
    return column == "url" or column.endswith("_url")


def _one_line(text: str) -> str:
    # newlines and tabs would break the table; control characters act on the terminal
    return terminal_safe(" ".join(text.split()))


def _cut(text: str, width: int, middle: bool) -> str:
    """``text`` in ``width`` characters: a URL keeps its start (the host) and its
    end (the page), other text its start."""
    if len(text) <= width:
        return text
    if middle and width >= 8:
        # the scheme and host whole where they leave room for some of the end
        slash = text.find("/", text.find("://") + 3)
        host = slash + 1 if slash > 0 else 0
        head = min(max(host, (width - 1) // 2), width - 5)
        return text[:head] + "…" + text[len(text) - (width - 1 - head) :]
    return text[: width - 1] + "…"
