"""Rewrite tests/medium/expected/*.jsonl from the current parser output.

Run it only after a deliberate parser change, then read the diff line by line
(`git diff tests/medium/expected`) before committing: these files are the
hand-checked record of what each real page contains.
"""

import json
import sys
from pathlib import Path

from harvest.medium import extract
from harvest.medium.records import as_json

HERE = Path(__file__).parent


def main() -> int:
    pages = sorted(p for p in (HERE / "pages").iterdir() if p.name != "SOURCES.md")
    for page in pages:
        result = extract(page.read_bytes())
        lines = [
            json.dumps(as_json(r), ensure_ascii=False, sort_keys=True) for r in result.records()
        ]
        meta = {"kind": result.kind, "skipped": dict(sorted(result.skipped.items()))}
        out = HERE / "expected" / (page.name + ".jsonl")
        out.write_text(json.dumps(meta, sort_keys=True) + "\n" + "\n".join(lines) + "\n")
        print(f"{page.name}: {len(lines)} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
