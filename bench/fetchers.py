"""Pages per second of the download handlers harvest can fetch with, side by side.

The download-only spider (bench/bare_spider.py) fetches the same list of
simulated article pages from one local static server (nginx when installed)
with each handler, one process each, start-up included, rounds alternating
the order; figures are medians:

* scrapy:       Scrapy's own HTTP/1.1 client (Twisted), harvest's default;
* impersonate:  scrapy-impersonate over curl_cffi, as Chrome (what
                HARVEST_FETCHER=impersonate uses);
* curl_cffi:    scrapy-curl-cffi over the same curl_cffi, as Chrome (the other
                well-kept handler of the kind; skipped when not installed:
                ``pip install scrapy-curl-cffi``).

    .venv/bin/python bench/fetchers.py [--pages 3000] [--concurrency 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from crawl import StaticServer, crawl_settings, render_site, run_measured  # noqa: E402

from harvest.medium.urls import MediumUrls  # noqa: E402

# handler class, the meta each request carries, the module it needs
HANDLERS: dict[str, tuple[str | None, dict[str, object], str | None]] = {
    "scrapy": (None, {}, None),
    "impersonate": (
        "scrapy_impersonate.ImpersonateDownloadHandler",
        {"impersonate": "chrome"},
        "scrapy_impersonate",
    ),
    "curl_cffi": (
        "scrapy_curl_cffi.handlers.CurlCffiDownloadHandler",
        {"curl_cffi_options": {"impersonate": "chrome"}},
        "scrapy_curl_cffi",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kinds = [
        k
        for k, (_, _, module) in HANDLERS.items()
        if not module or importlib.util.find_spec(module)
    ]
    for missing in sorted(set(HANDLERS) - set(kinds)):
        print(f"{missing}: not installed, left out", flush=True)
    work = Path(tempfile.mkdtemp(prefix="harvest-bench-fetchers-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user
    urls = render_site(args.pages, work / "site")
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    bin_dir = Path(sys.executable).parent
    with StaticServer(work / "site") as server:
        mapping = MediumUrls.from_base(server.url)
        listed = work / "fetch_urls.txt"
        listed.write_text("\n".join(mapping.fetch_url(u) for u in urls))
        print(f"{args.pages} pages served by {server.kind} at {server.url}", flush=True)
        for round_no in range(args.rounds):
            shift = round_no % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                handler, meta, _ = HANDLERS[kind]
                extra = {}
                if handler:
                    extra["DOWNLOAD_HANDLERS"] = json.dumps({"http": handler, "https": handler})
                elapsed, _peak = run_measured(
                    [
                        str(bin_dir / "scrapy"),
                        "runspider",
                        str(ROOT / "bench" / "bare_spider.py"),
                        "-a",
                        f"urls_file={listed}",
                        "-a",
                        f"meta={json.dumps(meta)}",
                        *crawl_settings(
                            args.concurrency,
                            TWISTED_REACTOR="twisted.internet.asyncioreactor.AsyncioSelectorReactor",
                            **extra,
                        ),
                    ],
                    {},
                    work,
                )
                rates[kind].append(args.pages / elapsed)
                print(
                    f"round {round_no + 1} {kind:12s} {args.pages / elapsed:7.0f} pages/s",
                    flush=True,
                )
    rate = {k: statistics.median(v) for k, v in rates.items()}
    figures = " ".join(f"{k}_pages_per_s={v:.0f}" for k, v in rate.items())
    ratios = " ".join(
        f"{k}_vs_scrapy={v / rate['scrapy']:.2f}" for k, v in rate.items() if k != "scrapy"
    )
    print(f"RESULT {figures} {ratios}", flush=True)


if __name__ == "__main__":
    main()
