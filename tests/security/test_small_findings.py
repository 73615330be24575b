"""The smaller findings: terminal escapes, masked secrets, a report's script, short
exports, planted links."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from harvest.analysis import output
from harvest.crawl.unparsed import UnparsedStore
from harvest.pipelines.normalize import NormalizePipeline
from harvest.secrets import mask_dsn
from tests.factories import T0, make_link, make_page
from tests.pipelines.test_postgres import close, make_pipeline

BIN = Path(sys.executable).parent


def test_tables_show_escape_sequences_instead_of_sending_them() -> None:
    out = io.StringIO()
    anchor = "click\x1b]0;pwned\x07 \x1b[2J\u202etxt.exe"
    output.write(out, "table", ["anchor_text"], [(anchor,)])
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b]0;pwned\\x07" in text and "\\u202e" in text
    # data formats keep the text as it is (JSON escapes it, CSV quotes it)
    out = io.StringIO()
    output.write(out, "json", ["anchor_text"], [(anchor,)])
    assert json.loads(out.getvalue())["anchor_text"] == anchor


@pytest.mark.parametrize(
    ("dsn", "secret"),
    [
        ("postgresql://harvest:s3cr3t@db:5432/h", "s3cr3t"),
        ("postgresql://harvest:s3cr3t@db/h?sslpassword=k3y&application_name=x", "k3y"),
        ("postgresql://harvest@db/h?password=s3cr3t", "s3cr3t"),
        ("host=db user=harvest password=s3cr3t", "s3cr3t"),
        ("host=db user=harvest password='two words s3cr3t' dbname=h", "s3cr3t"),
        ("unix://:s3cr3t@/run/redis/redis.sock?db=0", "s3cr3t"),
        ("unix:///run/redis/redis.sock?password=s3cr3t&db=0", "s3cr3t"),
        ("rediss://worker:s3cr3t@redis.internal:6380/1", "s3cr3t"),
        ("https://harvest:s3cr3t@crawl.example.org/", "s3cr3t"),
    ],
)
def test_every_password_of_a_dsn_is_masked(dsn: str, secret: str) -> None:
    masked = mask_dsn(dsn)
    assert secret not in masked and "***" in masked
    assert secret not in mask_dsn(masked)


def test_enqueue_prints_a_unix_socket_redis_url_masked() -> None:
    # The URL is refused before any connection (no such socket): what it says matters.
    proc = subprocess.run(
        [
            str(BIN / "harvest"),
            "enqueue",
            "tags=seo",
            "--redis",
            "unix://:s3cr3t@/nonexistent.sock",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "s3cr3t" not in proc.stdout + proc.stderr


def test_a_title_cannot_break_the_reports_script(db_dsn: str, tmp_path: Path) -> None:
    title = "<!--<script>alert(1)</script>--> & </script><script>x"
    p, stats = make_pipeline(db_dsn)
    page = make_page("0123456789ab", [make_link("https://a.example/", 0)], T0, title=title)

    async def scenario() -> None:
        await p.open_spider()
        await p.process_item(await NormalizePipeline(stats).process_item(page))
        await close(p)

    asyncio.run(scenario())
    report = tmp_path / "r.html"
    env = {**os.environ, "DATABASE_URL": db_dsn}
    subprocess.run(
        [str(BIN / "harvest"), "report", "--domain", "a.example", "-o", str(report)],
        env=env,
        check=True,
        capture_output=True,
    )
    tree = LexborHTMLParser(report.read_text())
    scripts = tree.css("script")
    assert len(scripts) == 2
    numbers = json.loads(scripts[0].text())
    assert title in json.dumps(numbers, ensure_ascii=False)  # the same text, escaped
    assert "sort" in scripts[1].text()  # the sort script came through whole


def test_an_export_that_fails_half_way_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "links.parquet"
    target.write_bytes(b"an older, complete export")

    def rows() -> Any:
        yield [(1, "a")]
        raise RuntimeError("the connection dropped")

    from harvest.analysis.exports import write_rows

    with pytest.raises(RuntimeError), output.atomic_path(target) as path:
        write_rows(["n", "s"], rows(), "parquet", path)
    assert target.read_bytes() == b"an older, complete export"  # not cut short
    assert [p.name for p in tmp_path.iterdir()] == ["links.parquet"]  # no partial left


def test_output_to_a_fifo_or_through_a_link_leaves_them_what_they_are(tmp_path: Path) -> None:
    # `-o /dev/null` once replaced the machine's /dev/null with a regular file
    # (as root): what is not a regular file is written in place.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with output.atomic_path(fifo) as path, path.open("w") as fh:
        fh.write("report")
    reader.join(timeout=10)
    assert got == [b"report"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    # a link keeps pointing where it did; what it points to gets the output
    real = tmp_path / "real.html"
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    with output.atomic_path(link) as path:
        path.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.html", "pipe", "real.html"]


def test_the_unparsed_store_does_not_follow_planted_links(tmp_path: Path) -> None:
    store = UnparsedStore(tmp_path / "kept")
    (tmp_path / "kept").mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    url = "https://medium.com/@a/x-0123456789ab"
    # the names a save used to write through: <key>.html.tmp and <key>.html
    first = store.save(url, b"<html>first", "r")
    for name in (first.name, first.name + ".tmp", first.with_suffix(".json").name + ".tmp"):
        path = tmp_path / "kept" / name
        path.unlink(missing_ok=True)
        path.symlink_to(victim)
    store.save(url, b"<html>second", "r")
    assert victim.read_text() == "precious"
    assert not first.is_symlink() and first.read_bytes() == b"<html>second"
    # and reparse never reads through a link it finds
    (tmp_path / "kept" / "planted.json").symlink_to(victim)
    assert [k.url for k in store] == [url]


def test_reparse_reads_only_regular_files_of_its_own_and_says_what_it_skipped(
    tmp_path: Path, db_dsn: str
) -> None:
    kept = tmp_path / "kept"
    store = UnparsedStore(kept)
    url = "https://medium.com/@a/x-0123456789ab"
    good = store.save(url, b"<html><body>not a post</body></html>", "r")
    outside = tmp_path / "secret.html"
    outside.write_text("<html>the operator's file</html>")
    meta = json.dumps({"url": "https://medium.com/@a/y-0123456789ac"})
    planted: dict[str, Callable[[Path], object]] = {
        # a link out of the directory, under a name harvest would read
        "link": lambda p: p.with_suffix(".html").symlink_to(outside),
        # a FIFO: a read would wait for ever
        "fifo": lambda p: os.mkfifo(p.with_suffix(".html")),
        # a directory where the page should be
        "dir": lambda p: p.with_suffix(".html").mkdir(),
        # a page of more than any response the crawl accepts (sparse: no disk used)
        "huge": lambda p: os.truncate(_touch(p.with_suffix(".html")), 64 * 1024 * 1024),
        # binary garbage is read, and simply not recognized
        "binary": lambda p: p.with_suffix(".html").write_bytes(os.urandom(4096)),
    }
    for name, plant in planted.items():
        meta_path = kept / f"{name}.json"
        meta_path.write_text(meta)
        plant(meta_path)
    (kept / "bigmeta.json").write_bytes(b'{"url": "' + b"x" * 200_000 + b'"}')
    (kept / "bigmeta.html").write_text("<html></html>")
    (kept / "deep.json").write_bytes(b"[" * 100_000)
    (kept / "deep.html").write_text("<html></html>")
    (kept / "metalink.json").symlink_to(outside)
    (kept / "metalink.html").write_text("<html></html>")
    env = {**os.environ, "DATABASE_URL": db_dsn, "HARVEST_UNPARSED_DIR": str(kept)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "harvest"), "reparse"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # the good page and the binary one were read (neither is a post); seven were skipped
    assert "0 pages; 2 still not recognized; 7 files skipped" in done.stdout, done.stdout
    for name in ("link", "fifo", "dir", "huge", "bigmeta", "deep", "metalink"):
        assert f"{name}." in done.stderr, (name, done.stderr)
    assert outside.read_text() == "<html>the operator's file</html>"
    assert good.exists()


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path
