"""The README's pictures: each one it shows exists in docs/img, is a PNG, and is used; those drawn from a
notebook are still the committed notebook's output (scripts/readme_images.py, `make screenshots`)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Written by the browser tests (tests/browser) under COURSE_SCREENSHOTS=docs/img.
WIDGET_SHOTS = ("decision_wizard.png", "cost_explorer.png")


def readme_images(text: str) -> list[str]:
    """Paths of the images a Markdown text shows: ![alt](path) and <img src="path">."""
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text) + re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", text)


def load_script():
    spec = importlib.util.spec_from_file_location("readme_images", ROOT / "scripts" / "readme_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_shows_every_picture_and_each_exists():
    shown = readme_images((ROOT / "README.md").read_text())
    local = {Path(p).name for p in shown if p.startswith("docs/img/")}
    on_disk = {p.name for p in IMAGES.glob("*.png")}
    assert local, "the README shows no picture from docs/img"
    for path in shown:
        if path.startswith("docs/img/"):
            file = ROOT / path
            assert file.is_file(), f"the README shows {path}, which does not exist: run `make screenshots`"
            assert file.read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert on_disk <= local, f"pictures in docs/img the README does not show: {sorted(on_disk - local)}"
    assert set(WIDGET_SHOTS) <= local, f"the README must show the widget screenshots {WIDGET_SHOTS}"


def test_notebook_pictures_are_the_committed_outputs():
    tagged = load_script().tagged_images()
    assert {"benchmark.png", "benchmark_paired.png"} <= set(tagged), f"08's charts are not tagged: {sorted(tagged)}"
    for name, (notebook, png) in tagged.items():
        assert (IMAGES / name).read_bytes() == png, \
            f"docs/img/{name} is not {notebook.name}'s committed output: run `python scripts/readme_images.py`"


def test_the_checks_find_pictures_and_refuse_a_tag_without_output(tmp_path):
    assert readme_images('![a](docs/img/x.png) and <img src="docs/img/y.png" width="600">') == \
        ["docs/img/x.png", "docs/img/y.png"]
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "01_x.ipynb").write_text('{"cells": [{"cell_type": "code", "metadata": {"readme_image": "a.png"}, '
                                          '"outputs": [], "source": []}]}')
    with pytest.raises(ValueError, match="01_x.ipynb cell 0 is tagged readme_image='a.png' but has no PNG output"):
        load_script().tagged_images(notebooks)
