"""The audit report and exports over a real crawl of the simulator, checked against plain SQL."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvest.db.connection import connect
from harvest.sim.server import SimServer
from tests.pg import Server, rows, scalar

# Every test here runs a crawl (or scrapyd) in a process of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def crawled(pg_server: Server) -> Iterator[str]:
    name = f"harvest_report_{os.getpid()}"
    dsn = pg_server.create(name, pg_server.template)
    with SimServer(seed=8, size=30) as sim:
        manifest = sim.manifest()
        days = sorted(p["published_at"][:10] for p in manifest["posts"].values())
        cmd = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "medium",
            "-a",
            f"sitemap={days[0]}..{days[-1]}",
            "-s",
            f"MEDIUM_BASE_URL={sim.url}",
            "-s",
            "HARVEST_BROWSER=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=0",
            "-s",
            "LOG_LEVEL=WARNING",
        ]
        env = {**os.environ, "DATABASE_URL": dsn}
        env.pop("HARVEST_PGDATA", None)
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    yield dsn
    pg_server.drop(name)


def harvest(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn}
    return subprocess.run(
        [str(BIN / "harvest"), *args], env=env, capture_output=True, text=True, check=True
    )


def test_report_numbers_match_independent_sql(crawled: str) -> None:
    numbers = json.loads(harvest(crawled, "report", "--format", "json").stdout)
    conn = connect(crawled)
    live = "FROM links WHERE lost_at IS NULL"
    o = numbers["overall"]
    assert o["links"] == scalar(conn, f"SELECT count(*) {live}") > 0
    assert o["nofollow_links"] == scalar(conn, f"SELECT count(*) {live} AND nofollow")
    assert o["ugc_links"] == scalar(conn, f"SELECT count(*) {live} AND ugc")
    assert o["sponsored_links"] == scalar(conn, f"SELECT count(*) {live} AND sponsored")
    assert (
        o["dofollow_links"]
        == scalar(conn, f"SELECT count(*) {live} AND NOT nofollow AND NOT ugc AND NOT sponsored")
        > 0
    )
    assert o["posts"] == scalar(conn, f"SELECT count(DISTINCT post_id) {live}")
    # by year: summed back to the total, and one year checked on its own
    assert sum(y["links"] for y in numbers["by_year"]) == o["links"]
    year = next(y for y in numbers["by_year"] if y["year"] is not None)
    assert year["dofollow_links"] == scalar(
        conn,
        "SELECT count(*) FROM links l JOIN posts p USING (post_id) WHERE l.lost_at IS NULL "
        "AND NOT (l.nofollow OR l.ugc OR l.sponsored) "
        "AND extract(year FROM p.first_published_at) = %s",
        (year["year"],),
    )
    bio = next(r for r in numbers["by_placement"] if r["placement"] == "author_bio")
    assert bio["links"] == scalar(conn, f"SELECT count(*) {live} AND location = 'author_bio'")
    cards = [r for r in numbers["by_placement"] if r["placement"] == "link_card"]
    assert sum(r["links"] for r in cards) == scalar(
        conn, f"SELECT count(*) {live} AND kind = 'link_card' AND location = 'body'"
    )
    # top domain and its nofollow share
    top = numbers["top_domains"][0]
    want = rows(
        conn,
        "SELECT d.domain, count(*), avg(l.nofollow::int) FROM links l JOIN domains d "
        "USING (domain_id) WHERE l.lost_at IS NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    )[0]
    assert (top["domain"], top["links"]) == (want[0], want[1])
    assert abs(top["nofollow_share"] - float(want[2])) < 1e-4
    # a tag: links of posts carrying it
    tag = numbers["by_tag"][0]
    assert tag["links"] == scalar(
        conn,
        "SELECT count(*) FROM links l JOIN posts p USING (post_id) "
        "WHERE l.lost_at IS NULL AND %s = ANY (p.tags)",
        (tag["tag"],),
    )
    # dofollow exceptions add up to the dofollow total (by publication x location)
    exc = numbers["dofollow_exceptions"]["by_publication_and_placement"]
    assert sum(e["links"] for e in exc) <= o["dofollow_links"]
    # --domain: every backlink, and the filter narrows every figure
    domain = top["domain"]
    one = json.loads(harvest(crawled, "report", "--format", "json", "--domain", domain).stdout)
    assert one["overall"]["links"] == top["links"]
    assert len(one["backlinks"]) == scalar(
        conn,
        "SELECT count(*) FROM links JOIN domains USING (domain_id) WHERE domain = %s",
        (domain,),
    )
    conn.close()
    print(f"report: {o['links']} links, {o['dofollow_links']} dofollow, top domain {domain}")


def test_report_html_renders_in_chromium(crawled: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from harvest.crawl.browser import (
        CHROMIUM_ARGS,
        playwright_chromium_installed,
        system_chromium,
    )

    out = tmp_path / "report.html"
    harvest(crawled, "report", "-o", str(out))
    empty = tmp_path / "empty.html"
    # a name the harvest has, whose links the other filter leaves out (a name it
    # does not have is refused: tests/cli/test_filters.py)
    conn = connect(crawled)
    some = scalar(conn, "SELECT domain FROM domains ORDER BY domain LIMIT 1")
    conn.close()
    harvest(crawled, "report", "--domain", some, "--since", "2099-01-01", "-o", str(empty))
    text = out.read_text()
    assert "http://" not in text.split("<body>")[0]  # nothing fetched from outside
    executable = None if playwright_chromium_installed() else system_chromium()
    if executable is None and not playwright_chromium_installed():
        pytest.skip("no Chromium")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request",
            lambda r: (
                errors.append(f"request {r.url}")
                if not r.url.startswith(("file:", "data:"))
                else None
            ),
        )
        page.goto(out.as_uri())
        svgs = page.eval_on_selector_all(
            ".chart svg", "els => els.map(e => e.querySelectorAll('path, rect, use').length)"
        )
        # what a reader sees first: where the data is from, then the verdict
        banner = page.locator(".banner").inner_text()
        verdict = page.locator(".verdict").inner_text()
        # every count axis is named and counts in whole numbers
        axis_texts = page.eval_on_selector_all(
            ".chart svg text", "els => els.map(e => e.textContent)"
        )
        widest = page.evaluate("document.documentElement.scrollWidth")
        # sorting works: click "links" of the top-domains table twice
        table = page.locator("table.sortable").last
        header = table.locator("th", has_text="links").first
        header.click()
        header.click()
        sorted_by = header.get_attribute("class")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        # A script planted in the page (were the escaping ever to fail) does not
        # run: the policy names the sort script by its hash, not 'unsafe-inline'.
        clean_errors = list(errors)
        planted = tmp_path / "planted.html"
        planted.write_text(
            text.replace(
                "</body>",
                "<script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'></body>",
            )
        )
        page.goto(planted.as_uri())
        pwned = page.evaluate("window.pwned === undefined ? null : window.pwned")
        page.locator("table.sortable").last.locator("th", has_text="links").first.click()
        planted_sorts = page.locator("table.sortable th.sorted-asc").count()
        blocked = errors[len(clean_errors) :]
        del errors[len(clean_errors) :]
        page.goto(empty.as_uri())
        empty_heading = page.locator("h2").all_inner_texts()
        empty_charts = page.locator(".chart svg").count()
        browser.close()
    assert sorted_by is not None and "sorted-desc" in sorted_by  # the sort script ran
    assert pwned is None and planted_sorts == 1
    assert blocked and all("Content Security Policy" in e for e in blocked), blocked
    assert "unsafe-inline'; img" not in text and "script-src 'sha256-" in text
    assert "simulator" in banner and "not from medium.com" in banner
    assert verdict.startswith("Of ") and "pass value" in verdict and "Why the others" in verdict
    assert "links" in axis_texts and "year first published" in axis_texts
    assert "% of links nofollow" in axis_texts
    ticks = [t.replace(",", "") for t in axis_texts if t.replace(",", "").isdigit()]
    assert ticks and all("." not in t for t in ticks)
    assert widest <= 1200, "a table or chart wider than the window"
    assert empty_heading == ["No links match"] and empty_charts == 0
    assert errors == []
    assert len(svgs) >= 4 and all(n > 0 for n in svgs), svgs
    assert (tmp_path / "report.png").stat().st_size > 10_000
    print(
        f"report.html: {len(text) // 1024} KB, {len(svgs)} charts; screenshot {tmp_path / 'report.png'}"
    )


def test_exports(crawled: str, tmp_path: Path) -> None:
    conn = connect(crawled)
    total = scalar(conn, "SELECT count(*) FROM links")
    domains = scalar(conn, "SELECT count(DISTINCT domain_id) FROM links WHERE lost_at IS NULL")
    conn.close()
    out = harvest(crawled, "export", "links", "--format", "csv").stdout
    table = list(csv.reader(io.StringIO(out)))
    assert len(table) - 1 == total
    assert all(not c.startswith(("=", "+", "-", "@")) for row in table for c in row)
    # rel is an array in every JSON the project writes; a CSV cell holds its tokens
    records = [
        json.loads(x)
        for x in harvest(crawled, "export", "links", "--format", "jsonl").stdout.splitlines()
    ]
    assert all(isinstance(r["rel"], list) for r in records)
    header = table[0]
    with_rel = [r for r in table[1:] if r[header.index("rel")]]
    assert with_rel and all("[" not in r[header.index("rel")] for r in with_rel)
    lines = harvest(crawled, "export", "domains", "--format", "jsonl").stdout.splitlines()
    assert len(lines) == domains and json.loads(lines[0])["links"] >= json.loads(lines[-1])["links"]
    parquet = tmp_path / "posts.parquet"
    harvest(crawled, "export", "posts", "--format", "parquet", "-o", str(parquet))
    import pyarrow.parquet as pq

    posts = pq.read_table(parquet)
    assert posts.num_rows == 30 and "dofollow_links" in posts.column_names
    for fmt in ("gexf", "graphml"):
        path = tmp_path / f"graph.{fmt}"
        harvest(crawled, "export", "graph", "--format", fmt, "-o", str(path))
        root = ET.parse(path).getroot()  # well-formed XML
        edges = [e for e in root.iter() if e.tag.endswith("edge")]
        assert edges
    edges_csv = harvest(
        crawled, "export", "graph", "--format", "csv-edges", "--level", "author"
    ).stdout
    rows_ = list(csv.DictReader(io.StringIO(edges_csv)))
    assert rows_ and all(r["source"].startswith("author:") for r in rows_)
    assert sum(int(r["links"]) for r in rows_) == scalar_links(crawled)


def scalar_links(dsn: str) -> Any:
    conn = connect(dsn)
    try:
        return scalar(conn, "SELECT count(*) FROM links WHERE lost_at IS NULL")
    finally:
        conn.close()
