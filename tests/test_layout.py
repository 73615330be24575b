"""The layout's promises, checked on the source: each folder does one job, imports
run one way, SQL lives in harvest/db, and only harvest/compat.py reaches into a
library's private parts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

HARVEST = Path(__file__).resolve().parents[1] / "harvest"
SOURCES = sorted(HARVEST.rglob("*.py"))
# Names with a leading underscore that are public by their libraries' own
# convention (lxml's element class, namedtuple's methods).
PUBLIC_UNDERSCORED = {"_Element", "_asdict", "_replace", "_fields"}
SQL_RE = re.compile(
    r"\b(SELECT\s[^;]*?\bFROM\b|SELECT \w+\(|INSERT INTO|DELETE FROM|UPDATE \w+ SET"
    r"|CREATE (TABLE|INDEX|ROLE|DATABASE)|ALTER (TABLE|ROLE|SYSTEM)|GRANT \w+ ON|REVOKE \w+ ON"
    r"|COPY \w+ \()"
)


def _module(path: Path) -> str:
    parts = path.relative_to(HARVEST.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _in(path: Path, folder: str) -> bool:
    return path.is_relative_to(HARVEST / folder)


@pytest.mark.parametrize("path", [p for p in SOURCES if p.name == "__init__.py"], ids=str)
def test_every_folder_says_its_job_in_its_opening_docstring(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and len(doc) > 40, f"{path} has no docstring saying what the folder is for"


def test_the_parsers_know_nothing_of_scrapy_the_network_or_storage() -> None:
    allowed_harvest = ("harvest.medium", "harvest.links", "harvest.slugs")
    for path in (p for p in SOURCES if _in(p, "medium")):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in ("scrapy", "twisted", "psycopg2", "redis", "playwright"), (path, name)
            if top == "harvest":
                assert name.startswith(allowed_harvest), (path, name)


def test_the_spider_routes_and_imports_no_storage() -> None:
    for name in _imports(HARVEST / "crawl" / "spider.py"):
        assert not name.startswith(("harvest.db", "harvest.pipelines", "psycopg2")), name


def test_analysis_formats_and_queries_nothing() -> None:
    for path in (p for p in SOURCES if _in(p, "analysis")):
        for name in _imports(path):
            assert not name.startswith(("harvest.db", "psycopg2")), (path, name)


@pytest.mark.parametrize("path", [p for p in SOURCES if not _in(p, "db")], ids=str)
def test_sql_lives_in_harvest_db_only(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not SQL_RE.search(node.value), f"{path}:{node.lineno}: {node.value[:80]!r}"


def _own_names() -> set[str]:
    """Every name harvest itself defines (functions, classes, attributes it sets)."""
    names = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_import(node: ast.AST) -> bool:
    if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
        return False
    if node.module.startswith("harvest"):
        return False
    return any(_private(p) for p in node.module.split(".")) or any(
        _private(a.name) for a in node.names
    )


def test_only_compat_touches_private_parts_of_libraries() -> None:
    own = _own_names() - {"_postmaster_info"}  # set by compat on pgserver's object
    offences = []
    for path in SOURCES:
        if path.name == "compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if _private_import(node):
                offences.append(f"{path}:{getattr(node, 'lineno', '?')}: a private import")
            private = None
            if isinstance(node, ast.Attribute):
                private = node.attr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                private = node.args[1].value
            if (
                private
                and private.startswith("_")
                and not private.startswith("__")
                and private not in own
                and private not in PUBLIC_UNDERSCORED
            ):
                offences.append(f"{path}:{getattr(node, 'lineno', '?')}: {private}")
    assert not offences, "private parts of libraries outside harvest/compat.py:\n" + "\n".join(
        offences
    )


def test_the_explorer_reads_through_harvest_db_and_nothing_of_the_crawl() -> None:
    for path in (p for p in SOURCES if _in(p, "explorer")):
        for name in _imports(path):
            assert not name.startswith(
                ("harvest.crawl", "harvest.pipelines", "harvest.frontier", "harvest.cli", "scrapy")
            ), (path, name)
            assert name != "psycopg2", (path, "queries go through harvest.db")
