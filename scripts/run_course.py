"""Execute the course notebooks in order, headless, writing outputs in place.

    python scripts/run_course.py                 # every notebooks/NN_*.ipynb
    python scripts/run_course.py 00_setup 05     # only those whose name starts with these
    python scripts/run_course.py --cells 05      # also print each code cell's memory (kernel, before -> peak)
    python scripts/run_course.py --times         # runs nothing: each notebook's time in its committed outputs

A notebook that fails is not overwritten: its partial run is saved to the workspace for reading, and
the summary line says where. The exit status is non-zero when any notebook failed.
When 02-04 are in the run and the workspace already holds indexes, a note says so first: those notebooks
then print index versions that follow an earlier run's (commit outputs from an empty workspace).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from datetime import datetime
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


class MemoryWatch:
    """Samples, every 0.5 s, the resident memory of every process this one started (the kernel and the
    training processes it spawns): the largest single process and the largest total."""

    def __init__(self):
        import psutil

        self._me = psutil.Process()
        self.process_peak = self.total_peak = 0
        self.cell_peak = self.current = 0  # the kernel's largest and latest resident memory, for --cells
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            sizes = []
            for child in self._me.children(recursive=True):
                try:
                    sizes.append(child.memory_info().rss)
                except psutil.Error:
                    continue
            if sizes:
                self.current = max(sizes)
                self.cell_peak = max(self.cell_peak, self.current)
                self.process_peak = max(self.process_peak, max(sizes))
                self.total_peak = max(self.total_peak, sum(sizes))

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"process_peak_gb": round(self.process_peak / 1024**3, 2), "total_peak_gb": round(self.total_peak / 1024**3, 2)}


def first_line(cell) -> str:
    """A code cell's first line that is not an nbval marker: how the summaries name a cell."""
    return next((line for line in cell.source.splitlines() if not line.startswith("# NBVAL")), "")


def watch_cells(client: NotebookClient, watch: MemoryWatch) -> None:
    """Print, after each code cell, the kernel's resident memory when it started and its peak during it."""
    start = {}

    def started(cell, cell_index):
        watch.cell_peak = watch.current
        start[cell_index] = (watch.current, time.perf_counter())

    def completed(cell, cell_index):
        before, t0 = start.get(cell_index, (0, time.perf_counter()))
        first = first_line(cell)
        print(f"    cell {cell_index:3d} {time.perf_counter() - t0:7.1f} s  {before / 1024**3:5.2f} -> "
              f"{watch.cell_peak / 1024**3:5.2f} GB  {first[:70]}", flush=True)

    client.on_cell_start = started
    client.on_cell_executed = lambda cell, cell_index, execute_reply: completed(cell, cell_index)


def run(path: Path, cells: bool = False) -> tuple[bool, float, str, dict]:
    """Execute one notebook from a clean kernel; return (ok, seconds, message, peak memory)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    watch = MemoryWatch()
    if cells:
        watch_cells(client, watch)
    try:
        client.execute()
    except CellExecutionError as exc:
        failed_dir = ROOT / ".course" / "failed"
        failed_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, failed_dir / path.name)
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # drop terminal colours
        last_line = text.splitlines()[-1][:160] if text else type(exc).__name__
        return False, time.perf_counter() - start, f"{last_line} (partial run: .course/failed/{path.name})", watch.stop()
    memory = watch.stop()
    nbformat.write(nb, path)
    return True, time.perf_counter() - start, "", memory


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def executed_times(path: Path) -> dict | None:
    """When the notebook's stored outputs were made and how long that took, from the timestamps nbclient
    records in each code cell's metadata (first cell started to last cell ended; the kernel's start-up is
    not counted). None when the notebook holds no timings (never executed, or saved from a front end that
    does not record them). Also the three slowest cells, so prose that times a step can be checked too."""
    nb = nbformat.read(path, as_version=4)
    spans = []
    for index, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end:
            spans.append((_stamp(start), _stamp(end), index, first_line(cell)))
    if not spans:
        return None
    began, ended = min(s[0] for s in spans), max(s[1] for s in spans)
    slowest = sorted(spans, key=lambda s: s[0] - s[1])[:3]
    return {"date": began.strftime("%Y-%m-%d %H:%M"), "seconds": round((ended - began).total_seconds(), 1),
            "slowest": [(i, round((e - b).total_seconds(), 1), first[:60]) for b, e, i, first in slowest]}


def print_times(paths: list[Path]) -> int:
    print("time of each notebook's committed outputs (from the timestamps in its cells; UTC)")
    for path in paths:
        times = executed_times(path)
        if times is None:
            print(f"  {path.name:<32} no timings stored")
            continue
        print(f"  {path.name:<32} {times['seconds']:7.1f} s  run {times['date']}")
        for index, seconds, first in times["slowest"]:
            print(f"      cell {index:3d} {seconds:7.1f} s  {first}")
    return 0


INDEX_NOTEBOOKS = ("02_", "03_", "04_")  # they build indexes and print their versions


def earlier_indexes(paths: list[Path], workspace: Path) -> str | None:
    """A note when the run includes a notebook that builds indexes and `workspace` already holds some: those
    notebooks then print versions that follow an earlier run's, not a first run's (outputs to commit)."""
    folder = workspace / "indexes"
    if not any(p.name.startswith(INDEX_NOTEBOOKS) for p in paths) or not folder.is_dir() or not any(folder.iterdir()):
        return None
    return (f"note: {folder} already holds indexes from an earlier run, so 02-04 will print index versions "
            "that follow them. For the outputs of a first run (the ones to commit), empty it first "
            "(`make clean-workspace`) or set COURSE_WORKSPACE to an empty folder.")


def main(argv: list[str]) -> int:
    cells = "--cells" in argv
    paths = select([a for a in argv if a not in ("--cells", "--times")])
    if "--times" in argv:
        return print_times(paths)
    sys.path.insert(0, str(ROOT))
    from helpers import env

    note = earlier_indexes(paths, env.workspace_dir(create=False))
    if note:
        print(note, flush=True)
    results = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        ok, seconds, message, memory = run(path, cells)
        results.append((path.name, ok, seconds, message, memory))
    print("\ncourse run summary (memory: largest single process / all processes of the notebook at once)")
    for name, ok, seconds, message, memory in results:
        print(f"  {name:<32} {seconds:7.1f} s  {memory['process_peak_gb']:5.2f} / {memory['total_peak_gb']:5.2f} GB  "
              f"{'ok' if ok else 'FAILED'}  {message}")
    log = ROOT / ".course" / "runs" / "course_run.json"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "notebooks": [
        {"notebook": n, "ok": ok, "seconds": round(s, 1), **m} for n, ok, s, _, m in results]}, indent=2))
    return 0 if all(ok for _, ok, _, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
