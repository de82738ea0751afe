"""helpers.benchmark without a model or an index: the guide's table, systems per task, compare, save."""

import json
import re
from types import SimpleNamespace

import pytest

from helpers import benchmark, env, systems, tasks

QA = ("qa_static", "qa_live", "multihop")

# ---------------------------------------------------------------------------------------------
# The guide's table
# ---------------------------------------------------------------------------------------------


def test_guide_holds_the_six_pairs():
    assert benchmark.GUIDE == {
        "qa_static": (78, 71),
        "qa_live": (82, 45),
        "json_extraction": (61, 94),
        "tone": (58, 91),
        "sql": (72, 88),
        "multihop": (65, 69),
    }


def test_every_task_has_a_name_and_a_metric():
    assert set(benchmark.GUIDE) == set(tasks.TASKS)
    for task in tasks.TASKS:
        assert isinstance(benchmark.GUIDE_NAMES[task], str) and benchmark.GUIDE_NAMES[task]
        assert isinstance(benchmark.METRICS[task], str) and benchmark.METRICS[task]


# ---------------------------------------------------------------------------------------------
# Systems and models per task
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", tasks.TASKS)
def test_systems_for(task):
    expected = (("base", "RAG", "FT", "FT+RAG") + (("RAFT",) if task in QA else ())
                + (("base+schema", "FT+schema") if task in ("json_extraction", "sql") else ())
                + (("few-shot",) if task in ("json_extraction", "tone", "sql") else ()))
    assert benchmark.systems_for(task) == expected


def test_model_for():
    assert benchmark.model_for("FT", "qa_static") == "knowledge"
    assert benchmark.model_for("FT+RAG", "tone") == "behaviour"
    assert benchmark.model_for("RAG", "sql") == "base"
    assert benchmark.model_for("RAFT", "multihop") == "raft"
    assert benchmark.model_for("base", "qa_live") == "base"
    assert benchmark.model_for("FT+RAG", "qa_live") == "knowledge"
    assert benchmark.model_for("FT", "json_extraction") == "behaviour"
    assert benchmark.model_for("FT+schema", "sql") == "behaviour"
    assert benchmark.model_for("base+schema", "json_extraction") == "base"
    with pytest.raises(ValueError, match="unknown system 'GPT'"):
        benchmark.model_for("GPT", "qa_static")


def test_needed_models():
    needed = benchmark.needed_models(tasks.TASKS)
    assert set(needed) == {"base", "knowledge", "raft", "behaviour"}
    assert len(needed) == len(set(needed)) == 4
    assert set(benchmark.needed_models(["json_extraction", "sql"])) == {"base", "behaviour"}
    assert set(benchmark.needed_models(["qa_static"])) == {"base", "knowledge", "raft"}


# ---------------------------------------------------------------------------------------------
# run: its checks come before any generation or retrieval
# ---------------------------------------------------------------------------------------------


