"""Parsing off the crawler's own core.

Scrapy runs downloads, scheduling and pipelines on one thread, and parsing a
150 KB page costs a third of that thread's time per page. With
HARVEST_PARSE_WORKERS > 0 pages are parsed in that many child processes, so
the crawler uses a second core.

The children are plain processes spoken to over their stdin/stdout pipes from
the crawler's own asyncio loop: length-prefixed pickles, answered in order. No
executor threads sit between them, because a thread in the crawler that needs
the GIL to pass a page on waits behind the busy main thread for its switch
interval, and concurrent.futures' process pool (two such threads) made crawls
slower, not faster (bench/crawl.py: 250 vs 280 pages/s).

A child that dies (a crash in the HTML parser, the OOM killer) fails the page
it was parsing with that reason; the pages queued behind it go to a new child.
So does a child that spends longer than HARVEST_PARSE_TIMEOUT seconds on one
page: it is killed, and the page is kept as unparsed, so that no page, however
it is built, can hold the crawl's parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import pickle
import signal
import struct
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from harvest import config
from harvest.medium import PageResult, extract

log = logging.getLogger(__name__)

_HEAD = struct.Struct("!I")


class ParserDied(RuntimeError):
    """The child parsing this page exited before answering."""


class ParserError(RuntimeError):
    """extract() raised in the child (it is not meant to)."""


def default_workers() -> int:
    # One child on two or more cores: the crawler's thread keeps one core, the
    # child, PostgreSQL and the network share the other (bench/crawl.py).
    return 1 if (os.cpu_count() or 1) >= 2 else 0


class Parser:
    """extract() inline or in child processes, awaited the same way."""

    # The module whose serve() the children run (tests put a slow one in its place).
    child_module = "harvest.crawl.parse_pool"

    def __init__(self, workers: int, timeout: float = 20.0) -> None:
        if workers < 0:
            raise ValueError("HARVEST_PARSE_WORKERS must be 0 or more")
        self.workers = workers
        self.timeout = timeout
        self._children: list[_Child] = []
        self.restarts = 0
        self.timeouts = 0

    @classmethod
    def from_settings(cls, settings: Any) -> Parser:
        workers = config.value(settings, "HARVEST_PARSE_WORKERS")
        return cls(
            default_workers() if workers is None else workers,
            config.value(settings, "HARVEST_PARSE_TIMEOUT"),
        )

    async def parse(
        self,
        body: bytes | str,
        url: str | None,
        content_type: str | None,
        internal_hosts: Sequence[str],
    ) -> PageResult:
        if not self.workers:
            return extract(body, url, content_type=content_type, internal_hosts=internal_hosts)
        if not self._children:
            self._children = [_Child(self) for _ in range(self.workers)]
        child = min(self._children, key=lambda c: len(c.pending))
        if isinstance(body, str):
            # Text (a rendered page) is sent as UTF-8, and said to be.
            body, content_type = body.encode("utf-8"), "text/html; charset=utf-8"
        try:
            ok, payload = await child.submit(body, (url, content_type, tuple(internal_hosts)))
        except OSError as exc:
            # No child can be started here (no interpreter binary, a process
            # limit): parse in the crawler rather than fail every page.
            if self.workers:
                log.warning("cannot start a parser process (%s): parsing in the crawler", exc)
                await self.aclose()
                self.workers = 0
            return extract(body, url, content_type=content_type, internal_hosts=internal_hosts)
        if not ok:
            raise ParserError(f"parser raised: {payload}")
        result: PageResult = payload
        return result

    async def aclose(self) -> None:
        """Stop the children and wait for them to exit."""
        children, self._children = self._children, []
        await asyncio.gather(*(child.aclose() for child in children))


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEAD.pack(len(data)) + data


class _Page:
    __slots__ = ("frame", "future", "sent_to", "slot")

    def __init__(
        self,
        future: asyncio.Future[tuple[bool, Any]],
        frame: bytes,
        slot: tuple[int, int] | None,
    ) -> None:
        self.future = future
        self.frame = frame
        self.slot = slot
        # The process the frame went to: sent to each process at most once,
        # however a restart and a new page interleave.
        self.sent_to: object = None


class _Ring:
    """Page bodies in memory shared with the child, used as a ring.

    Writing 150 KB into a pipe costs the crawler's thread about as much as
    the child then saves it (several 64 KB writes, each a wake-up of the
    other side); a copy into shared memory is one memcpy, and only the
    offset crosses the pipe. Pages are answered in the order sent, so the
    space in use always runs from the oldest unanswered page to the newest.
    """

    # Room for ~40 pages of 200 KB, twice what a crawl has in flight. Its pages
    # count in the RSS of both processes once touched, so it stays small; a
    # page that does not fit goes by pipe.
    SIZE = 8 * 1024 * 1024

    def __init__(self) -> None:
        self.fd = os.memfd_create("harvest-pages")
        os.ftruncate(self.fd, self.SIZE)
        self.map = mmap.mmap(self.fd, self.SIZE)
        self.head = 0

    def place(self, data: bytes, pending: deque[_Page]) -> tuple[int, int] | None:
        """Where data now lies in the ring, or None when it does not fit."""
        size = len(data)
        if size > self.SIZE:
            return None
        tail = next((p.slot[0] for p in pending if p.slot is not None), None)
        if tail is None:
            start = 0
        elif self.head >= tail:
            if self.head + size <= self.SIZE:
                start = self.head
            elif size < tail:
                start = 0
            else:
                return None
        elif self.head + size < tail:
            start = self.head
        else:
            return None
        self.map[start : start + size] = data
        self.head = start + size
        return start, size

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


class _Child:
    """One child process and the pages sent to it, oldest first."""

    def __init__(self, owner: Parser) -> None:
        self.owner = owner
        self.pending: deque[_Page] = deque()
        self.proc: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self._timed_out = False
        # When the oldest unanswered page became the one the child works on.
        self.head_since = 0.0
        # A child's start (an interpreter and its imports: seconds on a loaded
        # machine) is not parsing: the deadline runs from its ready frame, and
        # a child that never sends one is killed after START_LIMIT.
        self.ready = False
        self.started_at = 0.0
        self.ring = _Ring() if hasattr(os, "memfd_create") else None

    async def submit(self, data: bytes, rest: tuple[Any, ...]) -> tuple[bool, Any]:
        slot = self.ring.place(data, self.pending) if self.ring is not None else None
        frame = _frame((slot, data if slot is None else None, *rest))
        loop = asyncio.get_running_loop()
        page = _Page(loop.create_future(), frame, slot)
        if not self.pending:
            self.head_since = loop.time()
        self.pending.append(page)
        try:
            await self._ensure_started()
        except OSError:
            with contextlib.suppress(ValueError):  # close() may have cleared it
                self.pending.remove(page)
            raise
        self._send_pending()
        return await page.future

    def _send_pending(self) -> None:
        # Everything not yet sent to the current child goes now, oldest first:
        # the child answers in the order it reads, and a page that came while
        # others waited for a start must not overtake them.
        for page in list(self.pending):
            self._send(page)

    def _send(self, page: _Page) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or page.sent_to is proc or page.future.done():
            return
        page.sent_to = proc
        # If the child is gone, the reader sees it and deals with the page.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, RuntimeError):
            proc.stdin.write(page.frame)

    async def _ensure_started(self) -> None:
        if self.proc is not None and self._starting is None:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    # Seconds a child may take to start before it is taken as hung.
    START_LIMIT = 60.0

    async def _start(self) -> None:
        self.ready = False
        self.started_at = asyncio.get_running_loop().time()
        # The package's own location goes on the child's path, so that a
        # crawl run from a scrapyd egg finds harvest in the child too.
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        ring = self.ring
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"from {self.owner.child_module} import serve; "
            f"serve(ring_fd={ring.fd if ring else None}, ring_size={_Ring.SIZE})",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            pass_fds=(ring.fd,) if ring else (),
        )
        self._reader = asyncio.ensure_future(self._read())
        if self._watchdog is None:
            self._watchdog = asyncio.ensure_future(self._watch())
        self._starting = None

    async def _watch(self) -> None:
        """Kill a child stuck on one page for longer than the parse deadline."""
        loop = asyncio.get_running_loop()
        limit = self.owner.timeout
        while not self._closed:
            await asyncio.sleep(min(0.5, limit / 4))
            proc = self.proc
            if not self.pending or proc is None or proc.returncode is not None:
                continue
            if not self.ready:
                if loop.time() - self.started_at > self.START_LIMIT:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                continue
            if loop.time() - self.head_since > limit:
                self._timed_out = True
                self.owner.timeouts += 1
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        try:
            while True:
                head = await stdout.readexactly(_HEAD.size)
                (size,) = _HEAD.unpack(head)
                if size == 0:  # the ready frame: the child's imports are done
                    self.ready = True
                    self.head_since = asyncio.get_running_loop().time()
                    continue
                # Pickles cross only the private pipe between this process and the
                # child it started.
                answer = pickle.loads(await stdout.readexactly(size))  # noqa: S301
                page = self.pending.popleft()
                self.head_since = asyncio.get_running_loop().time()
                if not page.future.done():
                    page.future.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self._died()

    async def _died(self) -> None:
        assert self.proc is not None
        code = await self.proc.wait()
        if self._closed:
            return
        timed_out, self._timed_out = self._timed_out, False
        if self.pending:
            # The oldest page was the one being parsed: it fails with the
            # reason; the rest were never started and go to a new child.
            page = self.pending.popleft()
            self.head_since = asyncio.get_running_loop().time()
            if timed_out:
                why = f"parsing took longer than {self.owner.timeout:g} s (HARVEST_PARSE_TIMEOUT)"
            elif not self.ready:
                why = f"parser process exited with code {code} before it was ready"
            else:
                why = f"parser process exited with code {code} while parsing this page"
            if not page.future.done():
                page.future.set_exception(ParserDied(why))
        if timed_out:
            log.warning(
                "a page took longer than %g s to parse: parsing goes on in a new process",
                self.owner.timeout,
            )
        else:
            log.warning("parser process exited with code %s: starting a new one", code)
        self.owner.restarts += 1
        self.proc = None
        await self._ensure_started()
        self._send_pending()

    async def aclose(self) -> None:
        self._closed = True
        for page in self.pending:
            if not page.future.done():
                page.future.cancel()
        self.pending.clear()
        if self.ring is not None:
            self.ring.close()
            self.ring = None
        if self._starting is not None:
            # A start under way finishes, so that its process is not left behind.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._starting)
        for task in (self._reader, self._watchdog):
            if task is not None:
                task.cancel()
        proc = self.proc
        if proc is None:
            return
        # End of input ends the child's loop; one still busy on a page is
        # killed. Waiting for it lets asyncio close the pipes while the loop
        # still runs (left to the garbage collector, they would find it closed).
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout=2)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def serve(
    ring_fd: int | None = None,
    ring_size: int = 0,
    inp: BinaryIO | None = None,
    out: BinaryIO | None = None,
) -> None:
    """The child's loop: read a page, answer with its PageResult, until end of input."""
    ring = mmap.mmap(ring_fd, ring_size, prot=mmap.PROT_READ) if ring_fd is not None else None
    # Ctrl-C reaches the whole process group: the crawler decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    read = (inp or sys.stdin.buffer).read
    stream = out or sys.stdout.buffer
    stream.write(_HEAD.pack(0))  # ready: an empty frame, which no answer is
    stream.flush()
    while True:
        head = read(_HEAD.size)
        if len(head) < _HEAD.size:
            return
        (size,) = _HEAD.unpack(head)
        slot, body, url, content_type, hosts = pickle.loads(read(size))  # noqa: S301
        if slot is not None and ring is not None:
            body = ring[slot[0] : slot[0] + slot[1]]
        try:
            answer: tuple[bool, Any] = (
                True,
                extract(body, url, content_type=content_type, internal_hosts=hosts),
            )
        except Exception as exc:  # extract() is not meant to raise; say so if it does
            answer = (False, f"{type(exc).__name__}: {exc}")
        stream.write(_frame(answer))
        stream.flush()
