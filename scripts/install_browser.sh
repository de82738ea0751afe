#!/usr/bin/env bash
# Installs the browser of the JupyterLab smoke test (tests/browser/test_lab_smoke.py, `make smoke`):
# Debian's chromium, driven by Playwright. `playwright install` cannot download its own browsers here
# (no network except package registries), so the test launches /usr/bin/chromium instead.
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root (CI runs as root) or sudo.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install_browser: $CHROMIUM is already installed ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: no apt-get here; install Chromium so that $CHROMIUM exists, then run the test again" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_browser: run as root (or install sudo) to apt-get install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x "$CHROMIUM" || { echo "install_browser: apt-get ran but $CHROMIUM is missing" >&2; exit 1; }
echo "install_browser: installed $("$CHROMIUM" --version)"
