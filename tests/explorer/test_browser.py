"""The explorer as a person uses it, in real Chromium: from the start page to a
domain, through its backlinks and back, filtered, exported; nothing it shows
runs or loads from elsewhere."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvest.crawl.browser import CHROMIUM_ARGS, playwright_chromium_installed, system_chromium
from harvest.db.connection import connect
from tests.explorer.conftest import Served
from tests.pg import rows


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = None if playwright_chromium_installed() else system_chromium()
    if executable is None and not playwright_chromium_installed():
        pytest.skip("no Chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.on(
        "request",
        lambda r: None if r.url.startswith(served.url) else problems.append(f"request {r.url}"),
    )
    yield opened
    context.close()
    assert not problems, problems


def table_rows(page: Any, section: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in row]
        for row in page.eval_on_selector_all(
            f"section#{section} tbody tr",
            "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText))",
        )
    ]


def test_from_the_start_page_to_a_domain_and_through_its_backlinks(
    page: Any, served: Served
) -> None:
    page.goto(served.url)
    assert "pass value" in page.locator(".verdict").inner_text()
    page.locator("section#domains a", has_text="github.com").first.click()
    page.wait_for_url("**/domain/github.com")
    assert page.locator("h1").inner_text() == "Backlinks to github.com"
    conn = connect(served.dsn)
    live = rows(
        conn,
        "SELECT count(*) FROM links JOIN domains USING (domain_id) "
        "WHERE domain = 'github.com' AND lost_at IS NULL",
    )[0][0]
    conn.close()
    # forward to the last page, then back to the first, by the pager's links
    forward = [table_rows(page, "backlinks")]
    while page.locator("a.next").count():
        with page.expect_navigation():
            page.locator("a.next").click()
        forward.append(table_rows(page, "backlinks"))
    assert len(forward) > 1 and sum(map(len, forward)) == live
    back = [table_rows(page, "backlinks")]
    while page.locator("a.prev").count():
        with page.expect_navigation():
            page.locator("a.prev").click()
        back.append(table_rows(page, "backlinks"))
    assert back[::-1] == forward
    # no row twice: (target, post, anchor, placement) with its page position
    keys = [tuple(r) for p in forward for r in p]
    assert len(keys) == live


def test_filter_by_placement_and_date_then_export_what_is_shown(page: Any, served: Served) -> None:
    page.goto(served.url + "domain/github.com")
    page.select_option("select[name=placement]", "author_bio")
    page.fill("input[name=since]", "2026-02-01")
    page.fill("input[name=until]", "2026-06-30")
    page.locator("form.filters button").click()
    page.wait_for_url("**placement=author_bio**")
    shown = table_rows(page, "backlinks")
    assert shown and all(r[6] == "author_bio" for r in shown)
    assert all("2026-02-01" <= r[8][:10] <= "2026-06-30" for r in shown)
    with page.expect_download() as info:
        page.locator("section#backlinks a.export-csv").click()
    exported = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert [(r["target_url"], r["post_id"]) for r in exported] == [(r[0], r[1]) for r in shown]
    assert all(r["placement"] == "author_bio" for r in exported)


def test_hostile_anchor_text_is_shown_not_run(page: Any, served: Served) -> None:
    page.goto(served.url + "post/0fadedbeef01")
    anchors = [r[1] for r in table_rows(page, "links")]
    assert '<img src=x onerror="document.title=1">' in anchors
    assert "<script>document.title=2</script>" in anchors
    assert page.title().endswith("harvest explorer")
    assert page.locator("section#links img, section#links script").count() == 0
