"""Pages per second of harvest's extract() beside lxml.html.fromstring on the same bytes.

lxml only builds a tree; extract() decodes, parses, reads the metadata and
every outbound link. The ratio says what the whole of extract costs against a
bare parse. Rounds alternate between the two so machine noise hits both; the
medians are reported.

    .venv/bin/python bench/extract.py [--rounds 15] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import lxml.html

from harvest.medium import extract

PAGES = Path(__file__).resolve().parent.parent / "tests" / "medium" / "pages"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the pages per round")
    args = parser.parse_args()

    pages = [p.read_bytes() for p in sorted(PAGES.iterdir()) if p.suffix == ".html"]
    n = len(pages) * args.repeat
    print(
        f"{len(pages)} real HTML pages, {sum(map(len, pages)) / 1e6:.2f} MB, "
        f"{args.rounds} rounds x {args.repeat} passes"
    )

    def run_lxml() -> float:
        start = time.perf_counter()
        for _ in range(args.repeat):
            for data in pages:
                lxml.html.fromstring(data)
        return float(n / (time.perf_counter() - start))

    def run_extract() -> float:
        start = time.perf_counter()
        for _ in range(args.repeat):
            for data in pages:
                extract(data)
        return float(n / (time.perf_counter() - start))

    run_lxml(), run_extract()  # warm caches and imports
    ours: list[float] = []
    base: list[float] = []
    for _ in range(args.rounds):
        base.append(run_lxml())
        ours.append(run_extract())
    med_ours, med_base = statistics.median(ours), statistics.median(base)
    print(f"extract: median {med_ours:.0f} pages/s (min {min(ours):.0f}, max {max(ours):.0f})")
    print(f"lxml:    median {med_base:.0f} pages/s (min {min(base):.0f}, max {max(base):.0f})")
    print(
        f"RESULT pages_per_s={med_ours:.0f} lxml_pages_per_s={med_base:.0f} "
        f"ratio={med_ours / med_base:.2f}"
    )


if __name__ == "__main__":
    main()
