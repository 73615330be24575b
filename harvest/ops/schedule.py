"""Scheduled crawls on scrapyd: the schedule file, scrapyd's JSON API, due jobs.

``harvest schedule`` reads the schedule (deploy/schedule.toml), asks scrapyd
which jobs are pending or running, and posts each crawl whose period has come
round and whose previous run has ended. When each job was last posted is kept
in a small state file, so a restarted scrapyd (whose job list is in memory)
does not make every crawl due at once.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs

from harvest import config
from harvest.crawl.args import CrawlArgs, SpiderArgumentError
from harvest.ops import credentials
from harvest.secrets import mask_dsn

_EVERY_RE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
# scrapyd job ids are "<job name>--<UTC timestamp>", so a job's runs are found by prefix.
_ID_SEP = "--"


class ScheduleError(ValueError):
    pass


class ScrapydError(RuntimeError):
    pass


def parse_every(text: str) -> timedelta:
    m = _EVERY_RE.match(str(text))
    if not m or int(m.group(1)) == 0:
        raise ScheduleError(f"every = {text!r}: write a period like 30m, 6h, 1d or 1w")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def _expand(value: str) -> str:
    expanded = os.path.expandvars(value)
    if "${" in expanded or expanded.startswith("$"):
        raise ScheduleError(f"{value!r} names an environment variable that is not set")
    return expanded


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: timedelta
    spider: str = "medium"
    args: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)

    def resolved_args(self, now: datetime) -> dict[str, str]:
        """The arguments as posted: @today / @yesterday filled in."""
        day = now.date()
        words = {"@today": day.isoformat(), "@yesterday": (day - timedelta(days=1)).isoformat()}
        out = {}
        for key, value in self.args.items():
            for word, iso in words.items():
                value = value.replace(word, iso)
            out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Schedule:
    url: str
    project: str
    jobs: tuple[Job, ...]

    @classmethod
    def load(cls, path: str | Path, url: str | None = None) -> Schedule:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScheduleError(f"{path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScheduleError(f"{path}: {exc}") from None
        server = data.get("scrapyd") or {}
        target = _scrapyd_url(url, server)
        project = str(server.get("project", "harvest"))
        jobs: list[Job] = []
        for i, raw in enumerate(data.get("job") or []):
            job = _job(raw, f"{path}: job {i + 1}")
            if any(j.name == job.name for j in jobs):
                raise ScheduleError(f"{path}: job {i + 1}: a second job named {job.name!r}")
            jobs.append(job)
        return cls(url=target.rstrip("/"), project=project, jobs=tuple(jobs))


def _scrapyd_url(given: str | None, server: dict[str, Any]) -> str:
    """The scrapyd to post to: given, else SCRAPYD_URL, else the file's, else local."""
    target = given or os.environ.get("SCRAPYD_URL") or _expand(str(server.get("url", "")))
    target = target or "http://127.0.0.1:6800"
    if not target.startswith(("http://", "https://")):
        raise ScheduleError(f"scrapyd url {target!r} is not http(s)")
    return target


def _job(raw: dict[str, Any], where: str) -> Job:
    """One ``[[job]]`` table, checked: its name, its period, and a medium job's
    arguments as the spider would parse them at the time of the next run."""
    name = str(raw.get("name", ""))
    if not _NAME_RE.match(name) or _ID_SEP in name:
        raise ScheduleError(f"{where}: name {name!r} must be letters, digits, . _ -")
    job = Job(
        name=name,
        every=parse_every(raw.get("every", "")),
        spider=str(raw.get("spider", "medium")),
        args={str(k): str(v) for k, v in (raw.get("args") or {}).items()},
        settings={str(k): str(v) for k, v in (raw.get("settings") or {}).items()},
    )
    if job.spider == "medium":
        try:
            CrawlArgs.parse(job.resolved_args(datetime.now(UTC)))
        except SpiderArgumentError as exc:
            raise ScheduleError(f"{where} ({name}): {exc}") from None
    return job


