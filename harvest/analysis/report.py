"""One self-contained HTML file: inline SVG charts, sortable tables, no network."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Callable
from typing import Any

from harvest.analysis import charts
from harvest.vocabulary import REASONS

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; padding: 0 1.5rem;
       max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.verdict { font-size: 1.15rem; }
.banner { background: #fff3cd; border: 1px solid #e0c36a; padding: .5rem .8rem; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: 13px; }
th, td { border-bottom: 1px solid #eee; padding: .25rem .6rem; text-align: left; }
td { overflow-wrap: anywhere; } /* long URLs wrap inside the page's width */
table { max-width: 100%; }
th { cursor: pointer; background: #f6f6f6; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.id { white-space: nowrap; overflow-wrap: normal; font-family: ui-monospace, monospace; }
.chart svg { max-width: 100%; height: auto; }
.muted { color: #777; }
"""

# Sorting without external scripts: click a header to sort by that column.
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var asc = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach(function (h) {
        h.classList.remove("sorted-asc", "sorted-desc");
      });
      th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""

# The Content-Security-Policy names this script by its hash: no other runs.
_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

_bar_chart = charts.grouped_bars
_simple_bars = charts.labelled_bars
_share_chart = charts.share_bars


def _cell(value: Any, column: str = "") -> str:
    if column in _WHOLE:
        # an id is read whole: it never breaks across lines
        esc = html.escape("" if value is None else str(value))
        return f'<td class="id" data-v="{esc}">{esc}</td>'
    if column == "year":
        value = "unknown" if value is None else str(value)
    if isinstance(value, (bool, int, float)):
        return _number_cell(value)
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = "" if value is None else str(value)
    esc = html.escape(text)
    if text.startswith(("https://", "http://")):
        return f'<td data-v="{esc}"><a href="{esc}" rel="nofollow noopener">{esc}</a></td>'
    return f'<td data-v="{esc}">{esc}</td>'


def _number_cell(value: bool | float) -> str:
    """A flag as yes or blank, a share as a percentage, a count with separators;
    each sorts by its value."""
    if isinstance(value, bool):
        return f'<td data-v="{int(value)}">{"yes" if value else ""}</td>'
    shown = f"{value:.1%}" if isinstance(value, float) and 0 <= value <= 1 else f"{value:,}"
    return f'<td class="num" data-v="{value}">{shown}</td>'


_WHOLE = frozenset({"post_id"})


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    columns = columns or list(rows[0].keys())
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(_cell(row.get(c), c) for c in columns) + "</tr>" for row in rows
    )
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_GROUP_COLUMNS = [
    "links",
    "dofollow_links",
    "nofollow_links",
    "ugc_links",
    "sponsored_links",
    "nofollow_share",
]


_TITLE = "Medium outbound links: nofollow audit"
_RELS = ["dofollow", "nofollow", "ugc", "sponsored"]


def render(numbers: dict[str, Any]) -> str:
    """The report as one self-contained HTML file, a section per function below."""
    sections: tuple[Callable[[dict[str, Any]], list[str]], ...] = (
        _summary,
        _verdict,
        _rel_distribution,
        _by_year,
        _by_placement,
        _by_group,
        _dofollow_exceptions,
        _top_domains,
        _domain_groupings,
        _backlinks,
    )
    if not numbers["verdict"]["links"]:
        # An empty filter: one clear page, not a row of empty charts.
        sections = (_summary, _nothing)
    parts = [html_part for section in sections for html_part in section(numbers)]
    # Every < as \u003c: "</script>" would end the element, and "<!--<script>" in a
    # title would put the parser into a state where the sort script below is
    # swallowed as part of this one. The JSON reads the same.
    data = (
        json.dumps(numbers, default=str)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{html.escape(_TITLE)}</title>"
        # No request leaves the file: everything is inline, and the policy says so.
        # The one script runs by its hash: a script a title or anchor smuggled in
        # despite the escaping would not.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        f"style-src 'unsafe-inline'; script-src '{_SCRIPT_HASH}'; img-src data:\">"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}"
        f'<script type="application/json" id="numbers">{data}</script>'
        f"<script>{_SCRIPT}</script></body></html>"
    )


