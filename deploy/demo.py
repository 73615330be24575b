"""The README's main job: ``harvest demo`` (harvest/sim/demo.py), run from a checkout.

.venv/bin/python deploy/demo.py [--size 60] [--tags seo,programming] [--challenge REGEX]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harvest.sim.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