class Boom:
    """Stands for a generator or an index: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the benchmark used {name!r} before checking its arguments")


def test_run_rejects_no_items():
    gens = {m: Boom() for m in ("base", "knowledge", "raft", "behaviour")}
    for n in (0, -3):
        with pytest.raises(ValueError, match=f"n_items must be >= 1, got {n}"):
            benchmark.run(gens, {1: Boom(), 2: Boom()}, n_items=n, progress=False)


def test_run_names_the_missing_models():
    indexes = {1: Boom(), 2: Boom()}
    gens = {"base": Boom(), "knowledge": Boom(), "behaviour": Boom()}
    with pytest.raises(KeyError, match=r"needs the models \['raft'\]"):
        benchmark.run(gens, indexes, n_items=2, progress=False)
    with pytest.raises(KeyError, match=r"needs the models \['knowledge', 'raft', 'behaviour'\]"):
        benchmark.run({"base": Boom()}, indexes, n_items=2, progress=False)
    # only the models the chosen tasks need are asked for
    with pytest.raises(KeyError, match=r"needs the models \['behaviour'\]"):
        benchmark.run({"base": Boom()}, indexes, n_items=2, task_names=["sql"], progress=False)


# ---------------------------------------------------------------------------------------------
# table and compare
# ---------------------------------------------------------------------------------------------


def cell(task, system, score, low=None, high=None, n=30):
    """One row as systems.summary returns it."""
    low = score - 0.05 if low is None else low
    high = score + 0.05 if high is None else high
    return {"task": task, "system": system, "n": n, "score": score, "score_low": low, "score_high": high}


def by_task(comparison):
    return {row["task"]: row for row in comparison}


def test_table_groups_by_task_and_system():
    rows = [{"task": "sql", "system": "RAG", "score": s} for s in (1.0, 0.0, 1.0, 1.0)]
    rows += [{"task": "sql", "system": "FT", "score": 0.0}] * 3
    out = {(r["task"], r["system"]): r for r in benchmark.table(rows)}
    assert set(out) == {("sql", "RAG"), ("sql", "FT")}
    assert out[("sql", "RAG")]["n"] == 4 and out[("sql", "RAG")]["score"] == 0.75
    assert out[("sql", "FT")] == {"task": "sql", "system": "FT", "n": 3, "score": 0.0, "score_low": 0.0,
                                  "score_high": 0.0}


def test_compare_agrees_when_rag_wins_where_the_guide_says_rag():
    row = by_task(benchmark.compare([cell("qa_live", "RAG", 0.8), cell("qa_live", "FT", 0.3)]))["qa_live"]
    assert row["guide RAG"] == 82 and row["guide FT"] == 45 and row["guide winner"] == "RAG"
    assert row["winner"] == "RAG" and row["agrees"] is True
    assert row["task type"] == benchmark.GUIDE_NAMES["qa_live"] and row["metric"] == benchmark.METRICS["qa_live"]


def test_compare_disagrees_when_ft_wins_where_the_guide_says_rag():
    row = by_task(benchmark.compare([cell("qa_static", "RAG", 0.4), cell("qa_static", "FT", 0.6)]))["qa_static"]
    assert row["guide winner"] == "RAG"
    assert row["winner"] == "FT" and row["agrees"] is False


def test_compare_guide_winner_ft():
    row = by_task(benchmark.compare([cell("json_extraction", "RAG", 0.2), cell("json_extraction", "FT", 0.9)]))
    assert row["json_extraction"]["guide winner"] == "FT"
    assert row["json_extraction"]["winner"] == "FT" and row["json_extraction"]["agrees"] is True


def test_compare_tie():
    row = by_task(benchmark.compare([cell("sql", "RAG", 0.5), cell("sql", "FT", 0.5)]))["sql"]
    assert row["winner"] == "tie"
    assert row["agrees"] is False  # the guide always names a winner
    assert row["clear"] is False


def test_compare_clear_only_when_intervals_are_apart():
    overlapping = [cell("tone", "RAG", 0.4, 0.30, 0.55), cell("tone", "FT", 0.6, 0.50, 0.70)]
    row = by_task(benchmark.compare(overlapping))["tone"]
    assert row["winner"] == "FT" and row["clear"] is False
    apart = [cell("tone", "RAG", 0.3, 0.20, 0.40), cell("tone", "FT", 0.7, 0.60, 0.80)]
    assert by_task(benchmark.compare(apart))["tone"]["clear"] is True
    # apart the other way round too
    reversed_ = [cell("tone", "RAG", 0.7, 0.60, 0.80), cell("tone", "FT", 0.3, 0.20, 0.40)]
    row = by_task(benchmark.compare(reversed_))["tone"]
    assert row["winner"] == "RAG" and row["clear"] is True
    # touching intervals are not apart
    touching = [cell("tone", "RAG", 0.3, 0.20, 0.50), cell("tone", "FT", 0.7, 0.50, 0.80)]
    assert by_task(benchmark.compare(touching))["tone"]["clear"] is False
    touching = [cell("tone", "RAG", 0.7, 0.50, 0.80), cell("tone", "FT", 0.3, 0.20, 0.50)]
    assert by_task(benchmark.compare(touching))["tone"]["clear"] is False


def test_compare_reports_scores_on_0_to_100():
    row = by_task(benchmark.compare([cell("sql", "RAG", 0.5, n=12), cell("sql", "FT", 2 / 3, n=12)]))["sql"]
    assert row["RAG"] == 50.0 and row["FT"] == 66.7
    assert row["n"] == 12


def test_compare_best_system_includes_every_row():
    summary = [cell("qa_static", "base", 0.1), cell("qa_static", "RAG", 0.5), cell("qa_static", "FT", 0.4),
               cell("qa_static", "FT+RAG", 0.7), cell("qa_static", "RAFT", 0.6)]
    row = by_task(benchmark.compare(summary))["qa_static"]
    assert row["winner"] == "RAG" and row["best system"] == "FT+RAG"
    summary[-1] = cell("qa_static", "RAFT", 0.9)
    assert by_task(benchmark.compare(summary))["qa_static"]["best system"] == "RAFT"
    # other tasks' rows do not count
    summary.append(cell("sql", "base", 1.0))
    assert by_task(benchmark.compare(summary))["qa_static"]["best system"] == "RAFT"


def test_compare_leaves_out_tasks_without_rag_and_ft():
    summary = [cell("qa_static", "RAG", 0.5), cell("qa_static", "FT", 0.4),
               cell("tone", "RAG", 0.5), cell("tone", "FT+RAG", 0.9),  # no FT
               cell("sql", "FT", 0.5), cell("sql", "base", 0.2)]  # no RAG
    out = benchmark.compare(summary)
    assert [r["task"] for r in out] == ["qa_static"]
    assert benchmark.compare([]) == []


def test_compare_follows_the_guides_task_order():
    summary = [cell(t, s, 0.5) for t in reversed(tasks.TASKS) for s in ("RAG", "FT")]
    assert [r["task"] for r in benchmark.compare(summary)] == list(benchmark.GUIDE)


# ---------------------------------------------------------------------------------------------
# results_path, save, data_fingerprint
# ---------------------------------------------------------------------------------------------


def test_results_path_in_ci_is_in_the_workspace(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path))
    assert benchmark.results_path() == tmp_path.resolve() / "runs" / "benchmark.json"


def test_results_path_for_the_learner_is_the_committed_results(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "learner")
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path))
    assert benchmark.results_path() == env.REPO_ROOT / "results" / "benchmark.json"


def test_save_writes_everything_that_produced_the_run(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path / "ws"))
    summary = [cell("sql", "RAG", 0.5), cell("sql", "FT", 0.75)]
    comparison = benchmark.compare(summary)
    gens = {"base": SimpleNamespace(tier="cpu", device="cpu", model_id="m")}
    target = tmp_path / "out" / "bench.json"
    written = benchmark.save(summary, comparison, gens, n_items=7, path=target)
    assert written == target and target.is_file()
    assert not target.with_suffix(".tmp").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["bench.json"]
    payload = json.loads(target.read_text())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", payload["date"])
    assert payload["profile"] == "ci"
    assert payload["tier"] == "cpu" and payload["device"] == "cpu" and payload["generator"] == "m"
    assert payload["adapters"] == []
    assert re.fullmatch(r"[0-9a-f]{12}", payload["data_version"])
    assert payload["data_version"] == benchmark.data_fingerprint()
    assert payload["retrieval"] == systems.CONTEXT
    assert payload["table"] == summary
    assert payload["comparison"] == comparison and payload["comparison"][0]["winner"] == "FT"
    assert payload["n_items_per_task"] == 7
    assert payload["corpus_versions"]["qa_live"] == 2 and payload["corpus_versions"]["sql"] == 1
    # nothing written to the default place
    assert not (tmp_path / "ws" / "runs" / "benchmark.json").exists()


def test_save_lists_the_adapters(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    gen = SimpleNamespace(tier="t4", device="cuda:0", model_id="unsloth/Llama-3.2-1B-Instruct")
    gens = {"base": gen, "raft": gen, "behaviour": gen}
    target = benchmark.save([], [], gens, n_items=1, path=tmp_path / "b.json")
    payload = json.loads(target.read_text())
    assert payload["adapters"] == ["behaviour", "raft"]
    assert payload["tier"] == "t4" and payload["device"] == "cuda:0"


def test_save_without_path_goes_to_the_ci_workspace(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path))
    expected = tmp_path.resolve() / "runs" / "benchmark.json"
    # checked before saving, so a broken results_path can never overwrite the committed results
    assert benchmark.results_path() == expected
    gens = {"base": SimpleNamespace(tier="cpu", device="cpu", model_id="m")}
    written = benchmark.save([], [], gens, n_items=1)
    assert written == expected and written.is_file()


def test_data_fingerprint_follows_the_facts(monkeypatch, tmp_path):
    real = benchmark.data_fingerprint()
    assert re.fullmatch(r"[0-9a-f]{12}", real)
    facts = tmp_path / "facts"
    facts.mkdir()
    (facts / "facts_v1.json").write_text('{"plan": "team", "price": 49}')
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert env.data_dir() == tmp_path.resolve()
    first = benchmark.data_fingerprint()
    assert re.fullmatch(r"[0-9a-f]{12}", first) and first != real
    assert benchmark.data_fingerprint() == first  # stable
    (facts / "facts_v1.json").write_text('{"plan": "team", "price": 59}')
    second = benchmark.data_fingerprint()
    assert second != first
    # a new facts file changes it too; a file that is not json does not
    (facts / "notes.txt").write_text("ignored")
    assert benchmark.data_fingerprint() == second
    (facts / "changes_v2.json").write_text("{}")
    assert benchmark.data_fingerprint() != second


def test_compare_best_system_ties_and_zeros():
    def row(system, score):
        return {"task": "sql", "system": system, "n": 4, "score": score, "score_low": score, "score_high": score}
    tied = benchmark.compare([row("base", 0.5), row("RAG", 0.25), row("FT", 0.5), row("FT+RAG", 0.1)])
    assert tied[0]["best system"] == "base = FT"
    zeros = benchmark.compare([row(s, 0.0) for s in ("base", "RAG", "FT", "FT+RAG")])
    assert zeros[0]["best system"] == "none (all score 0)" and zeros[0]["winner"] == "tie"


def _rows(task, rag, ft):
    return ([{"task": task, "system": "RAG", "id": f"q{i}", "score": s} for i, s in enumerate(rag)]
            + [{"task": task, "system": "FT", "id": f"q{i}", "score": s} for i, s in enumerate(ft)])


def test_compare_with_rows_uses_the_paired_test():
    """Overlapping intervals, but FT never loses an item and wins 7: the paired test decides for FT."""
    rag, ft = [1] * 12 + [0] * 18, [1] * 19 + [0] * 11
    rows = _rows("json_extraction", rag, ft)
    summary = benchmark.table(rows)
    unpaired = by_task(benchmark.compare(summary))["json_extraction"]
    assert unpaired["clear"] is False and unpaired["test"] == "intervals apart"
    row = by_task(benchmark.compare(summary, rows))["json_extraction"]
    assert row["clear"] is True and row["verdict"] == "confirms the guide"
    assert row["FT - rival"] == pytest.approx(100 * 7 / 30, abs=0.1) and row["FT - rival low"] > 0
    assert row["p (McNemar)"] == pytest.approx(2 / 2**7) and row["paired n"] == 30


def test_compare_verdicts():
    rows = _rows("qa_live", [1] * 4 + [0] * 16, [1] * 20)  # FT wins where the guide says RAG
    row = by_task(benchmark.compare(benchmark.table(rows), rows))["qa_live"]
    assert row["winner"] == "FT" and row["verdict"] == "contradicts the guide" and row["floor"] is None
    rows = _rows("qa_live", [0] * 20, [1] * 20)  # RAG cannot do it at all: the floor, not a verdict
    row = by_task(benchmark.compare(benchmark.table(rows), rows))["qa_live"]
    assert row["verdict"] == "at the floor here" and row["floor"].startswith("RAG 0 [0-0]")
    rows = _rows("qa_live", [1, 0] * 10, [0, 1] * 10)
    row = by_task(benchmark.compare(benchmark.table(rows), rows))["qa_live"]
    assert row["clear"] is False and row["verdict"] == "not decided at n=20"


def _row(task, system, item, score, **more):
    return {"task": task, "system": system, "id": item, "score": score, **more}


def test_constrained_comparison_pairs_the_same_items_and_reports_validity_and_speed():
    rows = []
    for i in range(8):
        rows.append(_row("json_extraction", "FT", i, 0.5, valid=i < 2, new_tokens=10, run_seconds=4.0))
        rows.append(_row("json_extraction", "FT+schema", i, 0.75, valid=i < 7, truncated=i == 7, new_tokens=10,
                         run_seconds=5.0))
        rows.append(_row("sql", "FT", i, float(i < 3), runs=i < 5, new_tokens=5, run_seconds=2.0))
    out = benchmark.constrained_comparison(rows)
    assert [(r["task"], r["a"], r["b"]) for r in out] == [("json_extraction", "FT", "FT+schema")]  # no sql pair here
    r = out[0]
    assert r["n"] == 8 and r["a score"] == 50.0 and r["b score"] == 75.0 and r["b - a"] == 25.0
    assert r["a valid"] == 0.25 and r["b valid"] == 0.875 and r["b truncated"] == 0.125
    assert r["a tokens/s"] == 20.0 and r["b tokens/s"] == 16.0 and r["decided"] is True


# ---------------------------------------------------------------------------------------------
# The prompting rival, one model at a time, routing that can fail
# ---------------------------------------------------------------------------------------------


def test_the_rival_is_rag_on_facts_and_the_better_prompt_on_behaviour():
    summary = [cell("tone", "RAG", 0.5), cell("tone", "few-shot", 0.8), cell("tone", "FT", 0.9),
               cell("qa_static", "RAG", 0.3), cell("qa_static", "few-shot", 0.9), cell("qa_static", "FT", 0.2),
               cell("sql", "RAG", 0.4), cell("sql", "few-shot", 0.1), cell("sql", "FT", 0.6)]
    assert benchmark.rival_of(summary, "tone") == "few-shot"
    assert benchmark.rival_of(summary, "qa_static") == "RAG"   # the fact tasks' rival is retrieval
    assert benchmark.rival_of(summary, "sql") == "RAG"          # few-shot did worse: RAG stays the rival
    rows = by_task(benchmark.compare(summary))
    assert rows["tone"]["rival"] == "few-shot" and rows["tone"]["rival score"] == 80.0 and rows["tone"]["RAG"] == 50.0
    assert rows["sql"]["rival"] == "RAG" and rows["sql"]["few-shot"] == 10.0
    assert rows["tone"]["winner"] == "FT"


def test_compare_pairs_ft_with_few_shot_when_it_is_the_rival():
    rows = ([_row("tone", "RAG", i, 0.0) for i in range(20)] + [_row("tone", "few-shot", i, 1.0) for i in range(20)]
            + [_row("tone", "FT", i, 0.5) for i in range(20)])
    row = by_task(benchmark.compare(benchmark.table(rows), rows))["tone"]
    assert row["rival"] == "few-shot" and row["FT - rival"] == -50.0 and row["verdict"] == "contradicts the guide"
    assert row["floor"] is None  # RAG at zero is not the rival, so it does not make a floor


def test_compare_names_a_closed_book_base_at_the_floor_on_fact_tasks():
    summary = [cell("qa_static", "base", 0.0, 0.0, 0.0), cell("qa_static", "RAG", 0.4), cell("qa_static", "FT", 0.3),
               cell("tone", "base", 0.0, 0.0, 0.0), cell("tone", "RAG", 0.4), cell("tone", "FT", 0.6)]
    rows = by_task(benchmark.compare(summary))
    assert rows["qa_static"]["base floor"].startswith("closed-book base 0 [0-0] on factual QA")
    assert rows["tone"]["base floor"] is None


def test_rival_comparison_pairs_few_shot_with_the_fine_tunes():
    rows = []
    for i in range(10):
        rows += [_row("sql", "few-shot", i, float(i < 8)), _row("sql", "FT", i, float(i < 2)),
                 _row("sql", "FT+schema", i, float(i < 3)), _row("sql", "RAG", i, 0.0)]
    out = benchmark.rival_comparison(rows)
    assert [(r["a"], r["b"]) for r in out] == list(benchmark.RIVAL_PAIRS)
    assert out[0]["b - a"] == -60.0 and out[0]["decided"] is True and out[0]["p (McNemar)"] is not None


class Loaded(SimpleNamespace):
    pass


def test_run_with_a_loader_holds_one_model_at_a_time(monkeypatch):
    from helpers import env, fewshot

    events = []
    monkeypatch.setattr(systems, "retrieve", lambda index, task, its: ([[] for _ in its], [0.0] * len(its)))
    monkeypatch.setattr(benchmark.env, "release_memory", lambda: events.append("release") or True)

    class FakePool:
        def __init__(self, task):
            self.task = task

    monkeypatch.setattr(fewshot, "Pool", FakePool)
    monkeypatch.setattr(fewshot, "prompts", lambda task, its, k, pool: [[{"k": k}] for _ in its])

    def fake_run(gen, task, its, version=1, progress=False, prompts=None, **kw):
        events.append(("run", gen.name, task, None if prompts is None else prompts[0][0]["k"]))
        return [{"id": it["id"], "task": task, "output": "", "score": 0.5} for it in its]

    monkeypatch.setattr(tasks, "run", fake_run)

    def load(name):
        events.append(("load", name))
        return Loaded(name=name, model_id=f"m-{name}", tier="cpu", device="cpu")

    rows = benchmark.run(load, {1: None, 2: None}, 2, task_names=["sql", "qa_static"], progress=False,
                         fewshot_k={"sql": 4})
    loads = [e for e in events if e[0] == "load"]
    assert loads == [("load", "base"), ("load", "behaviour"), ("load", "knowledge"), ("load", "raft")]
    # every run of a model happens between its load and its release
    assert events.index(("load", "behaviour")) > events.index("release")
    assert ("run", "base", "sql", 4) in events  # few-shot with the k chosen on dev
    assert [(r["task"], r["system"]) for r in rows[::2]] == [("sql", s) for s in benchmark.systems_for("sql")] + [
        ("qa_static", s) for s in benchmark.systems_for("qa_static")]
    assert rows[0]["generator"] == "m-base" and {r["model"] for r in rows if r["system"] == "FT"} == {"behaviour", "knowledge"}
    with pytest.raises(ValueError, match=r"fewshot_k names tasks without a few-shot system: \['qa_static'\]"):
        benchmark.run(load, {1: None, 2: None}, 2, fewshot_k={"qa_static": 2}, progress=False)
    with pytest.raises(TypeError, match="dict of loaded generators or a function"):
        benchmark.run(42, {1: None, 2: None}, 2, progress=False)
    assert env.release_memory() is True


def test_run_reuses_the_pools_it_is_given(monkeypatch):
    """The pools 08 built to choose k are the ones the benchmark's few-shot prompts come from: none rebuilt."""
    from helpers import fewshot

    monkeypatch.setattr(systems, "retrieve", lambda index, task, its: ([[] for _ in its], [0.0] * len(its)))
    monkeypatch.setattr(fewshot, "Pool", lambda task: pytest.fail(f"a {task} pool was built again"))
    used = []
    monkeypatch.setattr(fewshot, "prompts", lambda task, its, k, pool: used.append(pool) or [[{}] for _ in its])
    monkeypatch.setattr(tasks, "run", lambda gen, task, its, **kw: [{"id": it["id"], "task": task, "score": 1.0}
                                                                   for it in its])
    given = SimpleNamespace(task="sql")
    gens = {m: Loaded(name=m, model_id=m, tier="cpu", device="cpu") for m in benchmark.needed_models(["sql"])}
    benchmark.run(gens, {1: None, 2: None}, 2, task_names=["sql"], progress=False, pools={"sql": given})
    assert used == [given]
    with pytest.raises(ValueError, match=r"pools names tasks without a few-shot system: \['qa_live'\]"):
        benchmark.run(gens, {1: None, 2: None}, 2, task_names=["sql"], progress=False, pools={"qa_live": given})
    with pytest.raises(ValueError, match="under another task's name"):
        benchmark.run(gens, {1: None, 2: None}, 2, task_names=["sql"], progress=False, pools={"tone": given})


