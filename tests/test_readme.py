"""README is a front door: its contents list names every section, in order, and
links each to its heading; the layout map comes before the how-to sections."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _outside_code(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def test_the_contents_list_every_section_in_order() -> None:
    text = README.read_text(encoding="utf-8")
    listed_block = text.split("## Contents\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^( *)- \[(.+)\]\(#([^)]+)\)$", listed_block, re.M)
    after = _outside_code(text.split("## Contents\n", 1)[1])
    headings = re.findall(r"^(##|###) (.+)$", after, re.M)
    assert [(len(indent) // 2 + 2, name) for indent, name, _ in listed] == [
        (len(level), name) for level, name in headings
    ], "README's contents list and its headings differ"
    for _, name, anchor in listed:
        assert anchor == _anchor(name), (name, anchor)


def test_the_layout_map_comes_first() -> None:
    text = _outside_code(README.read_text(encoding="utf-8"))
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections[:2] == ["Contents", "Where things live"], sections[:3]
