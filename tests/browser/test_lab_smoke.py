"""The course's widgets in a real browser (`make smoke`, run by `make test` after nbval).

Starts JupyterLab on 127.0.0.1 and, in Debian's Chromium driven by Playwright, opens each notebook with a
widget (01's decision wizard, 09's cost explorer, and 11's labeller on replies made up in a small notebook),
runs all its cells, operates every kind of control (dropdown, checkbox, slider, button) and checks that what
should change does (the recommendation and its reasons; the plot's pixels and the break-even text; the labels
saved and the agreement shown). At two window widths, 1366 px (a common laptop) and 1920 px,
it checks that every control's description is whole: not cut by its own box (ellipsis), by any clipping
ancestor, or by the window. Screenshots of each widget at 1366 px go to ``<workspace>/runs/``, and also to
``$COURSE_SCREENSHOTS`` when set (``make screenshots`` sets it to ``docs/img``).

What it needs: ``/usr/bin/chromium`` (``bash scripts/install_browser.sh``; ``playwright install`` cannot
download browsers here) and ``playwright`` from requirements.txt. A missing piece FAILS the test: it is
never skipped. The first ``pytest tests/`` call of ``make test`` leaves this folder out
(``--ignore=tests/browser``) so that the tests run once, from ``make smoke``, after the browser is installed.

Nothing in the repository is written (unless ``$COURSE_SCREENSHOTS`` says so): JupyterLab serves a temporary
folder holding copies of the notebooks (outputs and saved widget state stripped, so the widgets on the page
come from this run), with its own settings (autosave off), workspaces, runtime and config folders; the
kernels use a temporary COURSE_WORKSPACE and the shared model cache (``<repo>/.course/models``, as ``make test``).
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
WIZARD, EXPLORER = "notebooks/01_decide.ipynb", "notebooks/09_costs.ipynb"
NOTEBOOKS = (WIZARD, EXPLORER)
# Notebook 11's labeller on replies made up here (11 itself loads a model and trains: minutes), in a notebook
# the fixture writes; its labels.jsonl goes to the kernel's COURSE_WORKSPACE, where the test reads it.
LABELLER = "notebooks/labeller.ipynb"
LABELLER_CODE = """import os
from pathlib import Path

from helpers import labels, widgets

folder = Path(os.environ["COURSE_WORKSPACE"]) / "labeller-case"
folder.mkdir(parents=True, exist_ok=True)
rows = [{"id": f"q{i:04d}", "question": f"What is {i} plus {i}?", "answer": str(2 * i),
         "closed": {"output": f"It is {2 * i}.", "correct": True, "reason": "found"},
         "rag": {"output": "The context does not say.", "correct": False, "reason": "not found"}} for i in range(1, 7)]
widgets.labeller(folder, labels.replies(rows), n=4)"""
WIDTHS = (1366, 1920)   # a common laptop, a full-HD screen
HEIGHT = 900
SHOT_WIDTH = 1366       # the width of the saved screenshots
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
RUN_ALL_S = 420         # every cell executed (model load and 01's failure profile; 09's help-centre index)
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

# Every description in a widget's output: its text, its box, and whether anything hides part of it: its own
# box (text wider than the box: ellipsis), an ancestor that clips (overflow not visible) or the window.
JS_LABELS = """(root) => {
    const found = [], area = root.getBoundingClientRect();
    for (const el of root.querySelectorAll('.widget-label, .widget-label-basic')) {
        const text = el.textContent.trim();
        if (!text || el.closest('.widget-readout')) continue;
        const r = el.getBoundingClientRect(), problems = [];
        if (r.width === 0 || r.height === 0) problems.push('not laid out');
        if (el.scrollWidth > el.clientWidth + 1) problems.push(`text ${el.scrollWidth}px wide in a ${el.clientWidth}px box`);
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
            if (getComputedStyle(a).overflowX === 'visible') continue;
            const b = a.getBoundingClientRect();
            if (r.left < b.left - 1 || r.right > b.right + 1) {
                problems.push(`cut by <${a.tagName.toLowerCase()} class="${a.className}">`);
                break;
            }
        }
        if (r.left < area.left - 1 || r.right > area.right + 1) problems.push('outside the output area');
        if (r.left < 0 || r.right > window.innerWidth) problems.push('outside the window');
        found.push({text, left: Math.round(r.left), right: Math.round(r.right), problems});
    }
    return found;
}"""


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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving temporary copies of 01 and 09: yields (base URL, token, log)."""
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    for notebook in NOTEBOOKS:
        (root / notebook).write_text(json.dumps(stripped_notebook(ROOT / notebook), indent=1))
    kernel = stripped_notebook(ROOT / WIZARD)["metadata"]
    (root / LABELLER).write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                                                        "outputs": [], "source": LABELLER_CODE}],
                                             "metadata": kernel, "nbformat": 4, "nbformat_minor": 5}, indent=1))
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


