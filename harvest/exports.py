"""Streaming exports: rows in CSV, JSON Lines or Parquet; link graphs for network tools.

Rows come from a server-side cursor in batches, so memory stays flat whatever
the table size; CSV cells that a spreadsheet would run as a formula are
neutralized.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from harvest.output import csv_safe, plain
from harvest.report.numbers import FILTER_WHERE, LINK_JOINS, PLACEMENT_SQL, Filters

BATCH = 20_000


QUERIES = {
    "links": f"""SELECT p.medium_id AS post_id, coalesce(p.canonical_url, p.url) AS post_url,
       a.username AS author, coalesce(pub.slug, pub.key) AS publication, l.target_url,
       l.target_url_raw, h.host, d.domain, l.location, {PLACEMENT_SQL} AS placement, l.kind,
       l.position, l.anchor_text, array_to_string(l.rel, ' ') AS rel, l.nofollow, l.ugc,
       l.sponsored, l.first_seen, l.last_seen, l.lost_at
{LINK_JOINS}
{FILTER_WHERE}
ORDER BY l.post_id, l.location, l.position""",
    "posts": f"""SELECT p.medium_id AS post_id, coalesce(p.canonical_url, p.url) AS url, p.title,
       a.username AS author, coalesce(pub.slug, pub.key) AS publication,
       array_to_string(p.tags, ',') AS tags, p.first_published_at, p.last_crawled_at,
       count(*) FILTER (WHERE l.lost_at IS NULL) AS links,
       count(*) FILTER (WHERE l.lost_at IS NULL AND NOT (l.nofollow OR l.ugc OR l.sponsored))
           AS dofollow_links
{LINK_JOINS}
{FILTER_WHERE}
GROUP BY p.post_id, a.username, pub.slug, pub.key
ORDER BY p.post_id""",
    "domains": f"""SELECT d.domain, count(*) AS links, count(DISTINCT l.post_id) AS posts,
       count(DISTINCT p.author_id) AS authors,
       count(*) FILTER (WHERE l.nofollow) AS nofollow,
       count(*) FILTER (WHERE NOT (l.nofollow OR l.ugc OR l.sponsored)) AS dofollow,
       round(avg(l.nofollow::int), 4) AS nofollow_share
{LINK_JOINS}
{FILTER_WHERE} AND l.lost_at IS NULL
GROUP BY d.domain
ORDER BY links DESC, d.domain""",
}

# Graph edges: who (a publication, or the author of a post outside any
# publication; with level "author" always the author) links to which target.
_GRAPH = {
    "domain": (
        "coalesce('publication:' || coalesce(pub.slug, pub.key), 'author:' || a.username)",
        "d.domain",
    ),
    "host": (
        "coalesce('publication:' || coalesce(pub.slug, pub.key), 'author:' || a.username)",
        "h.host",
    ),
    "author": ("'author:' || a.username", "d.domain"),
}


def _graph_sql(level: str) -> str:
    source, target = _GRAPH[level]
    return f"""SELECT {source} AS source, {target} AS target, count(*) AS links,
       round(avg(l.nofollow::int), 4) AS nofollow_share,
       count(*) FILTER (WHERE NOT (l.nofollow OR l.ugc OR l.sponsored)) AS dofollow
{LINK_JOINS}
{FILTER_WHERE} AND l.lost_at IS NULL AND a.username IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2"""


def stream(
    conn: Any, sql: str, filters: Filters
) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
    """Column names and batches of rows, from a server-side (named) cursor."""
    cur = conn.cursor(name="harvest_export")
    cur.itersize = BATCH
    cur.execute(sql, filters.params())
    first = cur.fetchmany(BATCH)
    columns = [c[0] for c in cur.description]

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        batch = first
        try:
            while batch:
                yield batch
                batch = cur.fetchmany(BATCH)
        finally:
            cur.close()

    return columns, batches()


def write_rows(
    columns: list[str], batches: Iterator[list[tuple[Any, ...]]], fmt: str, out: Path | IO[str]
) -> int:
    if fmt == "parquet":
        return _write_parquet(columns, batches, out)
    fh: IO[str] = out.open("w", encoding="utf-8", newline="") if isinstance(out, Path) else out
    n = 0
    try:
        if fmt == "csv":
            writer = csv.writer(fh)
            writer.writerow(columns)
            for batch in batches:
                for row in batch:
                    writer.writerow([_csv_cell(v) for v in row])
                n += len(batch)
        elif fmt == "jsonl":
            for batch in batches:
                for row in batch:
                    record = {c: plain(v) for c, v in zip(columns, row, strict=True)}
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                n += len(batch)
        else:
            raise ValueError(f"unknown format {fmt!r}")
    finally:
        if isinstance(out, Path):
            fh.close()
    return n


_RISKY_FIRST = frozenset("=+-@\t\r\n|")


def _csv_cell(value: Any) -> Any:
    # Called for every cell of a 10^7-row export: the common cases (plain
    # text, numbers) return before any general conversion.
    kind = type(value)
    if kind is str:
        return csv_safe(value) if value and value[0] in _RISKY_FIRST else value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return value  # the csv module writes these itself; never a formula
    value = plain(value)
    return csv_safe(value if isinstance(value, str) else str(value))


def _write_parquet(columns: list[str], batches: Iterator[list[tuple[Any, ...]]], out: Any) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(out, Path):
        raise ValueError("Parquet needs an output file (-o FILE)")
    writer = None
    n = 0
    try:
        for batch in batches:
            data = {c: [row[i] for row in batch] for i, c in enumerate(columns)}
            table = pa.table(data)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(str(out), schema, compression="zstd")
            elif table.schema != writer.schema:
                table = table.cast(writer.schema)
            writer.write_table(table)
            n += len(batch)
        if writer is None:
            pq.write_table(pa.table({c: [] for c in columns}), str(out))
    finally:
        if writer is not None:
            writer.close()
    return n


def write_graph(
    conn: Any, level: str, fmt: str, filters: Filters, out: Path | IO[str]
) -> tuple[int, int]:
    """Nodes and edges written. Edges are streamed to a temporary file first,
    as GEXF wants every node before the first edge."""
    if level not in _GRAPH:
        raise ValueError(f"level must be one of {sorted(_GRAPH)}")
    _, batches = stream(conn, _graph_sql(level), filters)
    fh: IO[str] = out.open("w", encoding="utf-8", newline="") if isinstance(out, Path) else out
    nodes: dict[str, str] = {}
    edges = 0
    try:
        if fmt == "csv-edges":
            writer = csv.writer(fh)
            writer.writerow(["source", "target", "links", "nofollow_share", "dofollow"])
            for batch in batches:
                for source, target, links, share, dofollow in batch:
                    writer.writerow([csv_safe(source), csv_safe(target), links, share, dofollow])
                    nodes.setdefault(source, "")
                    nodes.setdefault(target, "")
                    edges += 1
            return len(nodes), edges
        with tempfile.TemporaryFile("w+", encoding="utf-8") as tmp:
            for batch in batches:
                for source, target, links, share, dofollow in batch:
                    src = nodes.setdefault(source, f"n{len(nodes)}")
                    dst = nodes.setdefault(target, f"n{len(nodes)}")
                    if fmt == "gexf":
                        tmp.write(
                            f'<edge id="e{edges}" source="{src}" target="{dst}" weight="{links}">'
                            f'<attvalues><attvalue for="nofollow_share" value="{share}"/>'
                            f'<attvalue for="dofollow" value="{dofollow}"/></attvalues></edge>\n'
                        )
                    else:
                        tmp.write(
                            f'<edge id="e{edges}" source="{src}" target="{dst}">'
                            f'<data key="weight">{links}</data>'
                            f'<data key="nofollow_share">{share}</data>'
                            f'<data key="dofollow">{dofollow}</data></edge>\n'
                        )
                    edges += 1
            tmp.seek(0)
            if fmt == "gexf":
                fh.write(
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<gexf xmlns="http://gexf.net/1.3" version="1.3">\n'
                    '<graph defaultedgetype="directed">\n'
                    '<attributes class="node"><attribute id="kind" title="kind" type="string"/>'
                    "</attributes>\n"
                    '<attributes class="edge">'
                    '<attribute id="nofollow_share" title="nofollow_share" type="double"/>'
                    '<attribute id="dofollow" title="dofollow" type="long"/></attributes>\n'
                    "<nodes>\n"
                )
                for label, nid in nodes.items():
                    kind = label.split(":", 1)[0] if ":" in label else "target"
                    fh.write(
                        f"<node id={quoteattr(nid)} label={quoteattr(label)}><attvalues>"
                        f'<attvalue for="kind" value={quoteattr(kind)}/></attvalues></node>\n'
                    )
                fh.write("</nodes>\n<edges>\n")
                for line in tmp:
                    fh.write(line)
                fh.write("</edges>\n</graph>\n</gexf>\n")
            elif fmt == "graphml":
                fh.write(
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
                    '<key id="label" for="node" attr.name="label" attr.type="string"/>\n'
                    '<key id="weight" for="edge" attr.name="weight" attr.type="long"/>\n'
                    '<key id="nofollow_share" for="edge" attr.name="nofollow_share" '
                    'attr.type="double"/>\n'
                    '<key id="dofollow" for="edge" attr.name="dofollow" attr.type="long"/>\n'
                    '<graph edgedefault="directed">\n'
                )
                for label, nid in nodes.items():
                    fh.write(
                        f"<node id={quoteattr(nid)}>"
                        f'<data key="label">{escape(label)}</data></node>\n'
                    )
                for line in tmp:
                    fh.write(line)
                fh.write("</graph>\n</graphml>\n")
            else:
                raise ValueError(f"unknown graph format {fmt!r}")
    finally:
        if isinstance(out, Path):
            fh.close()
    return len(nodes), edges
