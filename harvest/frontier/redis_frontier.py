"""The Redis side of the shared frontier: held requests, heartbeats, job arguments."""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from typing import Any

import redis

from harvest.frontier.redis_config import FrontierConfig

log = logging.getLogger(__name__)

# Taking a request and recording it as held must be one step: a worker killed
# between the two would otherwise lose the request.
# One round trip does both directions: queue what this worker has produced
# (skipping fingerprints already in the seen-set), then take up to as many
# requests as tokens were given and record them as held. Round trips, not
# Redis, are what cost on a busy machine.
#   ARGV = n_push, fp1, data1, ..., fpN, dataN, token1, token2, ...
_EXCHANGE = """
local n = tonumber(ARGV[1])
local added = 0
for i = 0, n - 1 do
  local fp = ARGV[2 + 2 * i]
  if fp == '' or redis.call('SADD', KEYS[1], fp) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[3 + 2 * i])
    added = added + 1
  end
end
local out = {added}
for j = 2 + 2 * n, #ARGV do
  local d = redis.call('RPOP', KEYS[2])
  if not d then break end
  redis.call('HSET', KEYS[3], ARGV[j], d)
  out[#out + 1] = ARGV[j]
  out[#out + 1] = d
end
return out
"""
# A worker's held requests go back to the front of the queue, unless the
# worker is alive (its heartbeat key exists). ARGV[1] = '1' skips that check.
_RETURN = """
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local held = redis.call('HVALS', KEYS[1])
for _, d in ipairs(held) do redis.call('RPUSH', KEYS[3], d) end
redis.call('DEL', KEYS[1])
return #held
"""


