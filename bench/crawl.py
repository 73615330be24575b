"""Pages per second and peak memory: harvest's spider beside a bare Scrapy spider and advertools.

All fetch the same list of simulated Medium article pages (tests/sim, rendered
once to disk at 50-320 KB each, like real pages) from one local static server
(nginx when installed, else a Python one), at the same concurrency:

* harvest:    `scrapy crawl medium -a urls_file=...` with its pipelines
              (parse, normalize, store in a fresh database each round: on the
              server DATABASE_URL names when set, else an embedded PostgreSQL);
* bare:       a Scrapy spider that only downloads (bench/bare_spider.py), on
              Scrapy's defaults: the baseline the issue measured (~500 pages/s);
* advertools: `advertools.crawl(urls, follow_links=False)` (list mode) on its
              defaults, from its own virtual environment (.bench-venv/, made on
              first use);
* bare_tuned, advertools_tuned: the same two with the two settings harvest
              tunes that cost any spider (TUNED below). The stricter comparison:
              what harvest adds over downloading, with nothing else different.

Each runs as its own process, whole (start-up included); peak RSS is sampled
over the process tree. Rounds alternate the order; figures are medians, peak
RSS the highest of the rounds.

    .venv/bin/python bench/crawl.py [--pages 10000] [--concurrency 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harvest.db.connection import Embedded  # noqa: E402
from harvest.medium.urls import MediumUrls  # noqa: E402
from harvest.settings import CONCURRENT_ITEMS as HARVEST_CONCURRENT_ITEMS  # noqa: E402
from harvest.settings import METAREFRESH_ENABLED as HARVEST_METAREFRESH  # noqa: E402
from harvest.sim.model import build_world  # noqa: E402
from harvest.sim.render import article_page  # noqa: E402
from tests.pg import Server  # noqa: E402

ADVERTOOLS = "advertools==0.18.0"


def render_site(pages: int, out: Path) -> list[str]:
    world = build_world(seed=5, size=pages)
    urls = []
    for post in world.posts:
        rel = post.path if post.host == "medium.com" else f"_host/{post.host}/{post.path}"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_page(world, post), encoding="utf-8")
        urls.append(post.url)
    (out / "robots.txt").write_text("User-agent: *\nDisallow: /m/\n")
    return urls


def crawl_settings(concurrency: int, **extra: object) -> list[str]:
    """`-s` arguments of a benchmark crawl: fixed concurrency, no throttling, INFO log."""
    settings: dict[str, object] = {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "AUTOTHROTTLE_ENABLED": 0,
        "DOWNLOAD_DELAY": 0,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": 0,
        **extra,
    }
    return [arg for key, value in settings.items() for arg in ("-s", f"{key}={value}")]


# The two Scrapy settings harvest changes from Scrapy's defaults that also cost
# a spider that does nothing: Scrapy starts CONCURRENT_ITEMS tasks per response,
# and looks for a meta refresh in every HTML body. The "tuned" baselines get
# harvest's values; a bare spider is ~50 % faster with them (450 -> 687 pages/s).
TUNED: dict[str, object] = {
    "CONCURRENT_ITEMS": HARVEST_CONCURRENT_ITEMS,
    "METAREFRESH_ENABLED": HARVEST_METAREFRESH,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _QuietFiles(SimpleHTTPRequestHandler):
    """The fallback file server, without a log line per request (it would cost a core)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StaticServer:
    """nginx on the rendered site when available, else Python's threaded server."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.kind = "nginx" if shutil.which("nginx") else "python"
        self._proc: subprocess.Popen[bytes] | None = None
        self._httpd: ThreadingHTTPServer | None = None

    def __enter__(self) -> StaticServer:
        if self.kind == "nginx":
            conf = self.root.parent / "nginx.conf"
            conf.write_text(
                f"worker_processes 1; pid {self.root.parent}/nginx.pid; error_log /dev/null;"
                "daemon off; events { worker_connections 1024; }"
                f"http {{ access_log off; default_type text/html; sendfile on; keepalive_requests 100000;"
                f" server {{ listen 127.0.0.1:{self.port}; root {self.root}; location / {{ }} }} }}"
            )
            self._proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(self.root.parent)])
            time.sleep(0.5)
            if self._proc.poll() is not None:
                raise RuntimeError(f"nginx did not start with {conf}")
        else:
            handler = partial(_QuietFiles, directory=str(self.root))
            self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
            threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()
        if self._httpd is not None:
            self._httpd.shutdown()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command's process tree.

    An embedded PostgreSQL started by the crawl is a child too, but it is the
    database server, not the crawler (its shared buffers alone are 512 MB when
    touched), so postgres processes are left out of the figure.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            rss = sum(
                p.memory_info().rss for p in procs if p.is_running() and p.name() != "postgres"
            )
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed:\n{err[-3000:]}")
    return elapsed, peak / 1e6


def advertools_python() -> str:
    venv = ROOT / ".bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", ADVERTOOLS], check=True)
    return str(python)


def advertools_script(concurrency: int, extra: dict[str, object]) -> str:
    custom = {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "LOG_LEVEL": "INFO",
        **extra,
    }
    return (
        "import advertools as adv, sys\n"
        "urls = open(sys.argv[1]).read().split()\n"
        # allowed_domains: advertools would otherwise allow "127.0.0.1:PORT",
        # which Scrapy's offsite filter never matches, and drop every URL.
        "adv.crawl(urls, sys.argv[2], follow_links=False, allowed_domains=['127.0.0.1'],"
        f" custom_settings={custom!r})\n"
    )


class Bench:
    """One crawler of each kind per round, on the same site and list."""

    def __init__(
        self, args: argparse.Namespace, work: Path, server: StaticServer, db: Server
    ) -> None:
        self.args = args
        self.work = work
        self.server = server
        self.db = db
        self.bin_dir = Path(sys.executable).parent
        self.env = dict(os.environ)
        # Each harvest round gets DATABASE_URL of its own database.
        self.env.pop("DATABASE_URL", None)
        self.pages = args.pages

    def run(self, kind: str, round_no: int) -> tuple[float, float]:
        conc = self.args.concurrency
        work = self.work
        if kind.startswith("bare"):
            extra = TUNED if kind == "bare_tuned" else {}
            return run_measured(
                [
                    str(self.bin_dir / "scrapy"),
                    "runspider",
                    str(ROOT / "bench" / "bare_spider.py"),
                    "-a",
                    f"urls_file={work / 'fetch_urls.txt'}",
                    *crawl_settings(conc, **extra),
                ],
                self.env,
                work,
            )
        if kind.startswith("advertools"):
            py = advertools_python()
            script = advertools_script(conc, TUNED if kind == "advertools_tuned" else {})
            out = work / f"{kind}-{round_no}.jl"
            # advertools starts `scrapy` from PATH: its own venv's.
            env = {**self.env, "PATH": f"{Path(py).parent}{os.pathsep}{self.env.get('PATH', '')}"}
            result = run_measured(
                [py, "-c", script, str(work / "fetch_urls.txt"), str(out)], env, work
            )
            crawled = out.read_text().count("\n")
            out.unlink()
            if crawled < self.pages * 0.99:
                raise RuntimeError(f"{kind} crawled only {crawled} of {self.pages} pages")
            return result
        # harvest, into a database of its own each round: a second crawl of the
        # same posts would update rows instead of inserting them.
        name = f"harvest_bench_{os.getpid()}_{round_no}"
        dsn = self.db.create(name)
        try:
            return run_measured(
                [
                    str(self.bin_dir / "scrapy"),
                    "crawl",
                    "medium",
                    "-a",
                    f"urls_file={work / 'medium_urls.txt'}",
                    "-a",
                    "recrawl=1",
                    "-s",
                    f"MEDIUM_BASE_URL={self.server.url}",
                    *crawl_settings(conc),
                    *[x for kv in self.args.harvest_setting for x in ("-s", kv)],
                ],
                {**self.env, "DATABASE_URL": dsn},
                ROOT,
            )
        finally:
            self.db.drop(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="medians over this many rounds")
    parser.add_argument("--skip-advertools", action="store_true")
    parser.add_argument(
        "--harvest-setting",
        action="append",
        default=[],
        help="extra -s NAME=VALUE for the harvest crawl (to compare variants)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="harvest-bench-crawl-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user
    site = work / "site"
    t0 = time.perf_counter()
    medium_urls = render_site(args.pages, site)
    size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    print(
        f"rendered {len(medium_urls)} pages, {size / 1e6:.0f} MB, in {time.perf_counter() - t0:.0f}s",
        flush=True,
    )
    kinds = ["harvest", "bare", "bare_tuned"]
    if not args.skip_advertools:
        kinds += ["advertools", "advertools_tuned"]
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    peaks: dict[str, list[float]] = {k: [] for k in kinds}
    embedded = None
    with StaticServer(site) as server:
        print(f"serving with {server.kind} at {server.url}", flush=True)
        mapping = MediumUrls.from_base(server.url)
        (work / "medium_urls.txt").write_text("\n".join(medium_urls))
        (work / "fetch_urls.txt").write_text("\n".join(mapping.fetch_url(u) for u in medium_urls))
        admin_dsn = os.environ.get("DATABASE_URL")
        if not admin_dsn:
            # Started here, before any clock runs: creating the cluster takes
            # seconds that a harvest run against an existing server never pays.
            embedded = Embedded(work / "pgdata")
            admin_dsn = embedded.start(keep_running=True)
        bench = Bench(args, work, server, Server(admin_dsn, embedded))
        try:
            for round_no in range(args.rounds):
                # Each round starts with a different crawler, so that none is
                # always the one measured while the machine is busiest.
                shift = round_no % len(kinds)
                for kind in kinds[shift:] + kinds[:shift]:
                    elapsed, peak = bench.run(kind, round_no)
                    rates[kind].append(args.pages / elapsed)
                    peaks[kind].append(peak)
                    print(
                        f"round {round_no + 1} {kind:17s} {args.pages / elapsed:7.0f} pages/s,"
                        f" peak {peak:.0f} MB",
                        flush=True,
                    )
        finally:
            if embedded is not None:
                embedded.stop()
    rate = {k: statistics.median(v) for k, v in rates.items()}
    nan = float("nan")
    adv, adv_tuned = rate.get("advertools", nan), rate.get("advertools_tuned", nan)
    print(
        f"RESULT harvest_pages_per_s={rate['harvest']:.0f} bare_pages_per_s={rate['bare']:.0f} "
        f"advertools_pages_per_s={adv:.0f} vs_bare={rate['harvest'] / rate['bare']:.2f} "
        f"vs_advertools={rate['harvest'] / adv:.1f} peak_rss_mb={max(peaks['harvest']):.0f} "
        f"bare_tuned_pages_per_s={rate['bare_tuned']:.0f} "
        f"vs_bare_tuned={rate['harvest'] / rate['bare_tuned']:.2f} "
        f"advertools_tuned_pages_per_s={adv_tuned:.0f} "
        f"vs_advertools_tuned={rate['harvest'] / adv_tuned:.1f}"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
