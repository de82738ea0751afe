"""Write the sample case's documents (data/cases/python_reference/docs) from Python's own language reference.

The text is the one `pydoc` shows for `help("assert")` and friends: CPython ships it in
``pydoc_data/topics.py`` (Python Software Foundation License Version 2; see the case's README). The
course's generator wrote none of it. Most topics are written as plain text (as shipped), some as
Markdown (the starred title underline turned into ``#``) and some as HTML, so the case exercises the
three formats a learner's folder may hold. Run once; the output is committed:

    python scripts/make_sample_case.py
"""

from __future__ import annotations

import html
import pydoc_data.topics
import re
import sys
from pathlib import Path

TXT = ("assert", "assignment", "augassign", "break", "continue", "del", "global", "nonlocal", "pass",
       "raise", "return", "import", "if", "while", "for", "try", "with", "lambda")
MD = ("function", "class", "truth", "booleans", "comparisons", "integers", "floating", "slicings")
HTML = ("yield", "exceptions", "formatstrings", "context-managers")
DOCS = Path(__file__).resolve().parents[1] / "data" / "cases" / "python_reference" / "docs"


def _title(text: str) -> tuple[str, str]:
    """The first line and the rest, without the line of stars or equals signs under the title."""
    lines = text.strip("\n").splitlines()
    rest = lines[2:] if len(lines) > 1 and set(lines[1].strip()) <= set("*=") else lines[1:]
    return lines[0].strip(), "\n".join(rest).strip("\n")


def as_markdown(text: str) -> str:
    title, body = _title(text)
    body = re.sub(r"(?m)^(.+)\n[=]{3,}$", r"## \1", body)  # section titles underlined with '='
    return f"# {title}\n\n{body}\n"


def as_html(text: str) -> str:
    title, body = _title(text)
    paragraphs = [p for p in re.split(r"\n\s*\n", body) if p.strip()]
    parts = [f"<pre>{html.escape(p)}</pre>" if p.startswith("   ") else f"<p>{html.escape(p)}</p>" for p in paragraphs]
    return (f"<!DOCTYPE html>\n<html><head><title>{html.escape(title)}</title>"
            f"<style>p {{ margin: 1em; }}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    topics = pydoc_data.topics.topics
    for names, suffix, render in ((TXT, ".txt", lambda t: t.strip("\n") + "\n"), (MD, ".md", as_markdown),
                                  (HTML, ".html", as_html)):
        for name in names:
            (DOCS / f"{name}{suffix}").write_text(render(topics[name]), encoding="utf-8")
    print(f"wrote {len(TXT) + len(MD) + len(HTML)} documents to {DOCS} from Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
