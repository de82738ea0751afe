"""Text normalisation for matching answers, at the bottom of the layering (it imports nothing of the course).

``data`` (validating task files) and ``evaluate`` (scoring) both use it; ``evaluate.normalize`` is the same function.
"""

from __future__ import annotations

import re
import unicodedata

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_ARTICLES = {"a", "an", "the"}


def normalize(text: str) -> str:
    """Normalise text for matching: lower case, thousands separators dropped, punctuation to spaces,
    articles (a/an/the) removed, whitespace collapsed. A decimal point between digits is kept.

    >>> normalize("The Team plan: $1,428 per year!")
    'team plan 1428 per year'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize() expects a string, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text).lower()
    text = _THOUSANDS.sub("", text)
    out = []
    for i, ch in enumerate(text):
        if ch == "." and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
            out.append(ch)
        elif unicodedata.category(ch)[0] in "PS":
            out.append(" ")
        else:
            out.append(ch)
    return " ".join(w for w in "".join(out).split() if w not in _ARTICLES)
