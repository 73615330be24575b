"""PostgresPipeline against a real server: batching, timers, run rows, lost connections."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

import harvest.db.store as store
from harvest.contract.signals import crawl_outcome
from harvest.contract.tally import decide
from harvest.db.connection import Embedded, connect
from harvest.db.store_config import ConfigError, DbConfig
from harvest.pipelines.postgres import PostgresPipeline
from tests.factories import T0, make_link, make_page
from tests.pg import rows, scalar, with_database


def make_pipeline(dsn: str, **settings: Any) -> tuple[PostgresPipeline, Any]:
    crawler = get_crawler(
        Spider, {"HARVEST_DATABASE_URL": dsn, "HARVEST_DB_RETRY_MAX_DELAY": 0.5, **settings}
    )
    crawler.spider = Spider(name="medium")
    crawler.spider.harvest_arguments = {"tags": ["seo"]}  # type: ignore[attr-defined]
    crawler.stats.open_spider()
    return PostgresPipeline.from_crawler(crawler), crawler.stats


async def close(p: PostgresPipeline, reason: str = "finished") -> None:
    """The spider closes: the pipeline's close, then the crawl's outcome (which ends the
    run row), as the outcome extension sends it."""
    await p.close_spider()
    outcome = decide(p.crawler.stats.get_stats(), reason)
    await p.crawler.signals.send_catch_log_async(signal=crawl_outcome, outcome=outcome)


def pages(n: int, links_each: int = 3, start: int = 0, at: Any = T0) -> list[Any]:
    return [
        make_page(
            f"{i:012x}",
            [make_link(f"https://site{i % 50}.example/{i}/{j}", j) for j in range(links_each)],
            at,
        )
        for i in range(start, start + n)
    ]


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # the pipeline under test gets its DSN from the setting
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("HARVEST_PGDATA", raising=False)


def test_batches_by_size_and_records_the_run(db_dsn: str) -> None:
    p, stats = make_pipeline(db_dsn, HARVEST_DB_BATCH_PAGES=10, HARVEST_DB_FLUSH_INTERVAL=60)

    async def scenario() -> None:
        await p.open_spider()
        for item in pages(25):
            assert await p.process_item(item) is item
        # two full batches went to the writers, the last five are still buffered
        await p.drain()
        assert stats.get_value("harvest/db/batches") == 2
        conn = connect(db_dsn)
        assert scalar(conn, "SELECT count(*) FROM posts") == 20
        conn.close()
        await close(p)

    asyncio.run(scenario())
    conn = connect(db_dsn)
    assert scalar(conn, "SELECT count(*) FROM posts") == 25
    assert scalar(conn, "SELECT count(*) FROM links") == 75
    run = rows(
        conn, "SELECT spider, arguments, status, finished_at IS NOT NULL, counts FROM crawl_runs"
    )
    assert len(run) == 1
    spider, args, status, finished, counts = run[0]
    assert (spider, args, status, finished) == ("medium", {"tags": ["seo"]}, "finished", True)
    assert counts["harvest/db/pages"] == 25 and counts["harvest/db/links"] == 75
    assert scalar(conn, "SELECT count(DISTINCT last_run_id) FROM posts") == 1
    conn.close()


def test_flushes_on_a_timer(db_dsn: str) -> None:
    p, stats = make_pipeline(db_dsn, HARVEST_DB_BATCH_PAGES=1000, HARVEST_DB_FLUSH_INTERVAL=0.2)

    async def scenario() -> None:
        await p.open_spider()
        for item in pages(3):
            await p.process_item(item)
        await asyncio.sleep(1.0)
        assert stats.get_value("harvest/db/batches") == 1
        await close(p)

    asyncio.run(scenario())


def test_connection_killed_mid_batch_is_retried_once_and_writes_once(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, stats = make_pipeline(db_dsn, HARVEST_DB_BATCH_PAGES=1000, HARVEST_DB_FLUSH_INTERVAL=60)
    real_copy = store.copy_text
    killed: list[int] = []

    def copy_then_kill(cur: Any, table: str, columns: Any, data: Any) -> int:
        sent = real_copy(cur, table, columns, data)
        if table == "links" and not killed:
            # Another session terminates ours after the COPY, inside the batch's transaction.
            pid = cur.connection.get_backend_pid()
            admin = connect(db_dsn)
            admin.autocommit = True
            with admin.cursor() as c:
                c.execute("SELECT pg_terminate_backend(%s)", (pid,))
            admin.close()
            killed.append(pid)
        return sent

    monkeypatch.setattr(store, "copy_text", copy_then_kill)

    async def scenario() -> None:
        await p.open_spider()
        for item in pages(40, 5):
            await p.process_item(item)
        await close(p)

    asyncio.run(scenario())
    assert killed
    assert stats.get_value("harvest/db/retries") == 1
    conn = connect(db_dsn)
    assert scalar(conn, "SELECT count(*) FROM links") == 200
    assert scalar(conn, "SELECT count(*) FROM posts") == 40
    conn.close()


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[tuple[Embedded, str]]:
    """An embedded server of this test's own, so it can be stopped and restarted."""
    embedded = Embedded(tmp_path / "pg")
    dsn = embedded.start()
    conn = connect(dsn)
    from harvest.db.migrate import migrate

    migrate(conn)
    conn.close()
    yield embedded, dsn
    embedded.stop()


