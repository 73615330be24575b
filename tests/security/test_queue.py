"""A queue entry is data, never code: the shared queue's strict schema.

Entries are rebuilt into the worker's own requests; anything a Scrapy request
could carry beyond harvest's few fields has no way in (real Redis for the
end-to-end case, with a worker that must refuse the poisoned entries, harvest
the good ones and run nothing).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.utils.test import get_crawler

from harvest.crawl.args import CrawlArgs, SpiderArgumentError
from harvest.crawl.spider import MediumSpider
from harvest.frontier import schema
from harvest.sim.server import SimServer
from tests.sim.crawl import finish, start_crawl

REDIS = os.environ.get("HARVEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/")


@pytest.fixture
def spider() -> MediumSpider:
    crawler = get_crawler(
        MediumSpider, {"HARVEST_BROWSER": False, "MEDIUM_BASE_URL": "http://127.0.0.1:9"}
    )
    s: MediumSpider = MediumSpider.from_crawler(crawler, tags="seo")
    return s


def entry(**fields: Any) -> bytes:
    base = {"v": 1, "kind": "article", "url": "https://medium.com/@a/p-0123456789ab"}
    return json.dumps({**base, **fields}).encode()


def test_harvests_own_requests_round_trip(spider: MediumSpider) -> None:
    for kind in schema.KINDS:
        url = "https://medium.com/tag/seo" + ("/archive" if kind == "walk" else "")
        request = spider.request_for(kind, url, depth=0 if kind == "walk" else 2)
        back = schema.decode(schema.encode(request, spider), spider)
        assert back.url == request.url and back.callback == request.callback
        assert back.meta == request.meta
        assert schema.kind_of(back, spider) == kind


POISONED = [
    # what the red team put in request meta, now fields harvest does not know
    {"meta": {"playwright_context_kwargs": {"executable_path": "/bin/sh", "args": ["-c", "id"]}}},
    {"meta": {"proxy": "http://attacker:8080"}},
    {"meta": {"download_maxsize": 0}},
    {"callback": "closed"},
    {"errback": "_problem"},
    {"_class": "os.system"},
    {"headers": {"Cookie": "x"}},
    {"body": "AAAA", "method": "POST"},
    # the fields harvest knows, with values it does not take
    {"url": "file:///etc/passwd"},
    {"url": "http://127.0.0.1:6800/schedule.json"},
    {"url": "https://evil.example/p-0123456789ab"},
    {"url": "https://medium.com/" + "x" * 3000},
    {"kind": "shell"},
    {"kind": "parse_article"},
    {"kind": "walk"},  # a tag page is no walk: a walk names its archive
    {"depth": -1},
    {"depth": "0"},
    {"retry_times": 10**9},
    {"priority": True},
    {"refuse": ["x"]},
    {"v": 2},
]


@pytest.mark.parametrize("poison", POISONED, ids=",".join)
def test_poisoned_entries_are_refused(spider: MediumSpider, poison: dict[str, Any]) -> None:
    with pytest.raises(schema.QueueEntryError):
        schema.decode(entry(**poison), spider)


@pytest.mark.parametrize("data", [b"", b"[]", b"null", b"\x80\x81", b"{" * 5, b"x" * 20000])
def test_not_an_entry_at_all(spider: MediumSpider, data: bytes) -> None:
    with pytest.raises(schema.QueueEntryError):
        schema.decode(data, spider)


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 15_000,
        b"{" * 15_000,
        b'{"v":' + b"[" * 8_000 + b"1" + b"]" * 8_000 + b"}",
        b"[{" * 7_000,
    ],
)
def test_deep_nesting_is_refused_before_it_is_decoded(spider: MediumSpider, data: bytes) -> None:
    assert len(data) <= schema.MAX_ENTRY_BYTES
    with pytest.raises(schema.QueueEntryError, match="nested"):
        schema.decode(data, spider)


def test_brackets_inside_strings_are_no_nesting(spider: MediumSpider) -> None:
    data = entry(refuse="[[[[{{{{" * 100 + '\\"]]')
    assert schema.parse(data)["refuse"].startswith("[[[[")


@given(
    st.binary(max_size=2_000)
    | st.text(max_size=2_000)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=40,
    ).map(lambda v: json.dumps({"v": 1, "kind": "article", "url": v}))
)
@settings(max_examples=300, deadline=None)
def test_no_entry_raises_anything_but_a_refusal(data: bytes | str) -> None:
    with contextlib.suppress(schema.QueueEntryError):
        schema.parse(data)


def test_a_non_bytes_entry_is_refused(spider: MediumSpider) -> None:
    with pytest.raises(schema.QueueEntryError):
        schema.decode(12345, spider)  # type: ignore[arg-type]


def test_scrapy_redis_cannot_fall_back_to_pickle() -> None:
    with pytest.raises(schema.QueueEntryError):
        schema.loads(b"\x80\x04K\x01.")
    with pytest.raises(schema.QueueEntryError):
        schema.dumps({"url": "x"})


def test_a_job_from_the_queue_names_no_local_file(tmp_path: Path) -> None:
    with pytest.raises(SpiderArgumentError, match="urls_file names a file on one machine"):
        CrawlArgs.parse({"urls_file": "/etc/passwd"}, local=False)
    # a local urls_file becomes urls in the job, and its lines are never echoed
    secret = tmp_path / "not-urls.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(SpiderArgumentError) as caught:
        CrawlArgs.parse({"urls_file": str(secret)})
    assert "line 1 is not an http(s) URL" in str(caught.value)
    assert "root:x" not in str(caught.value)
    ok = tmp_path / "urls.txt"
    ok.write_text("https://medium.com/@a/p-0123456789ab\n")
    given = {"urls_file": str(ok), "max_posts": "3"}
    job = CrawlArgs.parse(given).as_job(given)
    assert job["max_posts"] == "3"
    assert job["urls"] == "https://medium.com/@a/p-0123456789ab" and "urls_file" not in job


@pytest.mark.slow
def test_a_worker_refuses_poison_harvests_the_rest_and_runs_nothing(
    db_dsn: str, tmp_path: Path
) -> None:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS + "13")
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS}")
    job = f"t{uuid.uuid4().hex[:10]}"
    marker = tmp_path / "pwned"
    try:
        with SimServer(seed=2, size=6) as sim:
            manifest = sim.manifest()
            urls = [manifest["posts"][p]["url"] for p in sorted(manifest["posts"])[:3]]
            queue = f"harvest:{job}:requests"
            client.set(f"harvest:{job}:args", json.dumps({"urls": ",".join(urls)}))
            client.set(f"harvest:{job}:seeded", "someone")  # no seeding: the queue is all
            poison: list[dict[str, Any]] = [
                {
                    "meta": {
                        "playwright_context_kwargs": {
                            "executable_path": "/bin/sh",
                            "args": ["-c", f"touch {marker}"],
                        }
                    }
                },
                {"url": "file:///etc/passwd"},
                {"callback": "closed"},
            ]
            for p in poison:
                client.lpush(queue, entry(**p))
            # nested past json's recursion limit, under the size cap
            client.lpush(queue, b"[" * 15_000)
            for url in urls:
                client.lpush(queue, entry(url=url))
            err = finish(
                start_crawl(
                    sim.url,
                    db_dsn,
                    [],
                    {
                        "HARVEST_BROWSER": "0",
                        "HARVEST_REDIS_URL": REDIS + "13",
                        "HARVEST_REDIS_JOB": job,
                        "HARVEST_REDIS_IDLE_SECONDS": "1",
                    },
                )
            )
            # the refused entries left the queue and every worker's held set for good
            assert client.llen(queue) == 0
            held = [k for k in client.scan_iter(match=f"harvest:{job}:held:*") if client.hlen(k)]
            assert held == []
    finally:
        for key in client.scan_iter(match=f"harvest:{job}:*"):
            client.delete(key)
    assert not marker.exists()
    assert err.count("refused a shared-queue entry") == 4
    assert "'harvest/frontier/refused': 4" in err
    assert "'harvest/db/pages': 3" in err
    assert "/etc/passwd" not in err.replace("file:///etc/passwd", "")  # not read, only named
