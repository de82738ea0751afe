"""The GPU scripts, ready before a GPU is: gpu_check prints its plan on a CPU and exits 0; the fine-tuning bench
trains each backend in its own process (issue 41, defect 7 and item 5)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_prints_its_plan_on_a_cpu_and_exits_0(capsys):
    check = load("gpu_check")
    assert check.main([]) == 0
    out = capsys.readouterr().out
    assert "No CUDA GPU here" in out
    for step in check.STEPS:
        assert step in out
    assert check.STEP_TIMEOUT_S * len(check.STEPS) <= 8 * 60 + 300, "the steps' limits fit the check's budget"


def test_the_bench_trains_each_backend_in_a_process_of_its_own(monkeypatch):
    bench = load("gpu_finetune_bench")
    commands = []

    def fake_child(command):
        commands.append(command)
        backend = command[command.index("--child") + 1]
        return {"seconds": 1.0, "tokens_per_second": 200.0 if backend == "unsloth" else 100.0,
                "peak_memory_gb": 2.0 if backend == "unsloth" else 4.0, "final_loss": 0.5, "gpu": "Tesla T4"}

    monkeypatch.setattr(bench, "run_child", fake_child)
    out = bench.compare(5, None)
    assert [c[c.index("--child") + 1] for c in commands] == ["unsloth", "peft"]
    assert all(c[0] == sys.executable for c in commands), "each backend in a fresh Python process"
    assert (out["speedup"], out["memory_saving"]) == (2.0, 0.5)


def test_the_peft_child_never_imports_unsloth(monkeypatch):
    bench = load("gpu_finetune_bench")
    monkeypatch.delitem(sys.modules, "unsloth", raising=False)
    with pytest.raises(SystemExit, match="no CUDA GPU"):
        bench.train_one("peft", 1, None)
    assert "unsloth" not in sys.modules


@pytest.mark.parametrize(("forced", "tier", "name"), [(None, "a100", "gpu_check.json"), ("t4", "t4", "gpu_check_t4.json")])
def test_gpu_check_on_a_simulated_card_runs_each_step_in_its_own_process(monkeypatch, tmp_path, forced, tier, name):
    """The CUDA branch of gpu_check under a simulated A100 40GB: one child process per step, a failing step
    recorded with its error (and the check going on), the report written where the tier says."""
    import json
    import subprocess
    import types

    from tests import gpu_sim

    check = load("gpu_check")
    for var in ("COURSE_TIER", "COURSE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    if forced:
        monkeypatch.setenv("COURSE_TIER", forced)
    gpu_sim.simulate(monkeypatch, "a100-40")
    (tmp_path / "results").mkdir()
    monkeypatch.setattr(check, "ROOT", tmp_path)
    launched = []

    def fake_run(command, capture_output, text, cwd, timeout):
        launched.append(command)
        step = command[command.index("--step") + 1]
        if step == "schema":
            return types.SimpleNamespace(returncode=1, stdout="", stderr="Traceback ...\nValueError: boom")
        if step == "generate":
            raise subprocess.TimeoutExpired(command, timeout)
        return types.SimpleNamespace(returncode=0, stdout=json.dumps({"seconds": 1.0, "peak_gb": 3.2}), stderr="")

    monkeypatch.setattr(check.subprocess, "run", fake_run)
    assert check.main([]) == 1  # a step failed: the check says so
    assert [c[c.index("--step") + 1] for c in launched] == list(check.STEPS)
    assert all(c[0] == sys.executable for c in launched)
    report = json.loads((tmp_path / "results" / name).read_text())
    assert report["tier"] == tier and report["gpu"] == "NVIDIA A100-SXM4-40GB"
    assert report["steps"]["load"]["peak_gb"] == 3.2 and "wall_seconds" in report["steps"]["load"]
    assert "ValueError: boom" in report["steps"]["schema"]["error"]
    assert report["steps"]["generate"]["error"] == f"over {check.STEP_TIMEOUT_S} s"


def test_gpu_check_sets_each_step_beside_the_memory_plan():
    check = load("gpu_check")
    for tier, card in (("t4", 14.7), ("a100", 39.4)):
        plans = {name: check.plan_gib(name, tier) for name in check.STEPS}
        assert all(0 < gib < card for gib in plans.values()), plans
        assert plans["train-unsloth"] == plans["train-peft"]
