"""What the report page says where it used to mislead: exceptions that are not
exceptions, ids broken across lines, tags counted in part, 0 % for no data."""

from __future__ import annotations

import json
import re
from typing import Any

from harvest.analysis.report import render
from harvest.db.report_numbers import Filters, report_numbers
from tests.factories import random_world


def _section(page: str, title: str) -> str:
    return page.split(f"<h2>{title}</h2>", 1)[1].split("<h2>", 1)[0]


def test_dofollow_exceptions_leave_out_the_links_that_pass(db: Any) -> None:
    random_world(db, 3, posts=30)
    numbers = report_numbers(db, Filters())
    section = _section(render(numbers), "Dofollow exceptions")
    passing = next(
        r["links"] for r in numbers["verdict"]["dofollow_by_reason"] if r["reason"] == "follow"
    )
    assert f"{passing:,} of them do" in section
    table = section.split("</table>", 1)[0]
    assert '<td data-v="follow">' not in table
    assert re.search(r'<td data-v="page_(noindex|nofollow)">', table)


def test_post_ids_are_never_broken(db: Any) -> None:
    random_world(db, 3, posts=30)
    page = render(report_numbers(db, Filters(domain="github.com")))
    ids = re.findall(r'<td class="id" data-v="([0-9a-f]+)">', page)
    assert ids and all(len(i) == 12 for i in ids)
    assert "td.id { white-space: nowrap" in page


def test_tags_not_crawled_are_said_to_be_partial(db: Any) -> None:
    random_world(db, 3, posts=30)
    with db, db.cursor() as cur:
        cur.execute(
            "INSERT INTO crawl_runs (spider, arguments, status) VALUES ('medium', %s, 'finished')",
            (json.dumps({"tags": ["seo"]}),),
        )
    numbers = report_numbers(db, Filters())
    assert numbers["crawled_tags"] == ["seo"]
    section = _section(render(numbers), "By tag")
    others = [t["tag"] for t in numbers["by_tag"] if t["tag"] != "seo"]
    assert others
    assert f"{len(others):,} of these tags were not crawled themselves" in section
    assert "<th>crawled</th>" in section


def test_an_empty_report_says_no_data_not_zero_percent(db: Any) -> None:
    page = render(report_numbers(db, Filters(domain="nothing.example")))
    cards = page.split('<div class="cards">', 1)[1].split("</div></div>", 1)[0]
    assert "0.0%" not in cards and cards.count("no data") == 4
