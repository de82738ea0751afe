"""Tier selection with faked hardware, model ids, profiles, offline switches, lazy imports."""

import os
import subprocess
import sys

import pytest

from helpers import env
from helpers.env import Runtime


@pytest.mark.parametrize(
    ("runtime", "tier"),
    [
        (Runtime(), "cpu"),
        (Runtime(colab=True), "cpu"),
        (Runtime(cuda=True, gpu_name="Tesla T4", vram_gb=14.7, bf16=False), "t4"),
        (Runtime(cuda=True, gpu_name="NVIDIA L4", vram_gb=22.0, bf16=True), "t4"),
        (Runtime(cuda=True, gpu_name="NVIDIA A10G", vram_gb=24.0, bf16=True), "t4"),
        (Runtime(cuda=True, gpu_name="NVIDIA A100-SXM4-40GB", vram_gb=39.4, bf16=True), "a100"),
        (Runtime(cuda=True, gpu_name="NVIDIA A100-SXM4-80GB", vram_gb=79.2, bf16=True), "a100"),
        (Runtime(cuda=True, gpu_name="big old card", vram_gb=48.0, bf16=False), "t4"),
    ],
)
def test_pick_tier_from_hardware(clean_env, runtime, tier):
    assert env.pick_tier(runtime) == tier


def test_a100_threshold_counts_reported_not_marketed_memory(clean_env):
    # torch reports an "A100 40GB" as ~39.4 GiB; the tier must still be a100
    assert env.pick_tier(Runtime(cuda=True, vram_gb=39.4, bf16=True)) == "a100"
    assert env.pick_tier(Runtime(cuda=True, vram_gb=30.0, bf16=True)) == "t4"


def test_tier_override(clean_env):
    clean_env.setenv("COURSE_TIER", "a100")
    assert env.pick_tier(Runtime()) == "a100"


def test_unknown_tier_lists_valid_ones(clean_env):
    clean_env.setenv("COURSE_TIER", "tpu")
    with pytest.raises(ValueError, match=r"unknown tier 'tpu'.*\['a100', 'cpu', 't4'\]"):
        env.pick_tier(Runtime())


def test_default_models_per_tier(clean_env):
    assert env.generator_id("cpu") == env.EMBEDDED_GENERATOR
    assert env.embedder_id("cpu") == env.EMBEDDED_EMBEDDER
    assert env.generator_id("t4") in env.MODELS and not env.is_embedded(env.generator_id("t4"))
    assert env.TIERS["a100"]["dtype"] == "bfloat16" and env.TIERS["t4"]["load_in_4bit"]


def test_model_override_and_unknown_model(clean_env):
    clean_env.setenv("COURSE_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
    assert env.generator_id("cpu") == "Qwen/Qwen2.5-0.5B-Instruct"
    clean_env.setenv("COURSE_MODEL", "gpt-5")
    with pytest.raises(ValueError, match=r"unknown model id 'gpt-5'.*HuggingFaceTB/SmolLM2-360M-Instruct"):
        env.generator_id("cpu")
    clean_env.setenv("COURSE_ALLOW_ANY_MODEL", "1")
    assert env.generator_id("cpu") == "gpt-5"


def test_unknown_embedder(clean_env):
    clean_env.setenv("COURSE_EMBEDDER", "nope")
    with pytest.raises(ValueError, match="unknown model id 'nope'.*all-MiniLM-L6-v2"):
        env.embedder_id("cpu")


def test_profile(clean_env):
    assert env.profile() == "learner" and env.by_profile(learner=60, ci=20) == 60
    clean_env.setenv("COURSE_PROFILE", "ci")
    assert env.by_profile(learner=60, ci=20) == 20
    clean_env.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"unknown profile 'fast'.*\['learner', 'ci'\]"):
        env.profile()


def test_configure_sets_offline_switches_for_embedded_models(clean_env):
    for key in env.OFFLINE_SWITCHES:
        clean_env.delenv(key, raising=False)
    clean_env.delenv("CI", raising=False)
    clean_env.setattr(env, "hub_reachable", lambda timeout=1.5: pytest.fail("the hub must not be probed"))
    switches = env.configure("cpu")
    assert switches and os.environ["HF_HUB_OFFLINE"] == "1" and env.is_offline()


def test_configure_probes_the_hub_only_for_hub_models(clean_env):
    for key in env.OFFLINE_SWITCHES:
        clean_env.delenv(key, raising=False)
    clean_env.delenv("CI", raising=False)
    calls = []
    clean_env.setattr(env, "hub_reachable", lambda timeout=1.5: calls.append(1) or True)
    assert env.configure("t4") == {} and calls == [1] and not env.is_offline()
    clean_env.setattr(env, "hub_reachable", lambda timeout=1.5: False)
    assert env.configure("t4") and env.is_offline()


