"""Access to the real Medium pages in tests/medium/pages (see SOURCES.md there)."""

from __future__ import annotations

from pathlib import Path

from harvest.medium import PageResult, extract

PAGES = Path(__file__).parent / "pages"
EXPECTED = Path(__file__).parent / "expected"

_cache: dict[str, PageResult] = {}


def page_bytes(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def all_pages() -> list[str]:
    return sorted(p.name for p in PAGES.iterdir() if p.name != "SOURCES.md")


def parsed(name: str) -> PageResult:
    """Each real page parsed once per test session (results are not mutated)."""
    if name not in _cache:
        _cache[name] = extract(page_bytes(name))
    return _cache[name]