class Frontier:
    """One worker's handle on a job's shared frontier."""

    def __init__(self, config: FrontierConfig, server: Any = None) -> None:
        self.config = config
        self.server = server if server is not None else redis.Redis.from_url(config.url)
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.queue_key = config.key("requests")
        self.seen_key = config.key("seen")
        self.args_key = config.key("args")
        # Publication domains the job's workers learnt from Medium's own pages.
        self.domains_key = config.key("domains")
        self.seeded_key = config.key("seeded")
        # GraphQL walks' cursors (harvest.crawl.walk_cursors.RedisWalks)
        self.walks_key = config.key("walks")
        self.held_key = self._held_key(self.worker)
        self.alive_key = self._alive_key(self.worker)
        self._exchange = self.server.register_script(_EXCHANGE)
        self._releases: list[str] = []
        self._outbox: list[tuple[str, bytes]] = []
        self.pushed = self.added = 0
        self._return = self.server.register_script(_RETURN)
        self._serial = 0
        # Worker-local bookkeeping: a held request is released once its
        # callback has finished and every item it produced is stored.
        self._pending_items: dict[str, int] = {}
        self._callback_done: set[str] = set()
        self._item_tokens: dict[int, str] = {}

    def _held_key(self, worker: str) -> str:
        return self.config.key(f"held:{worker}")

    def _alive_key(self, worker: str) -> str:
        return self.config.key(f"alive:{worker}")

    # -- job arguments --------------------------------------------------------------

    def set_job(self, args: dict[str, Any]) -> None:
        """Store the job's crawl arguments; the next worker to start seeds the queue."""
        pipe = self.server.pipeline()
        pipe.set(self.args_key, json.dumps(args, sort_keys=True))
        pipe.delete(self.seeded_key)
        pipe.execute()

    def job_args(self) -> dict[str, Any] | None:
        raw = self.server.get(self.args_key)
        return json.loads(raw) if raw else None

    def add_domain(self, host: str) -> None:
        self.server.sadd(self.domains_key, host)

    def has_domain(self, host: str) -> bool:
        return bool(self.server.sismember(self.domains_key, host))

    def claim_seeding(self) -> bool:
        """True for exactly one worker per enqueued job: that one yields the start requests."""
        return bool(self.server.set(self.seeded_key, self.worker, nx=True))

    # -- taking and releasing requests ------------------------------------------------

    def push(self, fingerprint: str | None, data: bytes) -> None:
        """Queue a request unless its fingerprint is in the seen-set (None: no check).

        Pushes are sent with the next exchange (at the latest within a quarter
        second, and before any request this worker holds is released, so a
        request is never released before the requests it produced are queued).
        """
        self._outbox.append((fingerprint or "", data))
        if len(self._outbox) >= 64:
            self.exchange(0)

    def exchange(self, take: int) -> list[tuple[str, bytes]]:
        outbox, self._outbox = self._outbox, []
        tokens = []
        for _ in range(take):
            self._serial += 1
            tokens.append(str(self._serial))
        args: list[Any] = [len(outbox)]
        for fp, data in outbox:
            args += [fp, data]
        try:
            flat = self._exchange(
                keys=[self.seen_key, self.queue_key, self.held_key], args=args + tokens
            )
        except Exception:
            self._outbox[:0] = outbox
            raise
        self.pushed += len(outbox)
        self.added += int(flat[0])
        taken = []
        for i in range(1, len(flat), 2):
            token = flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i])
            self._pending_items[token] = 0
            taken.append((token, flat[i + 1]))
        return taken

    @property
    def unsent(self) -> int:
        return len(self._outbox)

    def _release(self, token: str) -> None:
        self._pending_items.pop(token, None)
        self._callback_done.discard(token)
        # Released in batches (flush_releases, on the scheduler's timer): should
        # this process die first, those requests are fetched again, which is
        # safe, as storing is idempotent. Never sent from here: a retry copy is
        # released just before it is pushed (harvest.frontier.tokens), and the
        # flush sends pushes first.
        self._releases.append(token)

    def flush_releases(self) -> None:
        if self._outbox:
            self.exchange(0)
        if self._releases:
            tokens, self._releases = self._releases, []
            try:
                self.server.hdel(self.held_key, *tokens)
            except Exception:
                self._releases.extend(tokens)
                raise

    def retried(self, token: str) -> None:
        """The request went back into the queue as a retry: this copy is done."""
        self._release(token)

    def discard(self, token: str) -> None:
        """An entry taken from the queue that is no request of harvest's: dropped."""
        self._release(token)

    def callback_done(self, token: str) -> None:
        if token not in self._pending_items:
            return
        if self._pending_items[token] == 0:
            self._release(token)
        else:
            self._callback_done.add(token)

    def hold_item(self, token: str, item: Any) -> None:
        if token in self._pending_items:
            self._pending_items[token] += 1
            self._item_tokens[id(item)] = token

    def item_done(self, item: Any) -> None:
        token = self._item_tokens.pop(id(item), None)
        if token is not None:
            self._one_done(token)

    def hold_child(self, token: str) -> None:
        """A request made from this token's response: done once it is queued."""
        if token in self._pending_items:
            self._pending_items[token] += 1

    def child_queued(self, token: str) -> None:
        self._one_done(token)

    def _one_done(self, token: str) -> None:
        if token not in self._pending_items:
            return
        self._pending_items[token] -= 1
        if self._pending_items[token] <= 0 and token in self._callback_done:
            self._release(token)

    def return_unstarted(self, tokens: list[str]) -> None:
        """Requests taken but never started (prefetched at close) go back first in line."""
        if not tokens:
            return
        pipe = self.server.pipeline()
        for token in tokens:
            self._pending_items.pop(token, None)
        values = self.server.hmget(self.held_key, tokens)
        for value in values:
            if value is not None:
                pipe.rpush(self.queue_key, value)
        pipe.hdel(self.held_key, *tokens)
        pipe.execute()

    # -- liveness -------------------------------------------------------------------

    def heartbeat(self) -> None:
        self.server.set(self.alive_key, "1", px=int(self.config.heartbeat_ttl * 1000))

    def reclaim_orphans(self) -> int:
        """Put the held requests of workers whose heartbeat lapsed back in the queue."""
        moved = 0
        for key in self.server.scan_iter(match=self.config.key("held:*"), count=500):
            key = key.decode() if isinstance(key, bytes) else key
            worker = key.rsplit("held:", 1)[1]
            if worker == self.worker:
                continue
            n = int(self._return(keys=[key, self._alive_key(worker), self.queue_key], args=["0"]))
            if n:
                log.warning("worker %s stopped with %d requests in hand: re-queued", worker, n)
                moved += n
        return moved

    def give_back(self) -> int:
        """On close: anything still held (a batch that could not be stored) is re-queued."""
        self.flush_releases()
        n = int(self._return(keys=[self.held_key, self.alive_key, self.queue_key], args=["1"]))
        self.server.delete(self.alive_key)
        return n

    def queued(self) -> int:
        return int(self.server.llen(self.queue_key))

    def held_anywhere(self) -> int:
        total = 0
        for key in self.server.scan_iter(match=self.config.key("held:*"), count=500):
            total += int(self.server.hlen(key))
        return total

    def workers_alive(self) -> int:
        return sum(1 for _ in self.server.scan_iter(match=self.config.key("alive:*"), count=500))

    def reset_seen(self) -> None:
        """A new pass over the job: its pages are due again, and its walks start over
        (the database's record of complete walks still keeps them incremental)."""
        self.server.delete(self.seen_key, self.walks_key)
