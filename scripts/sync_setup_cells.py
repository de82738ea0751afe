"""Write ``helpers.env.setup_cell`` into the first code cell of every notebook (the lines a notebook adds after
it are kept), and ``workspace.fresh_runtime_note`` into its first markdown cell. Run it after changing
``env.GITHUB_REPO`` or ``workspace.FRESH_RUNTIME``; ``--check`` exits 1 when a notebook differs.

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


def with_fresh_runtime_note(source: str, notebook: str) -> str:
    """The first markdown cell with its fresh-runtime line (``workspace.fresh_runtime_note``) written or replaced: it
    goes just before the cell's closing rule (``---``)."""
    from helpers import workspace

    note = workspace.fresh_runtime_note(notebook)
    lines = [line for line in source.splitlines() if not line.startswith(workspace.FRESH_RUNTIME_MARK)]
    if lines and lines[-1] == "---":
        lines = lines[:-1]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return "\n".join([*lines, "", note, "", "---"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report notebooks that differ; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        cell, first = notebook["cells"][1], notebook["cells"][0]
        old, old_first = "".join(cell["source"]), "".join(first["source"])
        new = synced(old, path.parent.name == "solutions")
        new_first = old_first if path.parent.name == "solutions" else with_fresh_runtime_note(old_first, path.stem)
        if new != old or new_first != old_first:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                cell["source"] = new.splitlines(keepends=True)
                first["source"] = new_first.splitlines(keepends=True)
                path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    verb = "differ" if args.check else "rewritten"
    print(f"{len(stale)} notebooks {verb}" + "".join(f"\n  {p}" for p in stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
