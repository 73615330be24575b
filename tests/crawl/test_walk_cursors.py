"""harvest.crawl.walk_cursors: a walk's cursor moves once per page, on one machine
(a file that survives a kill) and in Redis (shared by a job's workers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvest.crawl.walk_cursors import LocalWalks, RedisWalks, WalkCursor
from harvest.frontier.schema import KINDS, parse
from harvest.medium.records import PostRef
from tests.frontier.conftest import redis_or_skip


def ref(n: int) -> PostRef:
    return PostRef(
        post_id=f"{n:012x}",
        url=f"https://medium.com/@a/p-{n:012x}",
        published_at="2020-01-01T00:00:00.000Z",
    )


WALK = "https://medium.com/tag/seo/archive"


def test_a_page_moves_the_cursor_once_and_a_repeat_is_refused(tmp_path: Path) -> None:
    walks = LocalWalks(tmp_path / "w.jsonl")
    assert walks.get(WALK) is None
    assert walks.advance(WALK, None, WalkCursor(after="c1", pages=1, posts=2), [ref(1), ref(2)])
    # the same page answered again (asked before a resume): refused
    assert not walks.advance(WALK, None, WalkCursor(after="c1", pages=1, posts=2), [ref(1)])
    assert walks.advance(WALK, "c1", WalkCursor(after=None, pages=2, posts=3, done=True), [ref(3)])
    assert not walks.advance(WALK, "c1", WalkCursor(after="x", pages=3), [])  # done stays done
    walks.close()
    again = LocalWalks(tmp_path / "w.jsonl")
    assert again.get(WALK) == WalkCursor(after=None, pages=2, posts=3, done=True)
    assert [r.post_id for r in again.found()] == [ref(n).post_id for n in (1, 2, 3)]
    again.close()


def test_a_torn_last_line_is_ignored_and_everything_before_it_kept(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    walks = LocalWalks(path)
    walks.advance(WALK, None, WalkCursor(after="c1", pages=1, posts=1), [ref(1)])
    walks.close()
    with path.open("a") as fh:
        fh.write('{"walk": "' + WALK + '", "cursor": {"after": "c2"')  # killed mid-write
    resumed = LocalWalks(path)
    assert resumed.get(WALK) == WalkCursor(after="c1", pages=1, posts=1)
    assert resumed.advance(WALK, "c1", WalkCursor(after="c2", pages=2, posts=2), [ref(2)])
    resumed.close()
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["cursor"]["after"] == "c2"


def _good(n: int, after: str = "c1") -> dict[str, object]:
    r = ref(n)
    return {
        "walk": WALK,
        "cursor": {"after": after, "pages": n, "posts": n},
        "posts": [[r.post_id, r.url, r.published_at]],
    }


TAMPERED = [
    b"not json at all",
    b"[" * 200_000,  # deeper than json's recursion
    b"[]",
    b'{"walk": "' + WALK.encode() + b'", "cursor": {}, "posts": [], "extra": 1}',
    json.dumps({**_good(5), "walk": "file:///etc/passwd"}).encode(),
    json.dumps({**_good(5), "walk": 123}).encode(),
    json.dumps({**_good(5), "cursor": {"after": 123}}).encode(),
    json.dumps({**_good(5), "cursor": {"pages": True}}).encode(),
    json.dumps({**_good(5), "cursor": {"shell": "rm -rf /"}}).encode(),
    json.dumps({**_good(5), "cursor": {"after": "c" * 100_000}}).encode(),  # a huge cursor
    json.dumps({**_good(5), "posts": [["id", "ftp://x/y", None]]}).encode(),
    json.dumps({**_good(5), "posts": [["id", "http://127.0.0.1:6800/x"]]}).encode(),
    json.dumps({**_good(5), "posts": [[1, 2, 3]]}).encode(),
    json.dumps({**_good(5), "posts": "all"}).encode(),
    b'{"walk": "' + b"x" * (3 * 1024 * 1024) + b'"}',  # a line of megabytes
    b"\xff\xfe garbage",
]


def test_a_tampered_walks_file_is_read_line_by_line_and_refused_where_it_lies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.jsonl"
    lines = [json.dumps(_good(1)).encode(), *TAMPERED, json.dumps(_good(2, "c2")).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    walks = LocalWalks(path)
    # the good lines before and after are kept; every tampered one is refused and counted
    assert walks.get(WALK) == WalkCursor(after="c2", pages=2, posts=2)
    assert [r.post_id for r in walks.found()] == [ref(1).post_id, ref(2).post_id]
    # the line of megabytes is read in pieces, each refused
    assert walks.refused >= len(TAMPERED)
    walks.close()


def test_without_a_file_cursors_live_in_memory() -> None:
    walks = LocalWalks(None)
    assert walks.advance(WALK, None, WalkCursor(after="c1", pages=1), [ref(1)])
    assert walks.get(WALK) == WalkCursor(after="c1", pages=1)
    walks.close()


def test_redis_cursors_move_by_compare_and_set() -> None:
    client = redis_or_skip()
    key = "harvest-test:walks"
    client.delete(key)
    try:
        one, two = RedisWalks(client, key), RedisWalks(client, key)  # two workers
        assert one.advance(WALK, None, WalkCursor(after="c1", pages=1), [])
        assert not two.advance(WALK, None, WalkCursor(after="c1", pages=1), [])
        assert two.get(WALK) == WalkCursor(after="c1", pages=1)
        assert two.advance(WALK, "c1", WalkCursor(after=None, pages=2, done=True), [])
        assert not one.advance(WALK, "c1", WalkCursor(after="c9", pages=3), [])
        assert one.get(WALK) == WalkCursor(after=None, pages=2, done=True)
        client.hset(key, WALK, "not json")
        assert one.get(WALK) is None
    finally:
        client.delete(key)


def test_a_walk_request_travels_the_shared_queue_by_its_page_only() -> None:
    assert KINDS["walk"] == ("parse_walk", False)
    entry = parse(json.dumps({"v": 1, "kind": "walk", "url": WALK, "depth": 0}))
    assert entry["url"] == WALK
    with pytest.raises(ValueError, match="fields harvest does not know"):
        parse(json.dumps({"v": 1, "kind": "walk", "url": WALK, "after": "c1"}))