def test_server_restart_mid_crawl_loses_nothing(private_server: tuple[Embedded, str]) -> None:
    embedded, dsn = private_server
    p, stats = make_pipeline(
        dsn, HARVEST_DB_BATCH_PAGES=20, HARVEST_DB_FLUSH_INTERVAL=60, HARVEST_DB_RETRIES=30
    )

    async def scenario() -> None:
        await p.open_spider()
        for item in pages(20):
            await p.process_item(item)  # one batch written
        embedded.stop()
        restarter = threading.Timer(1.5, embedded.restart)
        restarter.start()
        started = time.monotonic()
        for item in pages(30, start=20):
            await p.process_item(item)  # handed to a writer: the crawl does not wait
        await p.drain()  # the writer retries until the server is back
        assert time.monotonic() - started >= 1.0
        restarter.join()
        await close(p)

    asyncio.run(scenario())
    assert stats.get_value("harvest/db/retries") >= 1
    conn = connect(dsn)
    assert scalar(conn, "SELECT count(*) FROM posts") == 50
    assert scalar(conn, "SELECT count(*) FROM links") == 150
    assert scalar(conn, "SELECT status FROM crawl_runs") == "finished"
    conn.close()


def test_recrawl_through_the_pipeline_marks_lost(db_dsn: str) -> None:
    p1, _ = make_pipeline(db_dsn)
    p2, stats = make_pipeline(db_dsn)

    async def crawl(p: PostgresPipeline, items: list[Any]) -> None:
        await p.open_spider()
        for item in items:
            await p.process_item(item)
        await close(p)

    asyncio.run(crawl(p1, pages(5, 3)))
    asyncio.run(crawl(p2, pages(5, 2, at=T0 + timedelta(days=7))))
    assert stats.get_value("harvest/db/links_lost") == 5
    conn = connect(db_dsn)
    assert scalar(conn, "SELECT count(*) FROM links WHERE lost_at IS NOT NULL") == 5
    assert scalar(conn, "SELECT count(*) FROM crawl_runs") == 2
    conn.close()


