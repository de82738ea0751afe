"""scripts/test_parts.py: each part timed, a failing part stops the run, the table is printed either way."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import test_parts  # noqa: E402

# A stand-in for make: exits 3 for the part named in FAIL (argv[1] is the part), 0 for the others.
FAKE_MAKE = [sys.executable, "-c", "import os, sys; sys.exit(3 if sys.argv[1] == os.environ.get('FAIL') else 0)"]


def test_every_part_runs_and_the_table_totals_them(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FAIL", raising=False)
    out = tmp_path / "parts.json"
    assert test_parts.run(["lint", "unit"], make=FAKE_MAKE, out=out) == 0
    printed = capsys.readouterr().out
    assert "lint" in printed and "unit" in printed and "total" in printed and "passed" in printed
    report = json.loads(out.read_text())
    assert [r["part"] for r in report["parts"]] == ["lint", "unit"] and report["passed"] is True
    assert report["total_seconds"] >= sum(r["seconds"] for r in report["parts"]) - 0.2


def test_a_failing_part_stops_the_run_and_still_prints_the_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FAIL", "unit")
    out = tmp_path / "parts.json"
    assert test_parts.run(["lint", "unit", "notebooks"], make=FAKE_MAKE, out=out) == 3
    printed = capsys.readouterr().out
    assert "FAILED (exit 3)" in printed and "notebooks" not in printed.split("part")[-1]
    report = json.loads(out.read_text())
    assert [r["part"] for r in report["parts"]] == ["lint", "unit"] and report["passed"] is False


def test_an_unknown_part_is_refused_with_the_choices(tmp_path, capsys):
    assert test_parts.run(["lint", "unti"], make=FAKE_MAKE, out=tmp_path / "p.json") == 2
    assert "unti" in capsys.readouterr().err and not (tmp_path / "p.json").exists()


def test_the_parts_are_the_makefiles_targets():
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    for part, _ in test_parts.PARTS:
        assert f"\n{part}:" in makefile, f"`make {part}` is not a target of the Makefile"
    assert "scripts/test_parts.py" in makefile.split("\ntest:")[1].split("\n\n")[0]


def test_the_table_says_when_the_budget_is_exceeded():
    rows = [{"part": "unit", "seconds": 100.0, "status": "passed"}]
    assert "within the 30-minute budget" in test_parts.table(rows, 100.0)
    assert "OVER the 30-minute budget" in test_parts.table(rows, 1801.0)
