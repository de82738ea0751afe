"""The generator is deterministic and its building blocks behave."""

import filecmp
import random
from pathlib import Path

import pytest

from helpers.datagen import generate
from helpers.datagen.facts import apply_changes, get_path, load_facts_files, money, num, set_path
from helpers.datagen.text import aliases_for, typo, vary

DATA = Path(__file__).resolve().parents[1] / "data"


def _files(root: Path) -> set[str]:
    skip = {"facts", "schemas", "security", "heldout", "cases", "labels"}  # security/, heldout/, cases/, labels/: not generated
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in skip}


def test_regeneration_is_byte_identical(tmp_path):
    summary = generate(tmp_path, DATA / "facts")
    assert summary["articles"][1] >= 50
    ours, shipped = _files(tmp_path), _files(DATA)
    assert ours == shipped, sorted(ours ^ shipped)
    _match, mismatch, errors = filecmp.cmpfiles(DATA, tmp_path, sorted(ours), shallow=False)
    assert not mismatch and not errors, mismatch[:5]


def test_wrong_change_set_is_rejected(tmp_path):
    facts_dir = tmp_path / "facts"
    facts_dir.mkdir()
    text = (DATA / "facts" / "changes_v2.json").read_text(encoding="utf-8")
    (facts_dir / "facts_v1.json").write_text((DATA / "facts" / "facts_v1.json").read_text(encoding="utf-8"))
    (facts_dir / "changes_v2.json").write_text(text.replace('"articles": ["KB-135"]', '"articles": []'))
    with pytest.raises(ValueError, match="KB-135"):
        generate(tmp_path / "out", facts_dir)
    (facts_dir / "changes_v2.json").write_text(text.replace('"old": 49, "new": 55', '"old": 48, "new": 55'))
    with pytest.raises(ValueError, match="C01"):
        generate(tmp_path / "out", facts_dir)


def test_apply_changes_and_pointers():
    f1, changes = load_facts_files(DATA / "facts")
    f2 = apply_changes(f1, changes)
    assert get_path(f1, "/plans/team/price_monthly_usd") == 49 and get_path(f2, "/plans/team/price_monthly_usd") == 55
    assert get_path(f2, "/error_codes/CFX-4093/name") == "SeatLimitReached"
    assert get_path(f1, "/error_codes/CFX-4093") is None
    d = {"a": {"b": 1}}
    set_path(d, "/a/b", 2)
    assert d == {"a": {"b": 2}}
    with pytest.raises(ValueError):
        get_path(d, "a/b")


def test_formatting_and_aliases():
    assert money(1428) == "$1,428" and num(20000) == "20,000" and num(99.95) == "99.95"
    assert {"49", "49 USD"} <= set(aliases_for("$49"))
    assert "2023-04-11" in aliases_for("11 April 2023")
    assert "v3.2" in aliases_for("3.2")
    assert "Team plan" in aliases_for("Team")


def test_vary_and_typo_are_seeded():
    a = [vary("How many seats does {plan} include?", {"plan": "Team"}, random.Random(i)) for i in range(30)]
    b = [vary("How many seats does {plan} include?", {"plan": "Team"}, random.Random(i)) for i in range(30)]
    assert a == b and len(set(a)) > 3
    assert all("Team" in q or "team" in q for q in a)
    t = typo("Which setting controls {code}?", random.Random(1))
    assert "{code}" in t and t != "Which setting controls {code}?"
