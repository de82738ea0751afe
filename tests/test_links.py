"""Links in the README, the pages under docs/, the data card and the notebooks' markdown: no link points at a
missing file. The README stays a newcomer's first screen: short, with every page under docs/ linked from it.

Relative links must name an existing file or folder (``#anchors`` into markdown files must name a
heading); links to this course on Colab or GitHub must name an existing path; other web links are
only checked for form, never fetched. To list them for a manual check::

    python tests/test_links.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from helpers import env

ROOT = Path(__file__).resolve().parents[1]
DOCS_PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCUMENTS = [ROOT / "README.md", ROOT / "data" / "README.md", ROOT / "CONTRIBUTING.md", *DOCS_PAGES,
             ROOT / "data" / "security" / "README.md", *sorted((ROOT / "notebooks").glob("**/*.ipynb"))]
#: The README is the first screen; deep material goes to a page under docs/ linked from it.
README_MAX_LINES = 150

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
PATTERNS = [
    re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)"),  # [text](target "title"), nested too
    re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M),  # [ref]: target
    re.compile(r"<(https?://[^>\s]+)>"),  # <https://...>
    re.compile(r"(?:href|src)\s*=\s*[\"']([^\"']+)[\"']"),  # HTML
    re.compile(r"(?<![(<\"'=])\b(https?://[^\s)<>\]\"'`]+)"),  # a bare URL in prose
]
COURSE_COLAB = "https://colab.research.google.com/github/"
COURSE_GITHUB = f"https://github.com/{env.GITHUB_REPO}/"


def markdown_of(path: Path) -> str:
    """The markdown of a document: the file itself, or a notebook's markdown cells joined."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text()


def links_in(text: str) -> list[str]:
    """Every link target in markdown `text`, in order, without duplicates; code is not searched."""
    text = CODE_SPAN.sub("", FENCE.sub("", text))
    found = []
    for pattern in PATTERNS:
        for match in pattern.finditer(text):
            target = match.group(1).rstrip(".,;:")
            if target not in found:
                found.append(target)
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    text = FENCE.sub("", markdown_of(path))
    return {slug(re.sub(r"[*_`]", "", m)) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)}


def is_external(target: str) -> bool:
    return urlparse(target).scheme in {"http", "https"}


def check_local(document: Path, target: str) -> str | None:
    """Why a relative link from `document` is broken, or None when it is fine."""
    if target.startswith(("mailto:", "tel:")):
        return None
    path_part, _, anchor = target.partition("#")
    base = ROOT if path_part.startswith("/") else document.parent
    resolved = (base / unquote(path_part.lstrip("/"))).resolve() if path_part else document
    if ROOT not in resolved.parents and resolved != ROOT:
        return f"{target!r} points outside the repository"
    if not resolved.exists():
        return f"{target!r}: {resolved.relative_to(ROOT)} does not exist"
    if anchor and resolved.suffix == ".md" and anchor not in anchors_of(resolved):
        return f"{target!r}: {resolved.relative_to(ROOT)} has no heading for #{anchor}"
    return None


def check_external(target: str) -> str | None:
    """Why a web link is malformed, or points at a course file that does not exist; None when it is fine."""
    url = urlparse(target)
    if not url.netloc or "." not in url.netloc or " " in target:
        return f"{target!r} is not a well-formed URL"
    if target.startswith(COURSE_COLAB) and env.GITHUB_REPO in target:
        rel = target.split(f"/blob/{env.GITHUB_BRANCH}/", 1)[-1]
        if target != env.colab_url(rel) or not (ROOT / rel).is_file():
            return f"{target!r}: not a Colab link to an existing notebook (helpers.env.colab_url)"
    if target.startswith(COURSE_GITHUB):
        rel = re.sub(rf"^(blob|tree)/{env.GITHUB_BRANCH}/", "", target[len(COURSE_GITHUB):]).split("#")[0]
        if rel and not (ROOT / rel).exists():
            return f"{target!r}: {rel} does not exist in this repository"
    return None


def all_links() -> dict[Path, list[str]]:
    return {doc: links_in(markdown_of(doc)) for doc in DOCUMENTS}


