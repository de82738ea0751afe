"""A tiny markdown builder that also records which facts an article states.

Every renderer writes its article through a :class:`Doc`. When it inserts a fact
it calls :meth:`Doc.fact`, which returns the text unchanged and remembers the fact
key (for example ``limit:team:seats``). The task generator later uses these records
as the gold sources of a question, and a test checks that the answer really
appears in each of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Doc:
    """One help-centre article being rendered."""

    id: str
    title: str
    section: str
    audience: str
    rng: random.Random
    blocks: list[str] = field(default_factory=list)
    facts: set[str] = field(default_factory=set)

    def fact(self, key: str, text: str) -> str:
        """Record that this article states fact ``key`` and return ``text``."""
        self.facts.add(key)
        return text

    def pick(self, *options: str) -> str:
        """One of ``options``, chosen by the article's seeded RNG."""
        return self.rng.choice(options)

    def h(self, text: str, level: int = 2) -> None:
        """Add a heading."""
        self.blocks.append("#" * level + " " + text)

    def p(self, *sentences: str) -> None:
        """Add a paragraph made of ``sentences`` (empty ones are skipped)."""
        text = " ".join(s.strip() for s in sentences if s and s.strip())
        if text:
            self.blocks.append(text)

    def bullets(self, items: list[str], numbered: bool = False) -> None:
        """Add a bulleted (or numbered) list."""
        if items:
            self.blocks.append("\n".join(
                (f"{i}. " if numbered else "- ") + item for i, item in enumerate(items, 1)))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        """Add a markdown table."""
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        self.blocks.append("\n".join(lines))

    def body(self) -> str:
        """The markdown body (title heading first)."""
        return "\n\n".join([f"# {self.title}"] + self.blocks) + "\n"
