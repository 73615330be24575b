"""Run the simulated Medium on 127.0.0.1, for crawling by hand and for benchmarks."""

import argparse
import time

from harvest.sim.server import Faults, SimServer

EPILOG = """\
The world follows from (seed, size): the same pair always gives the same posts,
authors, tags and links, so a crawl's numbers can be checked against it. The
server prints its base URL; crawl it with

  MEDIUM_BASE_URL=http://127.0.0.1:PORT scrapy crawl medium -a tags=programming

Its pages are Medium's own shapes (tag and profile listings, posts, the GraphQL
endpoint, RSS feeds, sitemaps). /_sim/manifest.json lists what the world holds,
so a harvest can be compared with it. `harvest demo` starts one of its own.
Stop it with Ctrl-C.
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m harvest.sim",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: 0, any free port)"
    )
    parser.add_argument("--seed", type=int, default=1, help="which world (default: 1)")
    parser.add_argument(
        "--size", type=int, default=10, help="how many posts the world holds (default: 10)"
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of page requests that fail once with 429, 503, a slow reply or a "
        "truncated body (default: 0)",
    )
    args = parser.parse_args()
    with SimServer(args.seed, args.size, args.port, faults=Faults(rate=args.fault_rate)) as sim:
        print(sim.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