def test_configure_offline_under_ci(clean_env):
    for key in env.OFFLINE_SWITCHES:
        clean_env.delenv(key, raising=False)
    clean_env.setenv("CI", "true")
    clean_env.setattr(env, "hub_reachable", lambda timeout=1.5: pytest.fail("the hub must not be probed in CI"))
    assert env.configure("a100")["HF_HUB_OFFLINE"] == "1"


def test_report_rows(clean_env):
    import importlib.util

    real = importlib.util.find_spec
    clean_env.setattr(importlib.util, "find_spec", lambda name: object() if name == "unsloth" else real(name))
    rows = dict(env.report(Runtime(cuda=True, gpu_name="Tesla T4", vram_gb=14.7, bf16=False)))
    assert rows["tier"] == "t4" and "Tesla T4" in rows["GPU"] and rows["fine-tuning backend"] == "unsloth"
    assert rows["why"] == env.TIERS["t4"]["why"] and rows["precision"] == "float16"
    clean_env.setattr(importlib.util, "find_spec", lambda name: None if name == "unsloth" else real(name))
    rows = dict(env.report(Runtime(cuda=True, gpu_name="Tesla T4", vram_gb=14.7, bf16=False)))
    assert rows["fine-tuning backend"] == "peft", "the report says what will run, not what the tier hopes for"
    rows = dict(env.report(Runtime(cpu_bf16=True)))
    assert rows["CPU bf16"].startswith("native") and rows["precision"] == "bf16 (from the CPU)"
    assert dict(env.report(Runtime(cpu_bf16=False)))["precision"] == "fp32 (from the CPU)"


X86_AMX = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
X86_OLD = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
ARM_OLD = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n"


@pytest.mark.parametrize(("cpuinfo", "native"), [(X86_AMX, True), (X86_OLD, False), (ARM_BF16, True), (ARM_OLD, False),
                                                 ("", False)])
def test_native_bf16_follows_the_cpu_flags(tmp_path, cpuinfo, native):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert env.native_bf16(env.cpu_flags(path)) is native


def test_missing_cpuinfo_means_no_bf16(tmp_path):
    assert env.cpu_flags(tmp_path / "absent") == frozenset() or sys.platform == "darwin"


def test_compute_dtype_follows_the_cpu_and_the_override(clean_env):
    clean_env.delenv("COURSE_DTYPE", raising=False)
    assert env.compute_dtype(Runtime(cpu_bf16=True)) == "bf16"
    assert env.compute_dtype(Runtime(cpu_bf16=False)) == "fp32"
    clean_env.setenv("COURSE_DTYPE", "fp32")
    assert env.compute_dtype(Runtime(cpu_bf16=True)) == "fp32"
    clean_env.setenv("COURSE_DTYPE", "BF16")
    assert env.compute_dtype(Runtime(cpu_bf16=True)) == "bf16"
    assert env.compute_dtype(Runtime(cuda=True, bf16=False)) == "fp32", "on a GPU the GPU decides"


def test_bad_dtype_names_the_allowed_values(clean_env):
    clean_env.setenv("COURSE_DTYPE", "fp16")
    with pytest.raises(ValueError, match=r"unknown COURSE_DTYPE 'fp16'.*\['fp32', 'bf16'\]"):
        env.compute_dtype(Runtime())


def test_bf16_without_hardware_warns_once(clean_env):
    clean_env.setenv("COURSE_DTYPE", "bf16")
    clean_env.setattr(env, "_warned_slow_bf16", False)
    with pytest.warns(UserWarning, match="COURSE_DTYPE=fp32"):
        assert env.compute_dtype(Runtime(cpu_bf16=False)) == "bf16"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env.compute_dtype(Runtime(cpu_bf16=False))  # the second call is quiet


def test_finetune_backend_override(clean_env):
    import importlib.util

    real = importlib.util.find_spec
    clean_env.setenv("COURSE_FINETUNE_BACKEND", "deepspeed")
    with pytest.raises(ValueError, match=r"unknown COURSE_FINETUNE_BACKEND 'deepspeed'.*\['peft', 'unsloth'\]"):
        env.finetune_backend("cpu")
    clean_env.setenv("COURSE_FINETUNE_BACKEND", "unsloth")
    clean_env.setattr(importlib.util, "find_spec", lambda name: None if name == "unsloth" else real(name))
    with pytest.raises(RuntimeError, match="make setup-unsloth"):
        env.finetune_backend("cpu")
    clean_env.setattr(importlib.util, "find_spec", lambda name: object() if name == "unsloth" else real(name))
    assert env.finetune_backend("cpu", Runtime()) == "unsloth", "Unsloth's CPU backend on request"
    clean_env.setenv("COURSE_FINETUNE_BACKEND", "peft")
    assert env.finetune_backend("t4", Runtime(cuda=True)) == "peft"
    clean_env.delenv("COURSE_FINETUNE_BACKEND")
    assert env.finetune_backend("cpu", Runtime()) == "peft" and env.finetune_backend("t4", Runtime(cuda=True)) == "unsloth"


