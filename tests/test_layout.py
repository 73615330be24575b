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


# -- imports run one way, down README's table ------------------------------------------

README = HARVEST.parent / "README.md"


def _layers() -> list[tuple[str, ...]]:
    """README's "Where things live" rows, top to bottom: the paths each names."""
    text = README.read_text()
    section = text.split("\n## Where things live\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `harvest"):
            first = line.split("|")[1]
            rows.append(tuple(re.findall(r"`(harvest[^`]*)`", first)))
    return rows


MODULES = {_module(p) for p in SOURCES}


def _row_of(module: str, layers: list[tuple[str, ...]]) -> int | None:
    path = "harvest/__init__" if module == "harvest" else module.replace(".", "/")
    best: tuple[int, int] | None = None
    for i, paths in enumerate(layers):
        for p in paths:
            stem = p.removesuffix(".py").rstrip("/")
            inside = path == stem or path.startswith(stem + "/")
            if inside and (best is None or len(stem) > best[1]):
                best = (i, len(stem))
    return None if best is None else best[0]


def _harvest_imports(path: Path) -> set[str]:
    """The harvest modules ``path`` imports, wherever in it (a function's import
    counts the same): ``from harvest import config`` is harvest.config."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("harvest"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("harvest"):
                continue
            subs = {f"{node.module}.{a.name}" for a in node.names} & MODULES
            found.update(subs or {node.module})
    return found


def test_readme_names_a_row_for_every_module() -> None:
    layers = _layers()
    assert len(layers) > 10, "README's layout table was not found"
    homeless = [_module(p) for p in SOURCES if _row_of(_module(p), layers) is None]
    assert not homeless, f"modules with no row in README's layout table: {homeless}"


def _upward(pairs: list[tuple[str, str]], layers: list[tuple[str, ...]]) -> list[str]:
    """Of (module, what it imports), those that run up the table."""
    wrong = []
    for here, name in pairs:
        row, there = _row_of(here, layers), _row_of(name, layers)
        if row is not None and there is not None and there < row:
            wrong.append(f"{here} (row {row + 1}) imports {name} (row {there + 1})")
    return wrong


def test_imports_run_down_the_readme_table() -> None:
    pairs = [(_module(p), name) for p in SOURCES for name in _harvest_imports(p)]
    wrong = _upward(pairs, _layers())
    assert not wrong, "imports that run up README's layout table:\n" + "\n".join(wrong)


def test_no_two_modules_import_each_other_even_through_others() -> None:
    modules = {_module(p): p for p in SOURCES}
    graph = {m: _harvest_imports(p) & modules.keys() - {m} for m, p in modules.items()}
    # A package's __init__ that gathers its modules is not a way back up.
    for m in graph:
        graph[m] = {
            n for n in graph[m] if not (modules[n].name == "__init__.py" and m.startswith(n + "."))
        }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append([*trail[trail.index(n) :], n] if n in trail else [m, n])
            elif n not in state:
                visit(n, [*trail, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "modules that import each other: " + "; ".join(
        " -> ".join(c) for c in cycles
    )


@pytest.mark.parametrize(
    ("here", "imported"),
    [
        ("harvest.frontier.tokens", "harvest.crawl.spider"),
        ("harvest.pipelines.postgres", "harvest.crawl.outcome"),
        ("harvest.medium.article", "harvest.crawl.args"),
        ("harvest.db.queries", "harvest.analysis.output"),
        ("harvest.links", "harvest.medium.urls"),
    ],
)
def test_a_wrong_way_import_is_caught(here: str, imported: str) -> None:
    assert _upward([(here, imported)], _layers()), f"{here} importing {imported} went unseen"
    assert not _upward([(imported, here)], _layers())


# -- one home for each default ---------------------------------------------------------


def test_classes_read_from_settings_take_their_defaults_from_the_declaration() -> None:
    """A class built ``from_settings`` declares no default of its own: a literal
    there is a second home for a HARVEST_* setting's default."""
    offences = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            if "from_settings" not in methods:
                continue
            for item in node.body:
                if (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.value, ast.Constant)
                    and item.value.value is not None
                ):
                    offences.append(f"{path}:{item.lineno}: {ast.unparse(item)}")
    assert not offences, "\n".join(offences)
