"""Read the hand-written facts files, apply the v2 change set, and format values.

The facts file ``data/facts/facts_v1.json`` is the single source of truth of the
course data; ``changes_v2.json`` lists documented edits to it. Every article and
every task item is rendered from these two files, and every number or name that
appears in the text goes through the formatting helpers below, so that a gold
answer and the article that states it spell the value the same way.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def read_json(path: Path) -> Any:
    """Read one JSON file (UTF-8)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_facts_files(facts_dir: Path) -> tuple[dict, dict]:
    """Return ``(facts_v1, changes)`` read from ``facts_dir``."""
    facts_dir = Path(facts_dir)
    return read_json(facts_dir / "facts_v1.json"), read_json(facts_dir / "changes_v2.json")


def _pointer_parts(path: str) -> list[str]:
    """Split a JSON Pointer (RFC 6901) such as ``/plans/team/price_monthly_usd``."""
    if not path.startswith("/"):
        raise ValueError(f"fact path {path!r} must be a JSON Pointer starting with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def get_path(facts: dict, path: str) -> Any:
    """Return the value at JSON Pointer ``path``, or None when a key is missing."""
    node: Any = facts
    for part in _pointer_parts(path):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def set_path(facts: dict, path: str, value: Any) -> None:
    """Set the value at JSON Pointer ``path``; the parent object must exist."""
    parts = _pointer_parts(path)
    node = facts
    for part in parts[:-1]:
        if part not in node:
            raise KeyError(f"change path {path!r}: no key {part!r}")
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)


def apply_changes(facts_v1: dict, changes: dict) -> dict:
    """Return v2 facts: a copy of v1 with every change applied, checking each old value."""
    facts = copy.deepcopy(facts_v1)
    for change in changes["changes"]:
        current = get_path(facts, change["path"])
        if current != change["old"]:
            raise ValueError(
                f"change {change['id']}: {change['path']} is {current!r} in v1, "
                f"but changes_v2.json says the old value is {change['old']!r}"
            )
        set_path(facts, change["path"], change["new"])
    return facts


def changed_paths(changes: dict) -> set[str]:
    """All fact paths touched by the change set."""
    return {c["path"] for c in changes["changes"]}


def is_static(path: str, changes: dict) -> bool:
    """True when no change touches ``path`` or anything above or below it."""
    for p in changed_paths(changes):
        if p == path or p.startswith(path + "/") or path.startswith(p + "/"):
            return False
    return True


# ---------------------------------------------------------------- formatting

def num(value: int | float) -> str:
    """Format a number the way the articles do: ``20000`` -> ``20,000``; ``99.5`` -> ``99.5``."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return f"{int(value):,}"


def money(value: int | float) -> str:
    """Format US dollars: ``1428`` -> ``$1,428``."""
    return "$" + num(value)


def long_date(iso: str) -> str:
    """``2023-04-11`` -> ``11 April 2023`` (the house style for dates in articles)."""
    d = dt.date.fromisoformat(iso)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def us_date(iso: str) -> str:
    """``2023-04-11`` -> ``April 11, 2023`` (an accepted alias)."""
    d = dt.date.fromisoformat(iso)
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def limit_value(facts: dict, key: str, value: int) -> str:
    """The canonical short answer for a plan limit, e.g. ``50 GB`` or ``20,000``."""
    return num(value) + facts["limit_definitions"][key]["suffix"]


def limit_phrase(facts: dict, key: str, value: int) -> str:
    """A limit with its unit as prose, e.g. ``20,000 workflow runs per month``."""
    d = facts["limit_definitions"][key]
    if d["suffix"]:
        return f"{num(value)}{d['suffix']} of {d['label']}" if key == "storage_gb" else (
            f"{num(value)}{d['suffix']}")
    return f"{num(value)} {d['label']}"


def plans_in_order(facts: dict) -> list[str]:
    """Plan ids from cheapest to most expensive."""
    return sorted(facts["plans"], key=lambda p: facts["plans"][p]["rank"])


def plans_from(facts: dict, min_plan: str) -> list[str]:
    """Plan ids at or above ``min_plan``."""
    rank = facts["plans"][min_plan]["rank"]
    return [p for p in plans_in_order(facts) if facts["plans"][p]["rank"] >= rank]


def plan_name(facts: dict, plan: str) -> str:
    """Display name of a plan id."""
    return facts["plans"][plan]["name"]


def join_names(names: list[str], conj: str = "and") -> str:
    """``['a','b','c']`` -> ``a, b and c``."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {conj} " + names[-1]


def uptime(value: float | None) -> str:
    """``99.9`` -> ``99.9%``; None -> ``no uptime commitment``."""
    return "no uptime commitment" if value is None else f"{value:g}%"


def annual_per_month(facts: dict, plan: str) -> int:
    """Monthly equivalent of the annual price (prices are chosen to divide evenly)."""
    return facts["plans"][plan]["price_annual_usd"] // 12


def setting_value(value: Any) -> str:
    """Format a setting default: numbers without separators (they are config values)."""
    return str(value)