def screenshot_folders() -> list[Path]:
    """``<workspace>/runs`` always; ``$COURSE_SCREENSHOTS`` too when set (``make screenshots``: docs/img)."""
    folders = [Path(os.environ.get("COURSE_WORKSPACE") or ROOT / ".course").expanduser().resolve() / "runs"]
    if os.environ.get("COURSE_SCREENSHOTS"):
        folders.append(Path(os.environ["COURSE_SCREENSHOTS"]).expanduser().resolve())
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def save_screenshot(locator, name: str) -> list[Path]:
    """A screenshot of one element (a widget's output), written to every screenshot folder."""
    image = locator.screenshot()
    paths = [folder / name for folder in screenshot_folders()]
    for path in paths:
        path.write_bytes(image)
    return paths


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


@contextlib.contextmanager
def notebook_page(chromium, lab, notebook: str):
    """Chromium at the first width with `notebook` open in JupyterLab and every cell run without error."""
    from playwright.sync_api import sync_playwright  # requirements.txt: a missing package fails the test

    base, token, log = lab
    started = time.monotonic()

    def log_tail() -> str:
        return f"\nJupyterLab log (last lines):\n{log.read_text()[-3000:]}"

    with sync_playwright() as playwright:
        profile = Path(log).parent / f"chromium-{Path(notebook).stem}"  # a fresh, empty --user-data-dir
        browser = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": WIDTHS[0], "height": HEIGHT}, timeout=60_000)
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{base}/lab/tree/{notebook}?token={token}", timeout=PAGE_LOAD_S * 1000)
            page.wait_for_function(JS_KERNEL_IDLE, arg=notebook, timeout=PAGE_LOAD_S * 1000, polling=500)
            print(f"\n{notebook}: open, kernel idle after {time.monotonic() - started:.0f} s")
            page.evaluate(JS_RUN_ALL, notebook)
            try:
                page.wait_for_function("() => window.__smokeRun !== null", timeout=RUN_ALL_S * 1000, polling=1000)
            except Exception as exc:
                raise AssertionError(f"Run All Cells in {notebook} did not finish within {RUN_ALL_S} s{log_tail()}") from exc
            run = page.evaluate("() => window.__smokeRun")
            state = page.evaluate(JS_NOTEBOOK_JSON, notebook)
            errors = [f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
                      for i, cell in enumerate(state["json"]["cells"]) for out in cell.get("outputs", [])
                      if out.get("output_type") == "error"]
            assert not errors, f"cells of {notebook} raised in JupyterLab:\n" + "\n".join(errors)
            assert run["ok"], f"Run All Cells did not complete: {run}{log_tail()}"
            unrun = [i for i, cell in enumerate(state["json"]["cells"])
                     if cell["cell_type"] == "code" and cell.get("execution_count") is None]
            assert not unrun, f"code cells of {notebook} not executed by Run All Cells: {unrun}"
            print(f"{notebook}: all cells run after {time.monotonic() - started:.0f} s")
            yield page
            print(f"{notebook}: {time.monotonic() - started:.0f} s in the browser")
        finally:
            browser.close()