class Scrapyd:
    """scrapyd's JSON API over HTTP basic auth (harvest.ops.credentials: the
    environment's pair, else the credentials file ``harvest scrapyd`` made)."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None):
        if not url.startswith(("http://", "https://")):
            raise ScrapydError(f"scrapyd url {url!r} is not http(s)")
        self.url = url.rstrip("/")
        if username is None:
            try:
                username, password = credentials.current() or ("", "")
            except credentials.CredentialsError as exc:
                raise ScrapydError(str(exc)) from None
        user, pw = username, password or ""
        self._auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode() if user else None

    def _call(self, endpoint: str, data: list[tuple[str, str]] | None = None, **query: str) -> Any:
        url = f"{self.url}/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body)  # noqa: S310 (checked: http(s))
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
                payload = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise ScrapydError(
                    f"scrapyd at {mask_dsn(self.url)} refused the credentials "
                    "(set SCRAPYD_USERNAME and SCRAPYD_PASSWORD)"
                ) from None
            raise ScrapydError(f"scrapyd {endpoint}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ScrapydError(f"cannot reach scrapyd at {mask_dsn(self.url)}: {exc}") from None
        if payload.get("status") != "ok":
            raise ScrapydError(f"scrapyd {endpoint}: {payload.get('message', payload)}")
        return payload

    def list_jobs(self, project: str) -> dict[str, list[dict[str, Any]]]:
        payload = self._call("listjobs.json", project=project)
        return {k: payload.get(k, []) for k in ("pending", "running", "finished")}

    def schedule(
        self, project: str, spider: str, jobid: str, args: dict[str, str], settings: dict[str, str]
    ) -> str:
        data = [("project", project), ("spider", spider), ("jobid", jobid)]
        data += [("setting", f"{k}={v}") for k, v in settings.items()]
        data += list(args.items())
        return str(self._call("schedule.json", data=data)["jobid"])


class State:
    """When each job was last posted (UTC), kept in a JSON file."""

    def __init__(self, path: str | Path | None = None) -> None:
        default = Path(platformdirs.user_data_dir("harvest")) / "schedule-state.json"
        self.path = Path(path or config.value(None, "HARVEST_SCHEDULE_STATE") or default)
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = {}
        self.last: dict[str, datetime] = {}
        for name, stamp in raw.items():
            try:
                self.last[name] = datetime.fromisoformat(stamp)
            except (TypeError, ValueError):
                continue

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: v.isoformat() for k, v in self.last.items()}, indent=1))
        tmp.replace(self.path)


@dataclass(frozen=True, slots=True)
class Decision:
    job: str
    action: str  # posted | skipped-running | not-due | would-post
    detail: str = ""


def job_name_of(jobid: str) -> str:
    return jobid.split(_ID_SEP, 1)[0]


def run_once(
    schedule: Schedule,
    client: Scrapyd,
    state: State,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[Decision]:
    now = now or datetime.now(UTC)
    listing = client.list_jobs(schedule.project)
    active = {job_name_of(str(j.get("id", ""))) for j in [*listing["pending"], *listing["running"]]}
    decisions = []
    for job in schedule.jobs:
        last = state.last.get(job.name)
        if job.name in active:
            decisions.append(Decision(job.name, "skipped-running", "previous run not finished"))
            continue
        if last is not None and now - last < job.every:
            decisions.append(
                Decision(job.name, "not-due", f"next at {(last + job.every):%Y-%m-%d %H:%M}Z")
            )
            continue
        jobid = f"{job.name}{_ID_SEP}{now:%Y%m%dT%H%M%SZ}"
        if dry_run:
            decisions.append(Decision(job.name, "would-post", jobid))
            continue
        posted = client.schedule(
            schedule.project, job.spider, jobid, job.resolved_args(now), job.settings
        )
        state.last[job.name] = now
        state.save()
        decisions.append(Decision(job.name, "posted", posted))
    return decisions
