"""The pictures of the README and the pages under docs/ (docs/results.md shows them): each one shown exists in
docs/img, is a PNG, and is used; those drawn from a notebook are still the committed notebook's output
(scripts/readme_images.py, `make screenshots`)."""

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


def shown_pictures() -> dict[Path, str]:
    """{picture file, resolved from the document that shows it: document} over the README and docs/*.md."""
    shown = {}
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in readme_images(doc.read_text()):
            if "://" not in path:
                shown[(doc.parent / path).resolve()] = doc.relative_to(ROOT).as_posix()
    return shown


def test_the_docs_show_every_picture_and_each_exists():
    shown = shown_pictures()
    local = {file.name for file in shown if file.parent == IMAGES.resolve()}
    on_disk = {p.name for p in IMAGES.glob("*.png")}
    assert local, "neither the README nor a page under docs/ shows a picture from docs/img"
    for file, doc in shown.items():
        assert file.is_file(), f"{doc} shows {file}, which does not exist: run `make screenshots`"
        assert file.parent == IMAGES.resolve(), f"{doc} shows {file}, which is not in docs/img"
        assert file.read_bytes()[:8] == PNG_MAGIC, f"{file.name} is not a PNG"
    assert on_disk <= local, f"pictures in docs/img no page shows: {sorted(on_disk - local)}"
    assert set(WIDGET_SHOTS) <= local, f"the widget screenshots {WIDGET_SHOTS} must be shown"


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
