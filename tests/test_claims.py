"""helpers.claims: verdict rules on hand-computed cases, bad input, the results file, and coverage by notebooks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import claims

ROOT = Path(__file__).resolve().parents[1]


def make(kind, low=None, high=None, unit=""):
    return claims.Claim("x", "words", "section", "00_setup", "metric", kind, low, high, unit)


@pytest.mark.parametrize("kind, bounds, value, interval, expected", [
    ("at_least", (0.5, None), 0.7, (0.55, 0.85), "holds"),
    ("at_least", (0.5, None), 0.7, (0.45, 0.85), "not decidable at this n"),
    ("at_least", (0.5, None), 0.3, (0.2, 0.49), "does not hold here"),
    ("at_least", (0.5, None), 0.5, None, "holds"),                       # a figure without interval: itself
    ("at_most", (None, 200), 12, (10, 15), "holds"),
    ("at_most", (None, 200), 190, (150, 230), "not decidable at this n"),
    ("at_most", (None, 200), 250, (210, 300), "does not hold here"),
    ("range", (0.6, 0.8), 0.7, (0.62, 0.78), "holds"),
    ("range", (0.6, 0.8), 0.7, (0.5, 0.9), "holds partly"),
    ("range", (0.6, 0.8), 0.39, (0.16, 0.58), "does not hold here"),
    ("range", (0.6, 0.8), 0.9, (0.79, 0.95), "not decidable at this n"),
    ("range", (0.6, 0.8), 0.96, (0.95, 0.97), "does not hold here"),
    ("direction", (0.0, None), 20.0, (6.7, 33.3), "holds"),
    ("direction", (0.0, None), -2.0, (-12.0, 9.0), "not decidable at this n"),
    ("direction", (0.0, None), -8.0, (-17.0, -2.0), "does not hold here"),
])
def test_verdict_rules(kind, bounds, value, interval, expected):
    c = make(kind, *bounds)
    low, high = interval or (None, None)
    outcome, reason = claims.verdict(c, value, low, high)
    assert outcome == expected, reason
    assert outcome in claims.VERDICTS and reason


def test_a_paired_test_must_agree_before_a_comparison_is_decided():
    sql = make("direction", 0.0)
    assert claims.verdict(sql, 8.3, 1.7, 16.7, p=0.062)[0] == "not decidable at this n"
    assert claims.verdict(sql, 8.3, 1.7, 16.7, p=0.01)[0] == "holds"
    assert claims.verdict(sql, -20.0, -33.3, -6.7, p=0.0075)[0] == "does not hold here"
    # a margin other than 0 is not what the p-value tests: it is left to the interval
    assert claims.verdict(make("at_least", -5.0), 1.0, -2.0, 4.0, p=0.9)[0] == "holds"


def test_verdict_refuses_an_upside_down_interval():
    with pytest.raises(ValueError, match="upside down"):
        claims.verdict(make("at_least", 0.5), 0.6, 0.7, 0.5)


def test_every_claim_is_well_formed():
    for c in claims.CLAIMS.values():
        assert c.kind in claims.KINDS, c.id
        assert (ROOT / "notebooks" / f"{c.notebook}.ipynb").is_file(), f"{c.id}: no notebook {c.notebook}"
        if c.kind in ("at_least", "direction"):
            assert c.low is not None, c.id
        if c.kind == "at_most":
            assert c.high is not None, c.id
        if c.kind == "range":
            assert c.low < c.high, c.id


def test_record_writes_verdict_and_provenance_and_replaces_on_rerun(tmp_path):
    path = tmp_path / "claims.json"
    first = claims.record("gate_cut", 0.39, n=90, low=0.16, high=0.58, note="test", path=path)
    assert first["verdict"] == "does not hold here" and first["n"] == 90
    assert {"tier", "model", "profile", "data_version", "date", "device"} <= set(first)
    claims.record("gate_cut", 0.7, n=90, low=0.65, high=0.75, path=path)
    saved = claims.load(path)
    assert list(saved) == ["gate_cut"] and saved["gate_cut"]["verdict"] == "holds"


@pytest.mark.parametrize("kwargs, message", [
    ({"claim_id": "no_such_claim", "value": 1.0, "n": 3}, "unknown claim 'no_such_claim'"),
    ({"claim_id": "gate_cut", "value": 0.5, "n": 0}, "claim 'gate_cut': n must be a positive count"),
    ({"claim_id": "gate_cut", "value": 0.5, "n": None}, "claim 'gate_cut': n must be"),
    ({"claim_id": "gate_cut", "value": 0.5, "n": 30, "low": 0.4}, "claim 'gate_cut': give both ends"),
    ({"claim_id": "gate_cut", "value": float("nan"), "n": 30}, "claim 'gate_cut': value must be a finite number"),
])
def test_record_rejects_bad_input_naming_the_claim(tmp_path, kwargs, message):
    with pytest.raises((KeyError, ValueError), match=re.escape(message)):
        claims.record(path=tmp_path / "claims.json", **kwargs)
    assert not (tmp_path / "claims.json").exists()


def test_load_rejects_unknown_claims_and_verdicts(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps({"gate_cut": {"verdict": "probably"}}))
    with pytest.raises(ValueError, match="claim 'gate_cut' has verdict 'probably'"):
        claims.load(path)
    path.write_text(json.dumps({"made_up": {"verdict": "holds"}}))
    with pytest.raises(KeyError, match="unknown claim 'made_up'"):
        claims.load(path)


def test_scorecard_flags_another_data_fingerprint(tmp_path):
    path = tmp_path / "claims.json"
    claims.record("retrieval_latency", 12.0, n=100, low=10.0, high=14.0, path=path)
    results = claims.load(path)
    rows = {r["claim"]: r for r in claims.scorecard(results)}
    assert len(rows) == len(claims.CLAIMS)
    assert rows["retrieval_latency"]["verdict"] == "does not hold here" and not rows["retrieval_latency"]["stale"]
    assert rows["gate_cut"]["verdict"] == "not measured yet"
    results["retrieval_latency"]["data_version"] = "000000000000"
    assert {r["claim"]: r for r in claims.scorecard(results)}["retrieval_latency"]["stale"]


PRINTED = re.compile(r"^claim ([a-z_]+): ([a-z ]+?) \(", re.M)


def recorded_in_outputs() -> dict[str, dict[str, str]]:
    """{notebook stem: {claim id: verdict}} as each committed notebook printed them (``claims.record`` prints
    "claim ID: VERDICT (reason; n=...)")."""
    found = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        text = "".join("".join(out.get("text", "")) for c in cells for out in c.get("outputs", []))
        found[path.stem] = dict(PRINTED.findall(text))
    return found


def test_every_claim_is_recorded_by_its_notebook():
    """Each claim's notebook calls claims.record, and its committed (learner-profile) run recorded that claim."""
    printed = recorded_in_outputs()
    for c in claims.CLAIMS.values():
        source = "".join("".join(cell["source"]) for cell in
                         json.loads((ROOT / "notebooks" / f"{c.notebook}.ipynb").read_text())["cells"])
        assert "claims.record(" in source, f"claim {c.id!r}: notebook {c.notebook} never calls claims.record"
        assert c.id in printed[c.notebook], \
            f"claim {c.id!r}: the committed run of {c.notebook} did not record it (re-run the notebook)"
    unknown = {i for ids in printed.values() for i in ids} - set(claims.CLAIMS)
    assert not unknown, f"notebooks recorded claims the module does not know: {sorted(unknown)}"


