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


# A make whose parts each sleep SLEEP seconds, and exit 3 for the part named in FAIL.
SLEEPY_MAKE = [sys.executable, "-c", "import os, sys, time; print('made', sys.argv[1]); "
               "time.sleep(float(os.environ['SLEEP'])); sys.exit(3 if sys.argv[1] == os.environ.get('FAIL') else 0)"]


def test_a_part_beside_another_overlaps_it_and_keeps_its_own_seconds_and_output(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FAIL", raising=False)
    monkeypatch.setenv("SLEEP", "1.5")
    parts = ["unit", "notebooks", "setup-unsloth"]
    assert test_parts.BESIDE == {"setup-unsloth": "unit"}
    assert test_parts.run(parts, make=SLEEPY_MAKE, out=tmp_path / "p.json") == 0
    report = json.loads((tmp_path / "p.json").read_text())
    seconds = {r["part"]: r["seconds"] for r in report["parts"]}
    assert [r["part"] for r in report["parts"]] == parts and all(s >= 1.4 for s in seconds.values())
    assert report["total_seconds"] < sum(seconds.values()) - 1.0, "setup-unsloth did not run beside unit"
    assert "made setup-unsloth" in capsys.readouterr().out  # its log is printed when its turn comes


def test_a_failing_part_beside_another_fails_the_run_at_its_turn(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FAIL", "setup-unsloth")
    monkeypatch.setenv("SLEEP", "0.1")
    assert test_parts.run(["unit", "notebooks", "setup-unsloth", "test-unsloth"], make=SLEEPY_MAKE,
                          out=tmp_path / "p.json") == 3
    report = json.loads((tmp_path / "p.json").read_text())
    assert [r["part"] for r in report["parts"]] == ["unit", "notebooks", "setup-unsloth"]
    assert report["parts"][-1]["status"] == "FAILED (exit 3)"


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
