"""Pages per second and peak memory: harvest's spider beside a bare Scrapy spider and advertools.

All three fetch the same list of simulated Medium article pages (tests/sim,
rendered once to disk at 50-320 KB each, like real pages) from one local
static server (nginx when installed, else a Python one), at the same
concurrency:

* harvest:    `scrapy crawl medium -a urls_file=...` with its pipelines
              (parse, normalize, store in a fresh database: on the server
              DATABASE_URL names when set, else an embedded PostgreSQL);
* bare:       a Scrapy spider that only downloads (bench/bare_spider.py);
* advertools: `advertools.crawl(urls, follow_links=False)` (list mode), run
              from its own virtual environment (.bench-venv/, made on first use).

Each runs as its own process; peak RSS is sampled over the process tree.

    .venv/bin/python bench/crawl.py [--pages 10000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harvest.db.connection import Embedded  # noqa: E402
from harvest.medium.urls import MediumUrls  # noqa: E402
from harvest.settings import CONCURRENT_ITEMS as HARVEST_CONCURRENT_ITEMS  # noqa: E402
from harvest.settings import METAREFRESH_ENABLED as HARVEST_METAREFRESH  # noqa: E402
from tests.sim.model import build_world  # noqa: E402
from tests.sim.render import article_page  # noqa: E402

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
    """`-s` arguments of a benchmark crawl: fixed concurrency, no throttling, INFO log.

    CONCURRENT_ITEMS and METAREFRESH_ENABLED are harvest's own values for every
    crawler measured: Scrapy starts CONCURRENT_ITEMS tasks per response, and
    looks for a meta refresh in every HTML body; with Scrapy's defaults (100,
    on) a bare spider is ~40 % slower, which would flatter harvest.
    """
    settings: dict[str, object] = {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "CONCURRENT_ITEMS": HARVEST_CONCURRENT_ITEMS,
        "METAREFRESH_ENABLED": HARVEST_METAREFRESH,
        "AUTOTHROTTLE_ENABLED": 0,
        "DOWNLOAD_DELAY": 0,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": 0,
        **extra,
    }
    return [arg for key, value in settings.items() for arg in ("-s", f"{key}={value}")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
            handler = partial(SimpleHTTPRequestHandler, directory=str(self.root))
            handler.log_message = lambda *a: None  # type: ignore[method-assign]
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


def fresh_database(dsn: str) -> str:
    import psycopg2
    from psycopg2 import sql
    from psycopg2.extensions import make_dsn, parse_dsn

    name = f"harvest_bench_{os.getpid()}"
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    return make_dsn(**{**parse_dsn(dsn), "dbname": name})


def drop_database(dsn: str, bench_dsn: str) -> None:
    import psycopg2
    from psycopg2 import sql
    from psycopg2.extensions import parse_dsn

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        name = parse_dsn(bench_dsn)["dbname"]
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


def advertools_python() -> str:
    venv = ROOT / ".bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", ADVERTOOLS], check=True)
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
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
    conc = str(args.concurrency)
    common = crawl_settings(args.concurrency)
    bin_dir = Path(sys.executable).parent
    results: dict[str, tuple[float, float]] = {}
    with StaticServer(site) as server:
        print(f"serving with {server.kind} at {server.url}", flush=True)
        mapping = MediumUrls.from_base(server.url)
        fetch_urls = [mapping.fetch_url(u) for u in medium_urls]
        (work / "medium_urls.txt").write_text("\n".join(medium_urls))
        (work / "fetch_urls.txt").write_text("\n".join(fetch_urls))
        env = dict(os.environ)
        server_db = os.environ.get("DATABASE_URL")
        if server_db:
            # A fresh database on the named server, dropped afterwards.
            env["DATABASE_URL"] = fresh_database(server_db)
        else:
            # Started here, before any clock runs: creating the cluster takes
            # seconds that a harvest run against an existing server never pays.
            env["HARVEST_PGDATA"] = str(work / "pgdata")
            Embedded(work / "pgdata").start(keep_running=True)

        # The baseline with harvest's settings, then, for reference only, with
        # Scrapy's defaults for the two that harvest changes.
        scrapy_defaults = crawl_settings(
            args.concurrency, CONCURRENT_ITEMS=100, METAREFRESH_ENABLED=True
        )
        for name, settings in (("bare", common), ("bare_defaults", scrapy_defaults)):
            results[name] = run_measured(
                [
                    str(bin_dir / "scrapy"),
                    "runspider",
                    str(ROOT / "bench" / "bare_spider.py"),
                    "-a",
                    f"urls_file={work / 'fetch_urls.txt'}",
                    *settings,
                ],
                env,
                work,
            )
            print(
                f"{name}: {args.pages / results[name][0]:7.0f} pages/s, "
                f"peak {results[name][1]:.0f} MB",
                flush=True,
            )
        results["harvest"] = run_measured(
            [
                str(bin_dir / "scrapy"),
                "crawl",
                "medium",
                "-a",
                f"urls_file={work / 'medium_urls.txt'}",
                "-a",
                "recrawl=1",
                "-s",
                f"MEDIUM_BASE_URL={server.url}",
                *common,
                *[x for kv in args.harvest_setting for x in ("-s", kv)],
            ],
            env,
            ROOT,
        )
        print(
            f"harvest:    {args.pages / results['harvest'][0]:7.0f} pages/s, peak {results['harvest'][1]:.0f} MB",
            flush=True,
        )
        if not args.skip_advertools:
            py = advertools_python()
            script = (
                "import advertools as adv, sys\n"
                "urls = open(sys.argv[1]).read().split()\n"
                # allowed_domains: advertools would otherwise allow "127.0.0.1:PORT",
                # which Scrapy's offsite filter never matches, and drop every URL.
                f"adv.crawl(urls, sys.argv[2], follow_links=False, allowed_domains=['127.0.0.1'],"
                f" custom_settings={{"
                f"'CONCURRENT_REQUESTS': {conc}, 'CONCURRENT_REQUESTS_PER_DOMAIN': {conc},"
                f"'CONCURRENT_ITEMS': {HARVEST_CONCURRENT_ITEMS},"
                f"'METAREFRESH_ENABLED': {HARVEST_METAREFRESH},"
                f"'AUTOTHROTTLE_ENABLED': False, 'DOWNLOAD_DELAY': 0, 'LOG_LEVEL': 'INFO'}})\n"
            )
            # advertools starts `scrapy` from PATH: its own venv's.
            adv_env = {**env, "PATH": f"{Path(py).parent}{os.pathsep}{env.get('PATH', '')}"}
            results["advertools"] = run_measured(
                [py, "-c", script, str(work / "fetch_urls.txt"), str(work / "advertools.jl")],
                adv_env,
                work,
            )
            crawled = (work / "advertools.jl").read_text().count("\n")
            if crawled < args.pages * 0.99:
                raise RuntimeError(f"advertools crawled only {crawled} of {args.pages} pages")
            print(
                f"advertools: {args.pages / results['advertools'][0]:7.0f} pages/s, "
                f"peak {results['advertools'][1]:.0f} MB",
                flush=True,
            )
    if server_db:
        drop_database(server_db, env["DATABASE_URL"])
    else:
        Embedded(work / "pgdata").stop()
    rate = {k: args.pages / v[0] for k, v in results.items()}
    adv_rate = rate.get("advertools", float("nan"))
    print(
        f"RESULT harvest_pages_per_s={rate['harvest']:.0f} bare_pages_per_s={rate['bare']:.0f} "
        f"advertools_pages_per_s={adv_rate:.0f} vs_bare={rate['harvest'] / rate['bare']:.2f} "
        f"vs_advertools={rate['harvest'] / adv_rate:.1f} peak_rss_mb={results['harvest'][1]:.0f} "
        f"bare_defaults_pages_per_s={rate['bare_defaults']:.0f}"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
