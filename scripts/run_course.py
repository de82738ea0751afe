"""Execute the course notebooks in order, headless, writing outputs in place.

    python scripts/run_course.py                 # every notebooks/NN_*.ipynb
    python scripts/run_course.py 00_setup 05     # only those whose name starts with these

A notebook that fails is not overwritten: its partial run is saved to the workspace for reading, and
the summary line says where. The exit status is non-zero when any notebook failed.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 1800


def select(patterns: list[str]) -> list[Path]:
    """Course notebooks in order, optionally only those whose name starts with one of `patterns`."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if patterns:
        found = [p for p in found if any(p.stem.startswith(x) for x in patterns)]
        if not found:
            sys.exit(f"no notebook matches {patterns}; the course has: {[p.stem for p in NOTEBOOKS.glob('*.ipynb')]}")
    return found


def run(path: Path) -> tuple[bool, float, str]:
    """Execute one notebook from a clean kernel; return (ok, seconds, message)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        failed_dir = ROOT / ".course" / "failed"
        failed_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, failed_dir / path.name)
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # drop terminal colours
        first_line = text.splitlines()[-1][:160] if text else type(exc).__name__
        return False, time.perf_counter() - start, f"{first_line} (partial run: .course/failed/{path.name})"
    nbformat.write(nb, path)
    return True, time.perf_counter() - start, ""


def main(argv: list[str]) -> int:
    paths = select(argv)
    results = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        ok, seconds, message = run(path)
        results.append((path.name, ok, seconds, message))
    print("\ncourse run summary")
    for name, ok, seconds, message in results:
        print(f"  {name:<32} {seconds:7.1f} s  {'ok' if ok else 'FAILED'}  {message}")
    return 0 if all(ok for _, ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