def test_committed_verdicts_are_in_the_results_file():
    """A verdict a committed notebook printed ("claim ID: VERDICT") is the one in results/claims.json."""
    results = claims.load(claims.RESULTS) if claims.RESULTS.is_file() else {}
    for notebook, recorded in recorded_in_outputs().items():
        for claim_id, outcome in recorded.items():
            assert claim_id in results, f"{notebook} recorded {claim_id!r}, missing from results/claims.json"
            assert results[claim_id]["verdict"] == outcome, \
                f"{notebook} printed {claim_id}: {outcome}, results/claims.json says {results[claim_id]['verdict']}"


def test_a_side_at_the_floor_is_named_not_read_as_a_verdict(tmp_path):
    from helpers import benchmark, claims

    entry = claims.record("benchmark_json_extraction", 65.0, n=60, low=58.0, high=71.0, path=tmp_path / "c.json",
                          floor="RAG 0 [0-0] on JSON extraction is at the floor here")
    assert entry["verdict"] == "at the floor here" and entry["reason"].startswith("RAG 0 [0-0]")
    assert claims.load(tmp_path / "c.json")["benchmark_json_extraction"]["verdict"] == "at the floor here"
    with pytest.raises(ValueError, match="floor must be"):
        claims.record("benchmark_json_extraction", 65.0, n=60, path=tmp_path / "c.json", floor="  ")
    with pytest.raises(ValueError, match="not one of"):
        claims.load_dict({"benchmark_json_extraction": {**entry, "verdict": "confirms, trust me"}})
    summary = [{"task": "json_extraction", "system": "RAG", "n": 60, "score": 0.0, "score_low": 0.0, "score_high": 0.0},
               {"task": "json_extraction", "system": "FT", "n": 60, "score": 0.65, "score_low": 0.58, "score_high": 0.71}]
    row = benchmark.compare(summary)[0]
    assert row["verdict"] == "at the floor here" and row["floor"].startswith("RAG 0 [0-0] on JSON extraction")
    summary[0] |= {"score": 0.3, "score_low": 0.2, "score_high": 0.4}
    row = benchmark.compare(summary)[0]
    assert row["floor"] is None and row["verdict"] == "confirms the guide"
