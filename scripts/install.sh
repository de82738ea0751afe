#!/usr/bin/env bash
# Installs packages into a venv with uv when it can, with pip otherwise: `install.sh VENV [pip install args]`.
#
# uv reads the same requirement files and resolves the same pins as pip, 5-10x faster (fresh .venv on the
# 2-core machine: about 30 s with uv, several minutes with pip). It is installed into the venv itself from
# the package index (one wheel), so nothing outside the project changes.
#   INSTALLER=pip   use pip only (learners without uv, or to compare the two)
#   INSTALLER=uv    the default; falls back to pip, with a message, when uv cannot be installed
# torch is never left to uv: the caller installs it first with pip, which honours the machine's pip
# configuration (a local CPU wheel, a cap); uv then keeps the installed torch that satisfies the pin.
set -euo pipefail
VENV=${1:?usage: install.sh VENV [pip install arguments]}
shift
UV_VERSION=0.13.8
INSTALLER=${INSTALLER:-uv}
case "$INSTALLER" in
  uv|pip) ;;
  *) echo "install.sh: INSTALLER=$INSTALLER is not known; use INSTALLER=uv or INSTALLER=pip" >&2; exit 2 ;;
esac

if [ "$INSTALLER" = uv ] && [ ! -x "$VENV/bin/uv" ]; then
  if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"; then
    echo "install.sh: could not install uv $UV_VERSION; installing with pip instead (slower)" >&2
    INSTALLER=pip
  fi
fi
if [ "$INSTALLER" = uv ]; then
  exec "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" "$@"
fi
exec "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@"
