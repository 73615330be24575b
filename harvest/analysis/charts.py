"""The report's charts as inline SVG, drawn directly.

Three shapes are all the report needs (grouped bars, labelled bars, one full
bar per domain split by share), and writing their SVG takes well under a
millisecond where a plotting library took half a second to import and half a
second to draw: the report is an interactive command. Text stays text, so it
is small, searchable and scales with the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

COLORS = {
    "dofollow": "#2e7d32",
    "nofollow": "#c62828",
    "ugc": "#ef6c00",
    "sponsored": "#6a1b9a",
    "not nofollow": "#a5d6a7",
}
_FONT = 'font-family="system-ui, sans-serif"'


def count_ticks(top: float, most: int = 6) -> list[int]:
    """Whole-number ticks from 0 covering ``top``: steps of 1, 2 or 5 times a
    power of ten, at most ``most`` + 1 of them."""
    top = max(1.0, top)
    step = 1
    for power in range(0, 20):
        for base in (1, 2, 5):
            step = base * 10**power
            if math.ceil(top / step) <= most:
                return [step * k for k in range(math.ceil(top / step) + 1)]
    return [0, step]


def _text(
    x: float, y: float, s: str, *, size: int = 11, anchor: str = "start", extra: str = ""
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {_FONT}'
        f"{' ' + extra if extra else ''}>{html.escape(s)}</text>"
    )


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>{''.join(body)}</svg>"
    )


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for name in names:
        out.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" '
            f'fill="{COLORS.get(name, "#888")}"/>'
        )
        out.append(_text(x + 14, y, name, size=10))
        x += 24 + 7 * len(name)
    return out


def _count_axis(
    left: float, top: float, height: float, right: float, ticks: list[int], label: str
) -> list[str]:
    out = []
    scale = height / ticks[-1]
    for t in ticks:
        y = top + height - t * scale
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(_text(left - 6, y + 4, f"{t:,}", size=10, anchor="end"))
    out.append(
        _text(
            14,
            top + height / 2,
            label,
            size=11,
            anchor="middle",
            extra=f'transform="rotate(-90 14 {top + height / 2:.1f})"',
        )
    )
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + height}" stroke="#999"/>')
    return out


def grouped_bars(
    title: str, labels: list[str], series: dict[str, list[int]], xlabel: str = ""
) -> str:
    """One group of bars per label, one bar per series; a count axis in whole numbers."""
    width, height, left, top, plot_h = 800, 320, 70, 52, 200
    right = width - 10
    ticks = count_ticks(max((v for vs in series.values() for v in vs), default=0))
    scale = plot_h / ticks[-1]
    body = [_text(0, 16, title, size=13, extra='font-weight="600"')]
    body += _legend(list(series), left, 38)
    body += _count_axis(left, top, plot_h, right, ticks, "links")
    slot = (right - left) / max(1, len(labels))
    bar = slot * 0.8 / max(1, len(series))
    tilt = len(labels) > 6
    for i, label in enumerate(labels):
        x0 = left + slot * i + slot * 0.1
        for j, (name, values) in enumerate(series.items()):
            h = values[i] * scale
            body.append(
                f'<rect x="{x0 + bar * j:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{COLORS.get(name, "#888")}"><title>{html.escape(label)} '
                f"{name}: {values[i]:,}</title></rect>"
            )
        cx, ly = left + slot * (i + 0.5), top + plot_h + 16
        body.append(
            _text(
                cx,
                ly,
                label,
                size=10,
                anchor="end" if tilt else "middle",
                extra=f'transform="rotate(-30 {cx:.1f} {ly:.1f})"' if tilt else "",
            )
        )
    if xlabel:
        body.append(_text((left + right) / 2, height - 6, xlabel, size=11, anchor="middle"))
    return _svg(width, height, body, title)


def labelled_bars(title: str, values: dict[str, int]) -> str:
    """One bar per name, its count written above it."""
    width, height, left, top, plot_h = 600, 250, 70, 40, 170
    right = width - 10
    ticks = count_ticks(max(values.values(), default=0))
    scale = plot_h / ticks[-1]
    body = [_text(0, 16, title, size=13, extra='font-weight="600"')]
    body += _count_axis(left, top, plot_h, right, ticks, "links")
    slot = (right - left) / max(1, len(values))
    for i, (name, n) in enumerate(values.items()):
        h, x = n * scale, left + slot * i + slot * 0.2
        body.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{h:.1f}" fill="{COLORS.get(name, "#888")}"/>'
        )
        body.append(_text(x + slot * 0.3, top + plot_h - h - 4, f"{n:,}", size=10, anchor="middle"))
        body.append(_text(x + slot * 0.3, top + plot_h + 16, name, size=11, anchor="middle"))
    return _svg(width, height, body, title)


def share_bars(title: str, labels: list[str], shares: list[float]) -> str:
    """One full bar per label: the nofollow share red, the rest green, so a label
    with no nofollow link is a green bar, not an absent one."""
    row, left, top = 22, 170, 44
    width, right = 800, 760
    height = top + row * len(labels) + 34
    span = right - left
    body = [_text(0, 16, title, size=13, extra='font-weight="600"')]
    body += _legend(["nofollow", "not nofollow"], left, 34)
    for i, (label, share) in enumerate(zip(labels, shares, strict=True)):
        y = top + row * i
        red = span * max(0.0, min(1.0, share))
        shown = label if len(label) <= 26 else label[:25] + "…"
        body.append(_text(left - 6, y + 14, shown, size=10, anchor="end"))
        body.append(
            f'<rect x="{left}" y="{y + 3}" width="{red:.1f}" height="{row - 6}" '
            f'fill="{COLORS["nofollow"]}"/>'
        )
        body.append(
            f'<rect x="{left + red:.1f}" y="{y + 3}" width="{span - red:.1f}" height="{row - 6}" '
            f'fill="{COLORS["not nofollow"]}">'
            f"<title>{html.escape(label)}: {share:.1%} nofollow</title></rect>"
        )
        body.append(_text(right + 4, y + 14, f"{share:.0%}", size=10))
    base = top + row * len(labels)
    for pct in (0, 25, 50, 75, 100):
        x = left + span * pct / 100
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}" stroke="#999"/>')
        body.append(_text(x, base + 15, f"{pct}", size=10, anchor="middle"))
    body.append(
        _text((left + right) / 2, base + 30, "% of links nofollow", size=11, anchor="middle")
    )
    return _svg(width, height, body, title)