def check_labels_whole(page, output, what: str) -> list[str]:
    """At each width, every description in `output` is whole; returns the texts seen (at the last width)."""
    texts = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.wait_for_timeout(500)  # JupyterLab relays out on resize
        output.scroll_into_view_if_needed()
        labels = page.evaluate(JS_LABELS, output.element_handle())
        assert labels, f"no control descriptions found in the {what} at {width} px"
        cut = [f"{label['text']!r} ({'; '.join(label['problems'])})" for label in labels if label["problems"]]
        assert not cut, f"{what} at {width} px: descriptions not whole: " + ", ".join(cut)
        texts = [label["text"] for label in labels]
        print(f"{what} at {width} px: {len(labels)} descriptions whole")
    page.set_viewport_size({"width": SHOT_WIDTH, "height": HEIGHT})
    page.wait_for_timeout(500)
    return texts


def widget_output(page, has_text: str):
    """The output area (of one cell) holding a widget whose HTML contains `has_text`."""
    html = page.locator(".widget-html-content", has_text=has_text)
    output = page.locator(".jp-OutputArea-output", has=html)
    assert output.count() == 1, f"the widget showing {has_text!r} is not on the page once ({output.count()} found)"
    return output


def control(output, kind: str, label: str):
    """The control of ipywidgets class `kind` (e.g. 'widget-slider') whose description is `label`."""
    found = output.locator(f".{kind}", has=output.page.get_by_text(label, exact=True))
    assert found.count() == 1, f"the control {label!r} ({kind}) is not on the page once ({found.count()} found)"
    return found


def test_cost_explorer_redraws_and_reads_whole(chromium, lab):
    with notebook_page(chromium, lab, EXPLORER) as page:
        explorer = widget_output(page, "break-even")
        labels = check_labels_whole(page, explorer, "cost explorer")
        for expected in ("calls / month", "RAG prompt tokens", "GPU-hours per retrain", "gate: share to RAG"):
            assert expected in labels, f"{expected!r} is not among the explorer's descriptions {labels}"
        volume = control(explorer, "widget-slider", "calls / month")
        hours = control(explorer, "widget-slider", "GPU-hours per retrain")
        summary = explorer.locator(".widget-html-content", has_text="break-even")
        plot = explorer.locator("img.widget-image")
        assert plot.count() == 1, f"the explorer's plot is not on the page once ({plot.count()} found)"
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
        # The summary is set before the plot, and a reflow of the summary can change the plot's screenshot
        # before its new image arrives: wait for the image itself to be replaced (a new blob URL) too.
        second = poll(view, lambda v: v["text"] != first["text"] and v["src"] != first["src"]
                      and v["pixels"] != first["pixels"], REDRAW_S,
                      "moving 'calls / month' did not change the summary, replace the plot and change its pixels")
        assert second["volume"] != first["volume"], "the volume readout did not move"
        print(f"cost explorer: calls / month {first['volume']} -> {second['volume']}")
        # 2. Retraining cost: the break-even text and the plot's break-even line move.
        drag(page, hours, 0.6)
        third = poll(view, lambda v: break_even(v["text"]) != break_even(second["text"])
                     and v["src"] != second["src"] and v["pixels"] != second["pixels"], REDRAW_S,
                     "moving 'GPU-hours per retrain' did not change both the break-even text and the plot")
        assert third["hours"] != second["hours"], "the GPU-hours readout did not move"
        print(f"cost explorer: GPU-hours {second['hours']} -> {third['hours']}: "
              f"{break_even(second['text'])} -> {break_even(third['text'])}")
        print("cost explorer: screenshots", save_screenshot(explorer, "cost_explorer.png"))