def test_documents_exist():
    for doc in DOCUMENTS[:2]:
        assert doc.is_file(), f"{doc.relative_to(ROOT)} is missing"
    assert any(links for links in all_links().values()), "no links found: is the link pattern broken?"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_existing_files(document):
    broken = [problem for target in links_in(markdown_of(document)) if not is_external(target)
              if (problem := check_local(document, target))]
    assert not broken, f"{document.relative_to(ROOT)}: broken links: {broken}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_external_links_are_well_formed(document):
    external = [t for t in links_in(markdown_of(document)) if is_external(t)]
    print(f"{document.relative_to(ROOT)}: {len(external)} external links (not fetched)", *external, sep="\n  ")
    bad = [problem for target in external if (problem := check_external(target))]
    assert not bad, f"{document.relative_to(ROOT)}: {bad}"


def test_readme_is_under_150_lines():
    n = len((ROOT / "README.md").read_text().splitlines())
    assert n < README_MAX_LINES, (f"README.md has {n} lines (limit: under {README_MAX_LINES}); move the detail to a page "
                                  "under docs/ and link it from the README")


def pages_linked_from(document: Path) -> set[Path]:
    """The files that `document`'s relative links point at (anchors dropped)."""
    return {(document.parent / unquote(target.partition("#")[0])).resolve()
            for target in links_in(markdown_of(document)) if not is_external(target) and target.partition("#")[0]}


def test_every_docs_page_is_linked_from_the_readme():
    assert (ROOT / "docs" / "workshop.md") in DOCS_PAGES and len(DOCS_PAGES) >= 2
    linked = pages_linked_from(ROOT / "README.md")
    missing = [p.relative_to(ROOT).as_posix() for p in DOCS_PAGES if p.resolve() not in linked]
    assert not missing, f"pages under docs/ that README.md does not link to: {missing}"


def test_the_checks_catch_broken_links(tmp_path):
    text = ("See [setup](notebooks/00_setup.ipynb), ![plot](missing.png), [card](data/README.md#corpus), "
            "[bad anchor](README.md#no-such-heading), <https://example.org/a>, https://example.org/b.\n"
            "```\n[in code](nowhere.md)\n```\n`[span](nowhere.md)` [ref]: ../outside.txt\n"
            '<a href="docs/gone.html">x</a> [![badge](x.svg)](https://example.org/c)')
    targets = links_in(text)
    assert sorted(targets) == sorted(["notebooks/00_setup.ipynb", "missing.png", "data/README.md#corpus", "x.svg",
                                      "https://example.org/c", "README.md#no-such-heading", "../outside.txt",
                                      "https://example.org/a", "docs/gone.html", "https://example.org/b"])
    problems = {t: check_local(ROOT / "README.md", t) for t in targets if not is_external(t)}
    assert problems["notebooks/00_setup.ipynb"] is None and problems["data/README.md#corpus"] is None
    assert "does not exist" in problems["missing.png"] and "does not exist" in problems["docs/gone.html"]
    assert "no heading" in problems["README.md#no-such-heading"]
    assert "outside the repository" in check_local(ROOT / "README.md", "../outside.txt")
    assert check_external("https://colab.research.google.com/github/" + env.GITHUB_REPO + "/blob/main/x.ipynb")
    assert check_external(env.colab_url("notebooks/00_setup.ipynb")) is None
    assert check_external(COURSE_GITHUB + "blob/main/helpers/nowhere.py")
    assert check_external("https://exa mple") and check_external("http://localhost")
    readme = tmp_path / "README.md"
    readme.write_text("[a](docs/a.md#x), [b](docs/b.md 'title'), [web](https://example.org/docs/c.md), `[d](docs/d.md)`")
    assert pages_linked_from(readme) == {tmp_path / "docs" / "a.md", tmp_path / "docs" / "b.md"}


if __name__ == "__main__":
    for doc, targets in all_links().items():
        for target in targets:
            if is_external(target):
                print(f"{doc.relative_to(ROOT)}\t{target}")