def _summary(numbers: dict[str, Any]) -> list[str]:
    o = numbers["overall"]
    f = {k: v for k, v in numbers["filters"].items() if v}
    scope = ", ".join(f"{k} = {v}" for k, v in f.items()) or "all harvested links"
    parts = [
        f"<h1>{html.escape(_TITLE)}</h1>",
        *_not_medium(numbers),
        *_trailing(numbers),
        f'<p class="muted">{html.escape(scope)} · generated {html.escape(numbers["generated_at"])} '
        "· live links (not lost) unless said</p>",
        _verdict_line(numbers),
        '<div class="cards">',
    ]
    for label, key in (("links", "links"), ("posts", "posts"), ("target domains", "domains")):
        parts.append(f'<div class="card"><b>{o[key]:,}</b>{label}</div>')
    for key in _RELS:
        n = o[f"{key}_links"]
        # no links is no data, not a share of 0 %
        share = f"{n / o['links']:.1%}" if o["links"] else "no data"
        parts.append(f'<div class="card"><b>{share}</b>{key} ({n:,})</div>')
    parts.append("</div>")
    return parts


def _trailing(numbers: dict[str, Any]) -> list[str]:
    """A line when the summaries behind this report did not count every stored link
    yet (a crawl was running): the numbers are those of the links counted so far."""
    n = numbers.get("not_counted_yet") or 0
    if not n:
        return []
    return [
        f'<p class="banner">{n:,} stored link changes were not counted yet when this '
        "report was made (a crawl was folding them in): run it again once the crawl is "
        "over, or after <code>harvest db refresh</code>.</p>"
    ]


def _not_medium(numbers: dict[str, Any]) -> list[str]:
    """A banner when some of the data was crawled from a simulator or a mirror:
    its numbers describe that world, and a reader must not take them for Medium's."""
    sources = numbers.get("crawled_from") or []
    if not sources:
        return []
    local = any(s.split("://", 1)[-1].startswith(("127.", "localhost")) for s in sources)
    what = "harvest's Medium simulator" if local else "a mirror"
    where = ", ".join(html.escape(s) for s in sources)
    return [
        f'<p class="banner">Built from {what} ({where}), not from medium.com: these numbers '
        "describe that world, not Medium.</p>"
    ]


# What each verdict reason means (harvest.vocabulary declares them).
REASON_TEXT = REASONS


def _nothing(numbers: dict[str, Any]) -> list[str]:
    return [
        "<h2>No links match</h2>",
        "<p>No harvested link matches these filters. Check the spelling of the domain, tag "
        "or publication (a publication is named by its slug, name or own domain), or "
        "run the report without them.</p>",
    ]


def _verdict_line(numbers: dict[str, Any]) -> str:
    """The report's answer first: how many links pass value, and why the others don't."""
    v = numbers["verdict"]
    domain = numbers["filters"].get("domain")
    target = html.escape(f" to {domain}" if domain else "")
    if not v["links"]:
        return f"<p class=verdict>No harvested links{target} match.</p>"
    others = [r for r in v["by_reason"] if r["reason"] != "follow"]
    why = "; ".join(f"{r['links']:,} {r['reason']}" for r in others) or "none"
    return (
        f"<p class=verdict>Of {v['links']:,} links{target}, "
        f"<b>{v['passing_links']:,} pass value</b> ({(v['passing_share'] or 0):.1%}). "
        f"Why the others don't: {html.escape(why)}.</p>"
    )


def _verdict(numbers: dict[str, Any]) -> list[str]:
    rows = [
        {**r, "meaning": REASON_TEXT.get(r["reason"], "")} for r in numbers["verdict"]["by_reason"]
    ]
    return [
        "<h2>What the links are worth</h2>",
        "<p>Every harvested link (lost ones too), by the first reason it passes no value;"
        " README.md, “Is a Medium backlink worth anything?”, gives the rules.</p>",
        _table(rows, ["reason", "links", "meaning"]),
    ]


def _chart(svg: str) -> str:
    return f'<div class="chart">{svg}</div>'


def _rel_distribution(numbers: dict[str, Any]) -> list[str]:
    o = numbers["overall"]
    title = "All live links (a link may carry several tokens)"
    return [
        "<h2>Rel distribution</h2>",
        _chart(_simple_bars(title, {r: o[f"{r}_links"] for r in _RELS})),
    ]


def _by_year(numbers: dict[str, Any]) -> list[str]:
    years = numbers["by_year"]
    parts = ["<h2>By year first published</h2>"]
    if years:
        labels = [str(y["year"]) if y["year"] is not None else "unknown" for y in years]
        series = {r: [y[f"{r}_links"] for y in years] for r in _RELS}
        parts.append(_chart(_bar_chart("Links by year", labels, series, "year first published")))
    parts.append(_table(years, ["year", *_GROUP_COLUMNS]))
    return parts


def _by_placement(numbers: dict[str, Any]) -> list[str]:
    loc = numbers["by_placement"]
    parts = ["<h2>By link location</h2>"]
    if loc:
        labels = [r["placement"] for r in loc]
        series = {r: [x[f"{r}_links"] for x in loc] for r in _RELS}
        parts.append(_chart(_bar_chart("Links by location", labels, series, "where on the page")))
    parts.append(_table(loc, ["placement", *_GROUP_COLUMNS]))
    return parts