def test_config_rejects_bad_combinations(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be combined"):
        DbConfig.from_settings(
            {"HARVEST_PGDATA": str(tmp_path)}, {"DATABASE_URL": "postgresql://x/y"}
        )
    with pytest.raises(ConfigError, match="at least 1"):
        DbConfig.from_settings({"HARVEST_DB_BATCH_PAGES": 0}, {})
    with pytest.raises(ConfigError, match="whole number"):
        DbConfig.from_settings({"HARVEST_DB_BATCH_LINKS": "many"}, {})
    with pytest.raises(ConfigError, match="postgresql://"):
        DbConfig.from_settings({"HARVEST_DATABASE_URL": "mysql://x"}, {})
    config = DbConfig.from_settings({}, {"DATABASE_URL": "postgresql://db.example/h"})
    assert config.dsn == "postgresql://db.example/h"
    crawler = get_crawler(Spider, {"HARVEST_DB_ENABLED": False})
    with pytest.raises(NotConfigured):
        PostgresPipeline.from_crawler(crawler)
    crawler = get_crawler(Spider, {"HARVEST_DB_BATCH_PAGES": -1})
    with pytest.raises(NotConfigured, match="HARVEST_DB_BATCH_PAGES"):
        PostgresPipeline.from_crawler(crawler)


def test_with_database_keeps_socket_options() -> None:
    assert with_database("postgresql://postgres:@/postgres?host=/tmp/s", "h") == (
        "postgresql://postgres:@/h?host=/tmp/s"
    )


def test_nul_bytes_through_both_pipelines_are_stored_clean(db_dsn: str) -> None:
    from harvest.pipelines.normalize import NormalizePipeline

    p, stats = make_pipeline(db_dsn)
    normalize = NormalizePipeline(stats)
    dirty = make_page(
        "0123456789ab",
        [
            make_link("https://a.example/", 0, text="nul\x00byte"),
            make_link("https://b.example/", 1),
        ],
        T0,
        title="ti\x00tle",
    )

    async def scenario() -> None:
        await p.open_spider()
        await p.process_item(await normalize.process_item(dirty))
        await close(p)

    asyncio.run(scenario())
    conn = connect(db_dsn)
    assert rows(conn, "SELECT anchor_text FROM links ORDER BY position") == [("nulbyte",), ("t",)]
    assert scalar(conn, "SELECT title FROM posts") == "title"
    conn.close()
    assert stats.get_value("harvest/normalize/repaired/text") == 2


HOSTILE = [
    "\u202egnp.exe",  # right-to-left override
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "'; DROP TABLE links; --",
    "<script>alert(1)</script>",
    "lone \udcff surrogate",
    "tab\tand\nnewline",
]


def test_hostile_text_is_stored_verbatim_and_exported_safely(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io

    from harvest import cli
    from harvest.pipelines.normalize import NormalizePipeline

    p, stats = make_pipeline(db_dsn)
    normalize = NormalizePipeline(stats)
    links = [
        make_link(f"https://hostile.example/{i}?q=%27%3B", i, text=text)
        for i, text in enumerate(HOSTILE)
    ]
    page = make_page("0123456789ab", links, T0, title="=1+1 <b>")

    async def scenario() -> None:
        await p.open_spider()
        await p.process_item(await normalize.process_item(page))
        await close(p)

    asyncio.run(scenario())
    conn = connect(db_dsn)
    stored = [r[0] for r in rows(conn, "SELECT anchor_text FROM links ORDER BY position")]
    assert scalar(conn, "SELECT count(*) FROM links") == len(HOSTILE)  # the table survived
    conn.close()
    # verbatim, except the one thing PostgreSQL cannot hold (a lone surrogate)
    assert stored == [t.replace("\udcff", "\ufffd") for t in HOSTILE]

    monkeypatch.setenv("DATABASE_URL", db_dsn)
    assert cli.main(["backlinks", "hostile.example", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    table = list(csv.reader(io.StringIO(out)))
    header, body = table[0], table[1:]
    anchors = [row[header.index("anchor_text")] for row in body]
    assert len(anchors) == len(HOSTILE)
    for cell in (c for row in body for c in row):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    print(f"{len(HOSTILE)} hostile anchors stored verbatim, CSV cells neutralized")


def test_a_run_records_arguments_learnt_after_it_started(db_dsn: str) -> None:
    # A distributed worker started before its job's arguments were stored
    # takes them later; the run row must end with them, not with none.
    p, _ = make_pipeline(db_dsn)
    spider = p.crawler.spider
    spider.harvest_arguments = {}

    async def scenario() -> None:
        await p.open_spider()
        spider.harvest_arguments = {"sitemap": "2024-01-01..2024-01-03"}
        await close(p)

    asyncio.run(scenario())
    conn = connect(db_dsn)
    assert scalar(conn, "SELECT arguments FROM crawl_runs") == {"sitemap": "2024-01-01..2024-01-03"}
    conn.close()