def test_save_takes_the_rows_and_extra_sections(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    rows = [{"task": "sql", "system": "FT", "id": 1, "score": 1.0, "model": "behaviour", "generator": "g",
             "tier": "cpu", "device": "cpu"},
            {"task": "sql", "system": "base", "id": 1, "score": 0.0, "model": "base", "generator": "g",
             "tier": "cpu", "device": "cpu"}]
    target = benchmark.save([], [{"p": float("nan")}], rows, 1, path=tmp_path / "b.json",
                            fewshot={"sql": {"k": 2}}, routing=[{"p": float("nan")}])
    payload = json.loads(target.read_text())
    assert payload["generator"] == "g" and payload["adapters"] == ["behaviour"]
    assert payload["fewshot"] == {"sql": {"k": 2}} and payload["routing"] == [{"p": None}]
    assert payload["comparison"] == [{"p": None}]
    with pytest.raises(KeyError, match="result rows without"):
        benchmark.save([], [], [{"task": "sql"}], 1, path=tmp_path / "c.json")


def test_routing_can_fail(monkeypatch):
    """On the base model's knowledge failures RAG must beat FT for the rule to hold; here FT does better."""
    qa = [it["id"] for it in benchmark_items("qa_static")]
    rows = []
    for n, i in enumerate(qa[:12]):
        rows += [_row("qa_static", "base", i, 0.0, output="The answer is 7 days.", correct=False),
                 _row("qa_static", "RAG", i, float(n < 2)), _row("qa_static", "FT", i, float(n < 10))]
    out = {r["side"]: r for r in benchmark.routing(rows)}
    k = out["knowledge"]
    assert k["n"] == 12 and k["chosen"] == "RAG" and k["diff"] < 0 and k["decided"] is True
    assert out["behaviour"]["n"] == 0


def benchmark_items(task):
    from helpers import data

    return data.load_task(task, "test")


def test_saved_fewshot_k_reads_what_save_wrote(tmp_path):
    assert benchmark.saved_fewshot_k(tmp_path / "none.json") == {}
    gens = {"base": SimpleNamespace(tier="cpu", device="cpu", model_id="m")}
    path = benchmark.save([], [], gens, 1, path=tmp_path / "b.json", fewshot={"tone": {"k": 4, "curve": []}})
    assert benchmark.saved_fewshot_k(path) == {"tone": 4}
    path = benchmark.save([], [], gens, 1, path=tmp_path / "c.json")
    assert benchmark.saved_fewshot_k(path) == {}


def test_per_item_scores_round_trip(tmp_path):
    rows = [_row("sql", "FT", i, float(i % 2)) for i in range(4)] + [_row("sql", "RAG", i, 0.0) for i in range(4)]
    scores = benchmark.per_item(rows)
    assert scores == {"sql": {"FT": [0.0, 1.0, 0.0, 1.0], "RAG": [0.0] * 4}}
    gens = {"base": SimpleNamespace(tier="cpu", device="cpu", model_id="m")}
    path = benchmark.save([], [], gens, 4, path=tmp_path / "b.json", scores=scores)
    assert benchmark.saved_scores(path) == scores
    with pytest.raises(FileNotFoundError, match="run notebook 08"):
        benchmark.saved_scores(tmp_path / "none.json")
    with pytest.raises(KeyError, match="no per-item scores"):
        benchmark.saved_scores(benchmark.save([], [], gens, 4, path=tmp_path / "c.json"))
