"""Streaming exports: rows in CSV, JSON Lines or Parquet; link graphs for network tools.

Formatting only: the rows come in batches from harvest.db.export_rows, and are
written as they come, so memory stays flat whatever the table size; CSV cells
that a spreadsheet would run as a formula are neutralized (output.csv_cell).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from harvest.analysis.output import csv_cell, csv_safe, plain

Batches = Iterator[list[tuple[Any, ...]]]
ROW_FORMATS = ("csv", "jsonl", "parquet")
GRAPH_FORMATS = ("gexf", "graphml", "csv-edges")


def write_rows(
    columns: list[str], batches: Iterator[list[tuple[Any, ...]]], fmt: str, out: Path | IO[str]
) -> int:
    if fmt == "parquet":
        return _write_parquet(columns, batches, out)
    fh: IO[str] = out.open("w", encoding="utf-8", newline="") if isinstance(out, Path) else out
    n = 0
    try:
        if fmt == "csv":
            # lines end as the server's COPY ends them (harvest.db.export_rows.copy_csv)
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            for batch in batches:
                for row in batch:
                    writer.writerow([csv_cell(v) for v in row])
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


def write_graph(batches: Batches, fmt: str, out: Path | IO[str]) -> tuple[int, int]:
    """Nodes and edges written, from batches of (source, target, links,
    nofollow_share, dofollow_links). For GEXF and GraphML, edges are streamed to a
    temporary file first, as both want every node before the first edge."""
    if fmt not in GRAPH_FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}")
    fh: IO[str] = out.open("w", encoding="utf-8", newline="") if isinstance(out, Path) else out
    try:
        if fmt == "csv-edges":
            return _edges_csv(batches, fh)
        nodes: dict[str, str] = {}
        edge = _GEXF_EDGE if fmt == "gexf" else _GRAPHML_EDGE
        with tempfile.TemporaryFile("w+", encoding="utf-8") as tmp:
            edges = 0
            for batch in batches:
                for source, target, links, share, dofollow in batch:
                    src = nodes.setdefault(source, f"n{len(nodes)}")
                    dst = nodes.setdefault(target, f"n{len(nodes)}")
                    tmp.write(edge.format(n=edges, src=src, dst=dst, w=links, s=share, d=dofollow))
                    edges += 1
            tmp.seek(0)
            (_gexf if fmt == "gexf" else _graphml)(fh, nodes, tmp)
        return len(nodes), edges
    finally:
        if isinstance(out, Path):
            fh.close()


def _edges_csv(batches: Batches, fh: IO[str]) -> tuple[int, int]:
    writer = csv.writer(fh)
    writer.writerow(["source", "target", "links", "nofollow_share", "dofollow_links"])
    nodes: set[str] = set()
    edges = 0
    for batch in batches:
        for source, target, links, share, dofollow in batch:
            writer.writerow([csv_safe(source), csv_safe(target), links, share, dofollow])
            nodes.update((source, target))
            edges += 1
    return len(nodes), edges


# Node ids are n<number>, weights and shares numbers from SQL: nothing to escape.
_GEXF_EDGE = (
    '<edge id="e{n}" source="{src}" target="{dst}" weight="{w}">'
    '<attvalues><attvalue for="nofollow_share" value="{s}"/>'
    '<attvalue for="dofollow_links" value="{d}"/></attvalues></edge>\n'
)
_GRAPHML_EDGE = (
    '<edge id="e{n}" source="{src}" target="{dst}">'
    '<data key="weight">{w}</data>'
    '<data key="nofollow_share">{s}</data>'
    '<data key="dofollow_links">{d}</data></edge>\n'
)


def _gexf(fh: IO[str], nodes: dict[str, str], edges: IO[str]) -> None:
    fh.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gexf xmlns="http://gexf.net/1.3" version="1.3">\n'
        '<graph defaultedgetype="directed">\n'
        '<attributes class="node"><attribute id="kind" title="kind" type="string"/>'
        "</attributes>\n"
        '<attributes class="edge">'
        '<attribute id="nofollow_share" title="nofollow_share" type="double"/>'
        '<attribute id="dofollow_links" title="dofollow_links" type="long"/></attributes>\n'
        "<nodes>\n"
    )
    from xml.sax.saxutils import quoteattr  # its import costs every command ~17 ms

    for label, nid in nodes.items():
        kind = label.split(":", 1)[0] if ":" in label else "target"
        fh.write(
            f"<node id={quoteattr(nid)} label={quoteattr(label)}><attvalues>"
            f'<attvalue for="kind" value={quoteattr(kind)}/></attvalues></node>\n'
        )
    fh.write("</nodes>\n<edges>\n")
    for line in edges:
        fh.write(line)
    fh.write("</edges>\n</graph>\n</gexf>\n")


def _graphml(fh: IO[str], nodes: dict[str, str], edges: IO[str]) -> None:
    fh.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
        '<key id="label" for="node" attr.name="label" attr.type="string"/>\n'
        '<key id="weight" for="edge" attr.name="weight" attr.type="long"/>\n'
        '<key id="nofollow_share" for="edge" attr.name="nofollow_share" '
        'attr.type="double"/>\n'
        '<key id="dofollow_links" for="edge" attr.name="dofollow_links" attr.type="long"/>\n'
        '<graph edgedefault="directed">\n'
    )
    from xml.sax.saxutils import escape, quoteattr

    for label, nid in nodes.items():
        fh.write(f'<node id={quoteattr(nid)}><data key="label">{escape(label)}</data></node>\n')
    for line in edges:
        fh.write(line)
    fh.write("</graph>\n</graphml>\n")
