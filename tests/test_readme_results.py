"""scripts/readme_results.py: the measured figures of docs/results.md are exactly what the results files say."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_results", ROOT / "scripts" / "readme_results.py")
readme_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_results)

RESULTS = {
    "machine": {"platform": "Linux-x", "processor": "x86_64", "cpu_count": 2, "gpu": None, "python": "3.11.7",
                "torch": "2.13.0+cpu"},
    "tier": "cpu", "generator": "SmolLM2-135M-Instruct (embedded)", "date": "2026-01-02",
    "figures": {
        "generator_first_conversion_s": {"value": 17.28},
        "generation_tokens_per_s_batch1": {"median": 25.4, "repeats": 3, "max_new_tokens": 48},
        "retrieval_bm25_ms": {"median": 0.27, "p95": 0.3, "queries": 110},
        "lora_tokens_per_s": {"median": 190.0, "repeats": 5},
    },
}


PAGE = ROOT / "docs" / "results.md"


def test_the_script_writes_docs_results_and_the_readme_links_to_it():
    assert readme_results.PAGE == PAGE
    assert "](docs/results.md" in (ROOT / "README.md").read_text(), "the README must link to docs/results.md"
    assert ":start -->" not in (ROOT / "README.md").read_text(), (
        "generated blocks belong in docs/results.md, not in the README")


def test_page_block_is_what_the_script_writes():
    page = PAGE.read_text()
    for name in readme_results.SECTIONS:
        expected = readme_results.section(name)
        assert readme_results.block(page, name) == expected.strip(), (
            f"docs/results.md's {name!r} block differs from {readme_results.SECTIONS[name][0]}: run `make readme` "
            "(the block is generated; do not edit it by hand)")


def test_the_committed_bench_results_are_in_the_table():
    results = json.loads((ROOT / "results" / "bench.json").read_text())
    table = readme_results.block(PAGE.read_text(), "bench")
    assert results["date"] in table and f"{results['machine']['cpu_count']} CPU cores" in table
    assert table.count("\n| ") == len(results["figures"]) + 1, "one row per figure, plus the header"


def test_a_hand_edit_is_caught():
    page = readme_results.render(PAGE.read_text())  # as `make readme` would leave it
    edited = page.replace("tokens/s |", "tokens/s (fast!) |", 1)
    assert edited != page
    assert readme_results.render(edited) == page, "render() restores the generated block"
    assert readme_results.block(edited, "bench") != readme_results.section("bench").strip()


def test_bench_table():
    text = readme_results.bench_section(RESULTS)
    lines = text.splitlines()
    assert lines[0].startswith("Measured on 2026-01-02 by `make bench` on Linux-x (x86_64, 2 CPU cores, no GPU)")
    assert "| first load: GGUF converted to the safetensors cache (once) | 17.28 s |  | 1 |" in lines
    assert "| generation, batch 1 (48 new tokens per prompt) | 25.4 tokens/s |  | 3 |" in lines
    assert "| retrieval latency, BM25 (top 10) | 0.27 ms | 0.3 ms | 110 queries |" in lines
    assert "| `lora_tokens_per_s` | 190 per s |  | 5 |" in lines, "an unknown figure still gets a row"


def test_replace_block_keeps_everything_else():
    text = "intro\n<!-- demo:start -->\nold\n<!-- demo:end -->\noutro\n"
    new = readme_results.replace_block(text, "demo", "| a |\n")
    assert new == "intro\n<!-- demo:start -->\n| a |\n<!-- demo:end -->\noutro\n"
    assert readme_results.replace_block(new, "demo", "| a |") == new, "rewriting is idempotent"


@pytest.mark.parametrize("text, problem", [
    ("no markers here", "found 0 and 0"),
    ("<!-- demo:start -->\n<!-- demo:start -->\n<!-- demo:end -->", "found 2 and 1"),
    ("<!-- demo:end -->\n<!-- demo:start -->", "comes before"),
])
def test_replace_block_refuses_damaged_markers(text, problem):
    with pytest.raises(ValueError, match=problem):
        readme_results.replace_block(text, "demo", "x")


def test_a_new_section_is_one_line(tmp_path, monkeypatch):
    """How results/benchmark.json will be added: a renderer and an entry in SECTIONS."""
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "benchmark.json").write_text(json.dumps({"rows": [["qa_static", 0.5]]}))
    monkeypatch.setitem(readme_results.SECTIONS, "benchmark",
                        ("results/benchmark.json", "make course", lambda r: f"{len(r['rows'])} rows"))
    monkeypatch.setitem(readme_results.SECTIONS, "bench", ("results/bench.json", "make bench",
                                                           readme_results.bench_section))
    monkeypatch.delitem(readme_results.SECTIONS, "claims")
    monkeypatch.delitem(readme_results.SECTIONS, "grader")
    readme = "<!-- bench:start -->\n<!-- bench:end -->\n\n<!-- benchmark:start -->\n<!-- benchmark:end -->\n"
    out = readme_results.render(readme, root=tmp_path)
    assert "<!-- benchmark:start -->\n1 rows\n<!-- benchmark:end -->" in out
    assert "_Not measured yet: `make bench` writes `results/bench.json`._" in out, "a missing file is said so"


def test_check_mode_writes_nothing(tmp_path, monkeypatch, capsys):
    page = tmp_path / "results.md"
    page.write_text("x\n" + "".join(f"<!-- {name}:start -->\nstale\n<!-- {name}:end -->\n"
                                      for name in readme_results.SECTIONS))
    monkeypatch.setattr(readme_results, "PAGE", page)
    assert readme_results.main(["--check"]) == 1
    assert f"{page} is out of date" in capsys.readouterr().out, "the message names the page that is out of date"
    assert "stale" in page.read_text()
    assert readme_results.main([]) == 0 and "stale" not in page.read_text()
    assert readme_results.main(["--check"]) == 0 and f"{page} is up to date" in capsys.readouterr().out


def test_benchmark_block_renders_every_task_beside_the_guide():
    results = {"date": "2026-01-02", "profile": "learner", "tier": "cpu", "generator": "m", "n_items_per_task": 30,
               "data_version": "abc", "table": [
                   {"task": "tone", "system": s, "score": v, "score_low": v - 0.1, "score_high": v + 0.1}
                   for s, v in (("base", 0.4), ("RAG", 0.5), ("FT", 0.8), ("FT+RAG", 0.75))],
               "comparison": [{"task": "tone", "task type": "customer tone matching", "metric": "rubric",
                               "guide RAG": 58, "guide FT": 91, "guide winner": "FT", "winner": "FT",
                               "clear": True, "agrees": True}]}
    text = readme_results.benchmark_section(results)  # an older file, without the paired test
    assert ("| customer tone matching (rubric) | ? | 58 / 91 (FT) | 40 [30-50] | 50 [40-60] |  | 80 [70-90] | 75 [65-85] |  "
            "| not recorded (older results file) | agrees |") in text
    results["comparison"][0] |= {"clear": False, "agrees": False, "winner": "RAG"}
    assert "| disagrees (not clear) |" in readme_results.benchmark_section(results)
    results["comparison"][0] |= {"n": 60, "FT - rival": 30.0, "FT - rival low": 12.5, "FT - rival high": 46.0,
                                 "p (McNemar)": 0.0012, "verdict": "confirms the guide", "rival": "few-shot"}
    text = readme_results.benchmark_section(results)
    assert "| customer tone matching (rubric) | 60 | 58 / 91 (FT) |" in text
    assert "| +30 [+12, +46], p=0.0012 (vs few-shot) | confirms the guide |" in text


def test_claims_block_renders_every_claim_and_flags_other_data(tmp_path):
    from helpers import claims

    path = tmp_path / "claims.json"
    claims.record("gate_cut", 0.39, n=90, low=0.16, high=0.58, path=path)
    results = json.loads(path.read_text())
    table = readme_results.claims_section(results)
    assert table.count("\n| ") == len(claims.CLAIMS) + 1, "one row per claim, plus the header"
    assert "| 39% [16%, 58%] | 90 | does not hold here |" in table and "not measured yet" in table
    assert "](../notebooks/07_speculative_rag.ipynb) |" in table, "links are relative to docs/results.md"
    results["gate_cut"]["data_version"] = "000000000000"
    assert "does not hold here (results from other data: re-run)" in readme_results.claims_section(results)
    results["gate_cut"]["verdict"] = "surely"
    with pytest.raises(ValueError, match="claim 'gate_cut' has verdict 'surely'"):
        readme_results.claims_section(results)