def test_decision_wizard_follows_its_answers_and_reads_whole(chromium, lab):
    with notebook_page(chromium, lab, WIZARD) as page:
        wizard = widget_output(page, "Recommendation:")
        labels = check_labels_whole(page, wizard, "decision wizard")
        for expected in ("what fails (the gap)", "how often knowledge changes", "calls a month",
                         "prompt shrink measured", "FT prompt shorter by"):
            assert expected in labels, f"{expected!r} is not among the wizard's descriptions {labels}"
        summary = wizard.locator(".widget-html-content", has_text="Recommendation:")

        def text() -> str:
            return summary.inner_text()

        def recommendation(value: str) -> str:
            return value.splitlines()[0]

        # 1. The gap: every other answer is tried; the recommendation must follow at least one of them.
        gap = control(wizard, "widget-dropdown", "what fails (the gap)").locator("select")
        start, options = text(), gap.locator("option").all_inner_texts()
        assert len(options) >= 2, f"the gap dropdown offers {options}"
        seen = {gap.input_value(): recommendation(start)}
        for option in options:
            if option in seen:
                continue
            before = text()
            gap.select_option(label=option)
            seen[option] = recommendation(poll(text, lambda v, b=before: v != b, REDRAW_S,
                                                f"choosing gap {option!r} did not change the wizard's text"))
        assert len(set(seen.values())) >= 2, f"the recommendation did not follow the gap: {seen}"
        print(f"decision wizard: gap -> recommendation {seen}")
        # 2. Volume: the reasons name the monthly calls.
        calls = control(wizard, "widget-slider", "calls a month")
        before, readout = text(), calls.locator(".widget-readout").inner_text()
        drag(page, calls, 0.9)
        after = poll(text, lambda v: v != before, REDRAW_S, "moving 'calls a month' did not change the reasons")
        moved = calls.locator(".widget-readout").inner_text()
        assert moved != readout and moved.replace(",", "") in after.replace(",", ""), \
            f"the reasons do not name the new volume {moved}: {after!r}"
        # 3. The checkbox switches the shrink slider on and the reasons take the shrink into account.
        shrink = control(wizard, "widget-slider", "FT prompt shorter by").locator(".noUi-target")
        assert shrink.get_attribute("disabled") is not None, "the shrink slider is live before the shrink is measured"
        before = text()
        control(wizard, "widget-checkbox", "prompt shrink measured").locator("input[type=checkbox]").check()
        after = poll(text, lambda v: v != before, REDRAW_S, "ticking 'prompt shrink measured' did not change the reasons")
        assert shrink.get_attribute("disabled") is None, "the shrink slider stayed disabled after ticking the box"
        assert "shorter prompts" in after, f"the reasons do not use the measured shrink: {after!r}"
        first_gap = next(iter(seen))  # back to the profile's gap for the screenshot
        before = text()
        gap.select_option(label=first_gap)
        poll(text, lambda v: v != before or recommendation(v) == seen[first_gap], REDRAW_S,
             f"choosing gap {first_gap!r} again did not redraw the wizard")
        print(f"decision wizard: calls {readout} -> {moved}; shrink measured: {after.splitlines()[-1]!r}")
        print("decision wizard: screenshots", save_screenshot(wizard, "decision_wizard.png"))


def test_labeller_saves_each_click_and_reports_agreement(chromium, lab):
    workspace = Path(lab[2]).parent / "course-workspace"
    saved = workspace / "labeller-case" / "labels.jsonl"
    with notebook_page(chromium, lab, LABELLER) as page:
        # the output area found by its first card, then held as an element: the cards change under the clicks
        output = widget_output(page, "Is the reply a correct answer").element_handle()
        assert "1 of 4" in output.inner_text()
        for i, name in enumerate(("Correct", "Wrong", "Skip", "Correct"), 1):
            buttons = output.query_selector_all(f"button:has-text('{name}')")
            assert len(buttons) == 1, f"the {name!r} button is not in the labeller once ({len(buttons)} found)"
            buttons[0].click()
            if i < 4:
                poll(output.inner_text, lambda v, n=i: f"{n + 1} of 4" in v, REDRAW_S,
                     f"clicking {name!r} did not show reply {i + 1} of 4")
        summary = poll(output.inner_text, lambda v: "agrees with you" in v, REDRAW_S,
                       "the last click did not show the grader's agreement")
        assert "Done: 3 labels saved" in summary and "unchecked" in summary, summary
        assert all(b.is_disabled() for b in output.query_selector_all("button")), "buttons still active when done"
        lines = [json.loads(x) for x in saved.read_text().splitlines()]
        assert [x["label"] for x in lines] == ["correct", "wrong", "correct"], lines
        image = output.screenshot()
        for folder in screenshot_folders():
            (folder / "labeller.png").write_bytes(image)
        print("labeller: 4 clicks, 3 labels saved, agreement shown")