def test_paths_follow_environment(clean_env, tmp_path):
    clean_env.setenv("COURSE_WORKSPACE", str(tmp_path / "ws"))
    clean_env.delenv("COURSE_CACHE_DIR", raising=False)
    assert env.workspace_dir() == tmp_path / "ws" and (tmp_path / "ws").is_dir()
    assert env.cache_dir() == tmp_path / "ws" / "models"
    clean_env.setenv("COURSE_CACHE_DIR", str(tmp_path / "c"))
    assert env.cache_dir() == tmp_path / "c"


def test_import_helpers_is_fast_and_lazy():
    code = (
        "import sys, time; t = time.perf_counter(); import helpers, helpers.env; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('torch', 'transformers', 'chromadb', 'llama_index', 'datasets') if m in sys.modules]; "
        "print(dt, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert float(out[0]) < 1.0
    assert out[1].strip() == "[]", f"import helpers pulled in heavy modules: {out[1]}"


GLIBC = sys.platform.startswith("linux") and os.path.exists("/proc/self/statm")


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's (Linux)")
def test_release_memory_returns_freed_heap_to_the_system():
    """200 MB freed on the C heap stays resident (glibc keeps it for reuse) until release_memory trims it."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    page = os.sysconf("SC_PAGE_SIZE")

    def resident_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page / 1024**2

    chunks = []
    for _ in range(20_000):  # 10 KB each: below the mmap threshold, so they come from the heap
        p = libc.malloc(10_240)
        ctypes.memset(p, 1, 10_240)  # touch the pages so they count as resident
        chunks.append(p)
    pin = libc.malloc(64)  # allocated last: keeps the heap's top in use, so free() alone cannot shrink it
    for p in chunks:
        libc.free(p)
    held = resident_mb()
    assert env.release_memory() is True
    after = resident_mb()
    libc.free(pin)
    assert held - after > 100, f"resident {held:.0f} MB before the trim, {after:.0f} MB after"


def fake_ticks(monkeypatch, machine, own):
    """env._cpu_ticks and env._own_ticks replaying (busy, total) and own-time readings, no sleeping."""
    machine, own = iter(machine), iter(own)
    monkeypatch.setattr(env, "_cpu_ticks", lambda stat="/proc/stat": next(machine))
    monkeypatch.setattr(env, "_own_ticks", lambda: next(own))
    monkeypatch.setattr(env, "usable_cores", lambda: 2)
    monkeypatch.setattr(env.os, "cpu_count", lambda: 2)


def test_free_cores_counts_what_other_processes_keep_busy(monkeypatch):
    # 2 cores over 100 ticks each = 200 ticks: a neighbour busy 95 ticks holds one core.
    fake_ticks(monkeypatch, [(0, 0), (95, 200)], [0, 0])
    assert env.free_cores(sample_s=0) == 1
    fake_ticks(monkeypatch, [(0, 0), (10, 200)], [0, 0])
    assert env.free_cores(sample_s=0) == 2
    fake_ticks(monkeypatch, [(0, 0), (200, 200)], [0, 0])
    assert env.free_cores(sample_s=0) == 1, "never fewer than one thread"


def test_free_cores_leaves_out_this_process_own_work(monkeypatch):
    fake_ticks(monkeypatch, [(0, 0), (190, 200)], [0, 180])  # our own threads were the busy ones
    assert env.free_cores(sample_s=0) == 2


def test_free_cores_sees_a_real_busy_neighbour():
    if env.usable_cores() < 2 or not sys.platform.startswith("linux"):
        pytest.skip("needs Linux and two cores")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        __import__("time").sleep(0.3)
        assert env.free_cores(sample_s=0.5) <= env.usable_cores() - 1
    finally:
        spinner.kill()
        spinner.wait()


def test_fit_threads_follows_the_setting(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setattr(env, "_threads", {"checked": None, "threads": None, "default": 2})
    monkeypatch.setattr(env, "free_cores", lambda sample_s=0.2: 1)
    try:
        monkeypatch.setenv("COURSE_THREADS", "auto")
        assert env.fit_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setattr(env, "free_cores", lambda sample_s=0.2: 2)
        assert env.fit_threads() == 1, "within the recheck time the machine is not looked at again"
        assert env.fit_threads(recheck_s=0) == 2 and torch.get_num_threads() == 2
        monkeypatch.setattr(env, "free_cores", lambda sample_s=0.2: 8)
        assert env.fit_threads(recheck_s=0) == 2, "never more threads than torch's own default"
        monkeypatch.setenv("COURSE_THREADS", "1")
        assert env.fit_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("COURSE_THREADS", "off")
        assert env.fit_threads() is None
        for bad in ("0", "-1", "two", "1.5"):
            monkeypatch.setenv("COURSE_THREADS", bad)
            with pytest.raises(ValueError, match="'auto'.*'off'.*positive"):
                env.fit_threads()
    finally:
        torch.set_num_threads(before)
