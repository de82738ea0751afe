"""`make test`, part by part: runs each part as `make PART`, times it, and prints one table at the end.

The table is printed whether the run passes or not: a failing part stops the run (later parts need the
earlier ones: the environments, the workspace), the table shows the parts that ran with their seconds and
which one failed, and the exit status is that part's. The figures are also written as JSON
(.course/runs/test_parts.json) so two runs can be compared.

    python3 scripts/test_parts.py                  # every part of `make test`
    python3 scripts/test_parts.py lint unit        # some of them, in the order given

Standard library only: it runs before .venv exists.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (make target, what it is), in the order `make test` runs them.
PARTS = [
    ("setup", "install .venv: the CPU stack, the embedded models, helpers"),
    ("lint", "ruff over helpers, tests, scripts, notebooks"),
    ("unit", "every unit and integration test (all markers)"),
    ("notebooks", "every notebook under nbval, ci profile, fresh workspace"),
    ("setup-unsloth", "install .venv-unsloth: the GPU stack with Unsloth on CPU torch"),
    ("test-unsloth", "tests/unsloth and notebook 05 through Unsloth's CPU backend"),
    ("smoke", "JupyterLab in Chromium: the widgets of 01, 09 and 11 (the labeller)"),
]
# A part that runs beside another: the Unsloth environment's install (downloads and disk, one core at most)
# goes on while the unit tests use the CPU. Its output goes to a log, printed when the part is reached; its
# seconds are its own, and the total is the wall time.
BESIDE = {"setup-unsloth": "unit"}
BUDGET_S = 30 * 60  # DESIGN.md: `make test` within 30 minutes from a fresh clone on 2 cores


def table(rows: list[dict], total: float) -> str:
    """The per-part table as text: part, seconds, status, then the total against the budget."""
    width = max([len(r["part"]) for r in rows] + [5])
    lines = [f"{'part':<{width}}  {'seconds':>8}  status", f"{'-' * width}  {'-' * 8}  ------"]
    lines += [f"{r['part']:<{width}}  {r['seconds']:>8.0f}  {r['status']}" for r in rows]
    verdict = "within" if total <= BUDGET_S else "OVER"
    lines += [f"{'-' * width}  {'-' * 8}", f"{'total':<{width}}  {total:>8.0f}  {verdict} the {BUDGET_S // 60}-minute budget"]
    return "\n".join(lines)


def _beside(command: list[str], log: Path) -> dict:
    """Start `command` with its output in `log`; a thread records its exit status and seconds when it ends."""
    state = {"t0": time.perf_counter(), "log": log}

    def wait() -> None:
        with log.open("w") as sink:
            state["code"] = subprocess.call(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        state["seconds"] = time.perf_counter() - state["t0"]

    state["thread"] = threading.Thread(target=wait, daemon=True)
    state["thread"].start()
    return state


def run(parts: list[str], make: list[str] | None = None, out: Path | None = None) -> int:
    """Run `make PART` for each part, stop at the first failure, print the table; return the exit status."""
    known = [name for name, _ in PARTS]
    unknown = [p for p in parts if p not in known]
    if unknown:
        print(f"test_parts: unknown part(s) {unknown}; choose from {known}", file=sys.stderr)
        return 2
    make = make or ["make", "--no-print-directory"]
    rows, status, start = [], 0, time.perf_counter()
    logs = (out.parent if out is not None else ROOT / ".course" / "runs")
    started: dict[str, dict] = {}  # the parts run beside another, by name
    for part in parts:
        for early in [b for b, host in BESIDE.items() if host == part and b in parts and parts.index(b) > parts.index(part)]:
            logs.mkdir(parents=True, exist_ok=True)
            print(f"\n=== make {early} (beside {part}, output in {logs / (early + '.log')}): {dict(PARTS)[early]}",
                  flush=True)
            started[early] = _beside([*make, early], logs / f"{early}.log")
        if part in started:
            state = started.pop(part)
            state["thread"].join()
            code, seconds = state["code"], state["seconds"]
            print(f"\n=== make {part}: {dict(PARTS)[part]} (ran beside {BESIDE[part]})\n{state['log'].read_text()}",
                  flush=True)
        else:
            print(f"\n=== make {part}: {dict(PARTS)[part]}", flush=True)
            t0 = time.perf_counter()
            code = subprocess.call([*make, part], cwd=ROOT)
            seconds = time.perf_counter() - t0
        rows.append({"part": part, "seconds": round(seconds, 1),
                     "status": "passed" if code == 0 else f"FAILED (exit {code})"})
        if code != 0:
            status = code
            break
    for early, state in started.items():  # a failure stopped the run before they were reached
        state["thread"].join()
        print(f"({early}, started beside an earlier part, exited {state['code']}; its output: {state['log']})")
    total = time.perf_counter() - start
    print("\n" + table(rows, total), flush=True)
    target = out if out is not None else ROOT / ".course" / "runs" / "test_parts.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"parts": rows, "total_seconds": round(total, 1), "passed": status == 0,
                                  "budget_seconds": BUDGET_S}, indent=1) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:] or [name for name, _ in PARTS]))
