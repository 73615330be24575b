"""Whether the last crawl of this job died, and what of its state may be trusted.

Scrapy's JOBDIR keeps two things across runs: the seen-set of request
fingerprints (``requests.seen``, appended as each request is *scheduled*) and
the pending queue (``requests.queue``, whose positions are written only when
the crawl closes). A crawl closed cleanly (finished, or paused with Ctrl-C)
leaves both consistent, and Scrapy resumes it exactly. A crawl that died
(SIGKILL, out of memory, power loss) leaves a seen-set naming requests that
were never fetched and a queue whose positions are stale: resumed as they are,
every post found before the death is dropped as "seen" and never fetched.

So a job keeps a marker, ``harvest-running.json``, from the moment its crawl
opens to the moment it closes (after Scrapy persisted its queue). A marker
found at the start means the last crawl died. Its seen-set and queue are then
set aside (``died-<time>/``) and the crawl starts them anew: listings are
fetched again, walks resume from the walks file, and posts the dead runs
stored are skipped by asking the store (their run ids are in the marker), so
what a dead run found and did not store is fetched, and nothing is fetched
twice. Without JOBDIR the marker sits beside HARVEST_WALKS_FILE.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harvest.crawl import StartupError

log = logging.getLogger(__name__)

MARKER = "harvest-running.json"
# What Scrapy keeps in JOBDIR that a death leaves inconsistent.
UNTRUSTED = ("requests.seen", "requests.queue")


@dataclass(slots=True)
class ResumeState:
    """The job's marker: where it is, and the runs that died before this one."""

    marker: Path
    dead_runs: list[int] = field(default_factory=list)
    died: bool = False
    set_aside: Path | None = None

    @property
    def jobdir(self) -> Path:
        return self.marker.parent

    def _write(self, run_id: int | None) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "run_id": run_id,
            "dead_runs": self.dead_runs,
        }
        tmp = self.marker.with_name(self.marker.name + ".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, self.marker)

    def record_run(self, run_id: int | None) -> None:
        """The run this crawl writes (the store opened): a death from now on names it."""
        self._write(run_id)

    def release(self) -> None:
        """The crawl closed: whatever Scrapy keeps in the job is consistent again."""
        with contextlib.suppress(FileNotFoundError):
            self.marker.unlink()


def _alive_here(record: dict[str, Any]) -> bool:
    """Whether the marker's process is still running on this machine."""
    if record.get("host") != socket.gethostname():
        return False
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(marker: Path) -> dict[str, Any]:
    try:
        record = json.loads(marker.read_bytes()[:65536])
    except (OSError, ValueError, RecursionError):
        return {}
    return record if isinstance(record, dict) else {}


def _run_ids(record: dict[str, Any]) -> list[int]:
    ids = [r for r in record.get("dead_runs") or [] if isinstance(r, int)]
    run = record.get("run_id")
    if isinstance(run, int):
        ids.append(run)
    return sorted(set(ids))[-1000:]


def claim(jobdir: Path | None, walks_file: Path | None) -> ResumeState | None:
    """Take the job for this crawl; say whether the last one died and set its
    untrusted state aside. None when the crawl keeps no state between runs."""
    if jobdir is not None:
        marker = jobdir / MARKER
    elif walks_file is not None:
        marker = walks_file.with_name(walks_file.name + ".running")
    else:
        return None
    marker.parent.mkdir(parents=True, exist_ok=True)
    state = ResumeState(marker)
    if marker.exists():
        record = _read(marker)
        if _alive_here(record):
            raise StartupError(
                f"{marker.parent} is in use by another crawl (pid {record.get('pid')}); "
                "wait for it, or give this one another JOBDIR"
            )
        state.died = True
        state.dead_runs = _run_ids(record)
        if jobdir is not None:
            state.set_aside = _set_aside(jobdir)
        runs = ", ".join(map(str, state.dead_runs)) or "unknown"
        log.warning(
            "the last crawl of %s died (run %s): %s; posts it stored are skipped, "
            "everything it found and did not store is fetched",
            marker.parent,
            runs,
            f"its seen-set and queue were set aside in {state.set_aside}"
            if state.set_aside
            else "resuming from its walks",
        )
    state._write(None)
    return state


def _set_aside(jobdir: Path) -> Path | None:
    present = [jobdir / name for name in UNTRUSTED if (jobdir / name).exists()]
    if not present:
        return None
    dest = jobdir / time.strftime("died-%Y%m%dT%H%M%S", time.gmtime())
    n = 0
    while dest.exists():
        n += 1
        dest = dest.with_name(f"{dest.name.split('.')[0]}.{n}")
    dest.mkdir()
    for path in present:
        os.replace(path, dest / path.name)
    return dest
