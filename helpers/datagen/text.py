"""Small text utilities shared by the task generators: surface variation and aliases."""

from __future__ import annotations

import random
import re
import unicodedata

_WORD = re.compile(r"[a-z]{5,}")


def norm_key(text: str) -> str:
    """A normalisation for de-duplicating questions (lower case, punctuation removed)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def typo(template: str, rng: random.Random) -> str:
    """Swap two adjacent letters in one plain lower-case word of ``template``, outside {slots}."""
    spans = []
    for m in re.finditer(r"\{[^}]*\}|[A-Za-z]+", template):
        if m.group().startswith("{"):
            continue
        if _WORD.fullmatch(m.group()):
            spans.append(m.span())
    if not spans:
        return template
    start, end = rng.choice(spans)
    i = rng.randrange(start + 1, end - 2)
    chars = list(template)
    chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def vary(template: str, slots: dict, rng: random.Random, typo_rate: float = 0.12) -> str:
    """Fill ``template`` with ``slots`` and apply seeded surface noise (typo, casing, punctuation)."""
    if rng.random() < typo_rate:
        template = typo(template, rng)
    text = template.format(**slots)
    r = rng.random()
    if r < 0.15:
        text = text.lower()
    elif r < 0.22:
        text = text[0].lower() + text[1:]
    if text.endswith("?") and rng.random() < 0.15:
        text = text[:-1]
    return text


def aliases_for(answer: str) -> list[str]:
    """Accepted alternative spellings of a short answer (numbers, money, units, versions)."""
    out: list[str] = []
    a = answer
    m = re.fullmatch(r"\$([\d,]+)", a)
    if m:
        n = m.group(1)
        bare = n.replace(",", "")
        out += [n, bare, f"{n} USD", f"US${n}", f"{n} dollars", f"${bare}", f"{a}.00"]
    m = re.fullmatch(r"([\d,]+(?:\.\d+)?)( ?)(GB|MB|days|day|hours|hour|business days|minutes|%|rows|KB)?", a)
    if m and not out:
        n, _sp, unit = m.groups()
        bare = n.replace(",", "")
        out += [n, bare]
        if unit:
            out += [f"{bare} {unit}", f"{bare}{unit}"]
            short = {"hours": "h", "hour": "h", "minutes": "min", "days": "d", "%": " percent"}.get(unit)
            if short:
                out += [f"{bare}{short}"]
        elif "," in n:
            out.append(n.replace(",", " "))
    m = re.fullmatch(r"(\d+)\.(\d+)", a)
    if m:
        out += [f"v{a}", f"version {a}", f"Corvasse Flow {a}", f"{a}.0"]
    m = re.fullmatch(r"(\d{1,2}) ([A-Z][a-z]+) (\d{4})", a)
    if m:
        months = ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"]
        d, mon, y = m.groups()
        mi = months.index(mon) + 1
        out += [f"{y}-{mi:02d}-{int(d):02d}", f"{mon} {d}, {y}", f"{mon} {d} {y}"]
    if a in ("Spark", "Team", "Business", "Enterprise"):
        out += [f"{a} plan", f"the {a} plan", f"Corvasse Flow {a}"]
    seen, result = {a.lower()}, []
    for x in out:
        k = x.lower()
        if k and k not in seen:
            seen.add(k)
            result.append(x)
    return result
