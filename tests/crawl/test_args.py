"""harvest.crawl.args: each spider argument declared once, README's table made
from the declarations, and the rules between arguments in one place."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from harvest.crawl.args import KNOWN, CrawlArgs, SpiderArgumentError, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_arguments_table_is_the_declarations() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- arguments: start -->\n") + len("<!-- arguments: start -->\n")
    end = text.index("<!-- arguments: end -->")
    assert text[start:end] == markdown_table(), (
        "README's spider argument table differs from harvest.crawl.args: paste "
        "`python -c 'from harvest.crawl.args import markdown_table; print(markdown_table())'`"
    )


def test_every_argument_is_declared_with_its_reader_example_and_help() -> None:
    for f in fields(CrawlArgs):
        assert callable(f.metadata["read"]), f.name
        assert f.metadata["example"] and len(f.metadata["help"]) > 15, f.name
    assert KNOWN == tuple(f.name for f in fields(CrawlArgs))


def test_each_example_in_the_table_parses() -> None:
    for f in fields(CrawlArgs):
        example = f.metadata["example"]
        if example in ("N", "PATH", "slug,...", "https://..."):
            continue
        raw = {f.name: example, "tags": "seo"}
        if f.name == "depth":
            raw["follow"] = "authors"
        CrawlArgs.parse(raw)


def test_following_means_one_step_unless_a_depth_is_given() -> None:
    assert CrawlArgs.parse({"tags": "seo", "follow": "tags"}).depth == 1
    assert CrawlArgs.parse({"tags": "seo", "follow": "tags", "depth": "3"}).depth == 3
    with pytest.raises(SpiderArgumentError, match="depth needs -a follow"):
        CrawlArgs.parse({"tags": "seo", "depth": "2"})


def test_urls_file_adds_to_urls_on_this_machine_only(tmp_path: Path) -> None:
    listed = tmp_path / "urls.txt"
    listed.write_text("# mine\nhttps://medium.com/p/abcdef012345\n")
    args = CrawlArgs.parse({"urls": "https://medium.com/p/0123456789ab", "urls_file": str(listed)})
    assert args.urls == ("https://medium.com/p/0123456789ab", "https://medium.com/p/abcdef012345")
    assert "urls_file" not in args.as_record()
    with pytest.raises(SpiderArgumentError, match="names a file on one machine"):
        CrawlArgs.parse({"urls_file": str(listed)}, local=False)


def test_an_unknown_argument_is_named_with_the_known_ones() -> None:
    with pytest.raises(SpiderArgumentError) as caught:
        CrawlArgs.parse({"tag": "seo"})
    assert "unknown argument(s) tag" in str(caught.value)
    assert ", ".join(KNOWN) in str(caught.value)