def _by_group(numbers: dict[str, Any]) -> list[str]:
    return [
        "<h2>By publication</h2>",
        _table(numbers["by_publication"], ["publication", "publication_domain", *_GROUP_COLUMNS]),
        "<h2>By tag</h2>",
        *_by_tag(numbers),
    ]


def _by_tag(numbers: dict[str, Any]) -> list[str]:
    tags = numbers["by_tag"]
    if tags is None:
        return [
            "<p class=muted>Not kept per target domain: run the report with --tag, "
            "or harvest export links --domain for the rows.</p>"
        ]
    crawled = set(numbers.get("crawled_tags") or [])
    rows = [{**t, "crawled": t["tag"] in crawled} for t in tags]
    partial = sum(1 for r in rows if not r["crawled"])
    note = (
        f"<p>{partial:,} of these tags were not crawled themselves: their rows count only "
        "the posts reached through the crawled tags, authors or publications (partial). "
        "The crawled column says which were.</p>"
        if partial
        else ""
    )
    return [note, _table(rows, ["tag", "crawled", *_GROUP_COLUMNS])]


def _dofollow_exceptions(numbers: dict[str, Any]) -> list[str]:
    exceptions = numbers["dofollow_exceptions"]
    by_reason = numbers["verdict"]["dofollow_by_reason"]
    passing = sum(r["links"] for r in by_reason if r["reason"] == "follow")
    # the exceptions are the dofollow anchors that pass nothing; those that pass are a count
    failing = [r for r in by_reason if r["reason"] != "follow"]
    return [
        "<h2>Dofollow exceptions</h2>",
        "<p>Outbound links that carry none of nofollow, ugc or sponsored: where a Medium "
        f"backlink may pass value. {passing:,} of them do; whether one does depends on the "
        "page too, and these do not, by why:</p>",
        _table(failing, ["reason", "links"])
        if failing
        else "<p class=muted>none: every dofollow link passes value</p>",
        _table(exceptions["by_publication_and_placement"])
        if exceptions["by_publication_and_placement"] is not None
        else "<p class=muted>By publication and placement: not kept per target domain "
        "(the tables above split them apart).</p>",
        _table(exceptions["posts"]),
    ]


def _top_domains(numbers: dict[str, Any]) -> list[str]:
    top = numbers["top_domains"]
    parts = ["<h2>Top target domains</h2>"]
    if top:
        title = "Nofollow share of the most linked-to domains"
        shares = [t["nofollow_share"] or 0 for t in top]
        parts.append(_chart(_share_chart(title, [t["domain"] for t in top], shares)))
    if top and all(t["posts"] is None for t in top):
        # report --since from the summaries: posts per domain are not kept per month
        parts.append(_table(top, ["domain", *_GROUP_COLUMNS]))
        parts.append(
            "<p class=muted>Posts per domain are not kept per month first seen: "
            "<code>harvest export links --since</code> gives the rows.</p>"
        )
    else:
        parts.append(_table(top, ["domain", "posts", *_GROUP_COLUMNS]))
    return parts


# A domain's report: its anchors, target pages and referrers, and new and lost
# links by month (the explorer's tabs and backlinks --by, the same queries).
_GROUPING_TITLES = {
    "anchors": "Anchor texts",
    "targets": "Target pages",
    "authors": "Referring authors",
    "publications": "Referring publications",
    "months": "New and lost links by month",
}


def _domain_groupings(numbers: dict[str, Any]) -> list[str]:
    groupings = numbers.get("groupings") or {}
    parts = []
    for name, title in _GROUPING_TITLES.items():
        if name in groupings:
            parts += [f"<h2>{title}</h2>", _table(groupings[name])]
    return parts


def _backlinks(numbers: dict[str, Any]) -> list[str]:
    if "backlinks" not in numbers:
        return []
    domain = str(numbers["filters"].get("domain"))
    rows = numbers["backlinks"]
    total = numbers["verdict"]["links"]
    # A report stays a file a browser opens at any size: the first rows, and
    # the command that gives every one.
    shown = (
        f"The first {len(rows):,} of {total:,} links (lost ones too), in harvest backlinks' "
        f"order. All of them: <code>harvest export links --domain {html.escape(domain)}</code> "
        f"or <code>harvest backlinks {html.escape(domain)} --all --format csv</code>."
        if len(rows) < total
        else f"All {total:,} links (lost ones too)."
    )
    return [
        f"<h2>Backlinks to {html.escape(domain)}</h2>",
        f"<p>{shown}</p>",
        _table(rows),
    ]
