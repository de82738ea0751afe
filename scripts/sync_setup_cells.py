"""Write ``helpers.env.setup_cell`` into the first code cell of every notebook (the lines a notebook adds after
it are kept). Run it after changing ``env.GITHUB_REPO``; ``--check`` exits 1 when a notebook differs.

    python scripts/sync_setup_cells.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARK = "os.chdir("  # the setup block ends with the line that enters the notebooks folder


def synced(source: str, solutions: bool) -> str:
    """`source` with its setup block replaced by the current one."""
    from helpers import env

    lines = source.splitlines()
    end = next((i for i, line in enumerate(lines) if MARK in line), None)
    if end is None:
        raise ValueError("the first code cell has no setup block (no os.chdir line)")
    rest = "\n".join(lines[end + 1:])
    return env.setup_cell(solutions) + ("\n" + rest if rest else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report notebooks that differ; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        cell = notebook["cells"][1]
        old = "".join(cell["source"])
        new = synced(old, path.parent.name == "solutions")
        if new != old:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                cell["source"] = new.splitlines(keepends=True)
                path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    verb = "differ" if args.check else "rewritten"
    print(f"{len(stale)} notebooks {verb}" + "".join(f"\n  {p}" for p in stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
