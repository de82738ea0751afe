"""JupyterLab smoke test in a real browser (`make smoke`, run by `make test` after nbval).

Starts JupyterLab on 127.0.0.1, opens notebook 09 in Debian's Chromium driven by Playwright, runs all
cells, moves the cost explorer's sliders and checks that the plot and the break-even text are redrawn,
then saves a screenshot to ``<workspace>/runs/lab_smoke.png``.

What it needs: ``/usr/bin/chromium`` (``bash scripts/install_browser.sh``; ``playwright install`` cannot
download browsers here) and ``playwright`` from requirements.txt. A missing piece FAILS the test: it is
never skipped. The first ``pytest tests/`` call of ``make test`` leaves this folder out
(``--ignore=tests/browser``) so that the test runs once, from ``make smoke``, after the browser is installed.

Nothing in the repository is written: JupyterLab serves a temporary folder holding a copy of the notebook
(outputs and saved widget state stripped, so the widgets on the page come from this run), with its own
settings (autosave off), workspaces, runtime and config folders; the kernel uses a temporary
COURSE_WORKSPACE and the shared model cache (``<repo>/.course/models``, as ``make test``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/09_costs.ipynb"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
# Playwright's own flags come first; these keep Chromium quiet on a closed network (no updates, sync,
# QUIC, first-run pages) and working as root in a container (no sandbox, no GPU).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions"]
# JupyterLab settings for this run: nothing autosaved, every cell in the DOM, no news or update checks.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}
SERVER_START_S = 90     # JupyterLab answering /api/status
PAGE_LOAD_S = 90        # the notebook open and its kernel idle
RUN_ALL_S = 300         # every cell executed (tokenizer load, help-centre index build on a fresh workspace)
REDRAW_S = 60           # the explorer's plot and text after a slider move

# JavaScript helpers, evaluated in the page (JupyterLab runs with --LabApp.expose_app_in_browser).
JS_PANEL = """(path) => {
    const app = window.jupyterapp;
    if (!app) return null;
    for (const widget of app.shell.widgets('main')) {
        if (widget.context && widget.context.path === path) return widget;
    }
    return null;
}"""
JS_KERNEL_IDLE = f"""(path) => {{
    const panel = ({JS_PANEL})(path);
    const kernel = panel && panel.context.isReady && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return Boolean(kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle');
}}"""
JS_RUN_ALL = f"""(path) => {{
    const app = window.jupyterapp, panel = ({JS_PANEL})(path);
    app.shell.activateById(panel.id);
    window.__smokeRun = null;
    app.commands.execute('notebook:run-all-cells').then(
        (ok) => {{ window.__smokeRun = {{ok: ok !== false}}; }},
        (err) => {{ window.__smokeRun = {{ok: false, error: String(err)}}; }});
    return true;
}}"""
JS_NOTEBOOK_JSON = f"""(path) => {{
    const panel = ({JS_PANEL})(path);
    return {{json: panel.content.model.toJSON(), kernel: panel.sessionContext.session.kernel.status}};
}}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stripped_notebook(source: Path) -> dict:
    """The notebook without outputs, execution counts or saved widget state: what a learner's fresh copy runs."""
    notebook = json.loads(source.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook["metadata"].pop("widgets", None)
    return notebook


def wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {process.returncode} before answering; "
                                 f"its log:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer {url.split('?')[0]} within {timeout:.0f} s; "
                         f"its log:\n{log.read_text()[-4000:]}")


def stop_server(process: subprocess.Popen, base: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels), then terminate and kill its process group."""
    if process.poll() is None:
        with contextlib.suppress(OSError):
            request = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=10).close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # a kernel left in the server's process group
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium: missing, the test fails (before any server starts) and says how to install it."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/install_browser.sh` (`make smoke` does)", pytrace=False)
    return CHROMIUM


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving a temporary copy of notebook 09: yields (base URL, token)."""
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    (root / NOTEBOOK).write_text(json.dumps(stripped_notebook(ROOT / NOTEBOOK), indent=1))
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    for folder in ("workspaces", "config", "runtime", "ipython", "course-workspace"):
        (tmp_path / folder).mkdir()

    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ,
           "COURSE_PROFILE": "ci", "COURSE_WORKSPACE": str(tmp_path / "course-workspace"),
           "COURSE_CACHE_DIR": os.environ.get("COURSE_CACHE_DIR") or str(ROOT / ".course" / "models"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "IPYTHONDIR": str(tmp_path / "ipython"),
           "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    log = tmp_path / "jupyterlab.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_server(f"{base}/api/status?token={token}", process, log, SERVER_START_S)
        yield base, token, log
    finally:
        stop_server(process, base, token)


def screenshot_path() -> Path:
    folder = Path(os.environ.get("COURSE_WORKSPACE") or ROOT / ".course").expanduser().resolve() / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "lab_smoke.png"


def poll(read, changed, timeout: float, what: str):
    """Call read() until changed(value) holds; returns the value or fails after `timeout` seconds."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = read()
        if changed(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s (last seen: {str(value)[:300]!r})")


def drag(page, slider, fraction: float) -> None:
    """Drag a noUiSlider handle to `fraction` of the track with the mouse (the 'change' fires on release)."""
    track, handle = slider.locator(".noUi-target"), slider.locator(".noUi-handle")
    slider.scroll_into_view_if_needed()
    box, knob = track.bounding_box(), handle.bounding_box()
    assert box and knob, "the slider has no layout box (is it visible?)"
    x, y = knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction, y, steps=12)
    page.mouse.up()


def test_cost_explorer_redraws_in_jupyterlab(chromium, lab):
    from playwright.sync_api import sync_playwright  # requirements.txt: a missing package fails the test

    base, token, log = lab
    started = time.monotonic()

    def log_tail() -> str:
        return f"\nJupyterLab log (last lines):\n{log.read_text()[-3000:]}"

    with sync_playwright() as playwright:
        profile = Path(log).parent / "chromium-profile"  # a fresh, empty --user-data-dir
        browser = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000}, timeout=60_000)
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=PAGE_LOAD_S * 1000)
            page.wait_for_function(JS_KERNEL_IDLE, arg=NOTEBOOK, timeout=PAGE_LOAD_S * 1000, polling=500)
            print(f"\nlab smoke: notebook open, kernel idle after {time.monotonic() - started:.0f} s")

            page.evaluate(JS_RUN_ALL, NOTEBOOK)
            try:
                page.wait_for_function("() => window.__smokeRun !== null", timeout=RUN_ALL_S * 1000, polling=1000)
            except Exception as exc:
                raise AssertionError(f"Run All Cells did not finish within {RUN_ALL_S} s{log_tail()}") from exc
            run = page.evaluate("() => window.__smokeRun")
            state = page.evaluate(JS_NOTEBOOK_JSON, NOTEBOOK)
            errors = [f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
                      for i, cell in enumerate(state["json"]["cells"]) for out in cell.get("outputs", [])
                      if out.get("output_type") == "error"]
            assert not errors, "cells raised in JupyterLab:\n" + "\n".join(errors)
            assert run["ok"], f"Run All Cells did not complete: {run}{log_tail()}"
            unrun = [i for i, cell in enumerate(state["json"]["cells"])
                     if cell["cell_type"] == "code" and cell.get("execution_count") is None]
            assert not unrun, f"code cells not executed by Run All Cells: {unrun}"
            print(f"lab smoke: all cells run after {time.monotonic() - started:.0f} s")

            def slider(label: str):
                return page.locator(".widget-slider", has=page.get_by_text(label, exact=True))

            volume, hours = slider("calls / month"), slider("GPU-hours per retrain")
            summary = page.locator(".widget-html-content", has_text="break-even")
            plot = page.locator("img.widget-image")
            for name, locator in (("calls / month slider", volume), ("GPU-hours slider", hours),
                                  ("break-even summary", summary), ("plot image", plot)):
                assert locator.count() == 1, f"the cost explorer's {name} is not on the page once " \
                    f"({locator.count()} found)"
            plot.scroll_into_view_if_needed()
            page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=plot.element_handle())

            def view() -> dict:
                return {"text": summary.inner_text(), "src": plot.get_attribute("src"),
                        "pixels": hashlib.sha256(plot.screenshot()).hexdigest(),
                        "volume": volume.locator(".widget-readout").inner_text(),
                        "hours": hours.locator(".widget-readout").inner_text()}

            def break_even(text: str) -> str:
                found = re.search(r"RAG vs FT self-hosted: (no break-even|break-even at [\d,]+)", text)
                assert found, f"no RAG vs FT self-hosted break-even in the summary: {text!r}"
                return found[1]

            first = view()
            assert "At 1,000,000 calls a month" in first["text"], f"unexpected starting summary: {first['text']!r}"

            # 1. Volume: the summary's costs and the plot's volume marker move.
            drag(page, volume, 0.8)
            second = poll(view, lambda v: v["text"] != first["text"] and v["pixels"] != first["pixels"],
                          REDRAW_S, "moving 'calls / month' did not change both the summary and the plot")
            assert second["volume"] != first["volume"], "the volume readout did not move"
            assert second["src"] != first["src"], "the plot image was not replaced"
            print(f"lab smoke: calls / month {first['volume']} -> {second['volume']}")

            # 2. Retraining cost: the break-even text and the plot's break-even line move.
            drag(page, hours, 0.6)
            third = poll(view, lambda v: break_even(v["text"]) != break_even(second["text"])
                         and v["pixels"] != second["pixels"], REDRAW_S,
                         "moving 'GPU-hours per retrain' did not change both the break-even text and the plot")
            assert third["hours"] != second["hours"], "the GPU-hours readout did not move"
            print(f"lab smoke: GPU-hours {second['hours']} -> {third['hours']}: "
                  f"{break_even(second['text'])} -> {break_even(third['text'])}")

            target = screenshot_path()
            summary.scroll_into_view_if_needed()
            page.screenshot(path=str(target))
            print(f"lab smoke: screenshot {target}; {time.monotonic() - started:.0f} s in the browser")
        finally:
            browser.close()
