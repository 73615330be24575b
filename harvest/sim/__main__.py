"""Run the simulated Medium: python -m harvest.sim [--port 8000] [--seed 1] [--size 10]."""

import argparse
import time

from harvest.sim.server import SimServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", type=int, default=10)
    args = parser.parse_args()
    with SimServer(args.seed, args.size, args.port) as sim:
        print(sim.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
