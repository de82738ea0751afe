"""The six-task benchmark: base, RAG, FT and FT+RAG (and RAFT where it applies) on the course's test sets.

The guide's own table (its "12 production systems") is ``GUIDE``; ``compare`` sets this run's RAG
and FT scores beside it and says whether the winner agrees. ``save`` writes ``results/benchmark.json``
(learner profile) with everything needed to know what produced it; ``scripts/readme_results.py``
turns that file into the table of docs/results.md.

Which fine-tune is "FT" depends on the task, as in the guide: for the knowledge tasks it is the
*knowledge* adapter (trained on the v1 facts, notebook 05), for the behaviour tasks the *behaviour*
adapter (JSON, voice, SQL). FT+RAG is the same adapter with retrieved context.

Example::

    rows = benchmark.run(gens, indexes, n_items=30)
    table = benchmark.table(rows)               # task x system: mean and 95% bootstrap interval
    benchmark.compare(table, rows)              # beside the guide's scores: winner, paired test, verdict
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import env, systems, tasks

# task -> (guide's RAG score, guide's fine-tune score); the guide's winner is the larger.
GUIDE = {
    "qa_static": (78, 71),
    "qa_live": (82, 45),
    "json_extraction": (61, 94),
    "tone": (58, 91),
    "sql": (72, 88),
    "multihop": (65, 69),
}
GUIDE_NAMES = {"qa_static": "factual QA, static docs", "qa_live": "factual QA, live data",
               "json_extraction": "JSON extraction", "tone": "customer tone matching",
               "sql": "domain code generation (SQL)", "multihop": "multi-hop reasoning"}
METRICS = {"qa_static": "answer stated", "qa_live": "answer stated (v2 answers)", "multihop": "answer stated",
           "json_extraction": "field accuracy", "tone": "style-guide rubric", "sql": "execution match"}
FT_ADAPTER = {task: "knowledge" if task in tasks.KNOWLEDGE_TASKS else "behaviour" for task in tasks.TASKS}
CORPUS_VERSION = {"qa_live": 2}  # asked after the v2 update; every other task against v1
FOUR = ("base", "RAG", "FT", "FT+RAG")
FLOOR = 0.05  # a side whose whole 95% interval is at or below 5 points cannot do the task at this model size


def systems_for(task: str) -> tuple[str, ...]:
    """The systems benchmarked on `task`: the four, plus RAFT on the question-answering tasks and the
    constrained systems (base+schema, FT+schema) on the tasks whose format is a schema or a grammar."""
    return (FOUR + (("RAFT",) if task in systems.RAFT_TASKS else ())
            + (systems.CONSTRAINED if task in tasks.CONSTRAINABLE else ()))


def model_for(system: str, task: str) -> str:
    """Which generator answers for `system` on `task` ('base', 'behaviour', 'knowledge' or 'raft')."""
    systems.check_system(system)
    return FT_ADAPTER[task] if system in ("FT", "FT+RAG", "FT+schema") else systems.MODEL_OF[system]


def needed_models(task_names: Sequence[str]) -> list[str]:
    """Every generator the benchmark of `task_names` needs, once each."""
    return list(dict.fromkeys(model_for(s, t) for t in task_names for s in systems_for(t)))


def run(gens: Mapping, indexes: Mapping[int, object], n_items: int, task_names: Sequence[str] = tasks.TASKS,
        progress: bool = True) -> list[dict]:
    """Every system on the first `n_items` test items of every task; one scored row per item and system."""
    from . import data
    from .progress import bar as progress_bar

    if n_items < 1:
        raise ValueError(f"n_items must be >= 1, got {n_items}")
    missing = [m for m in needed_models(task_names) if m not in gens]
    if missing:
        raise KeyError(f"the benchmark needs the models {missing}; load them with systems.load_models / "
                       "systems.load_adapter_or_train")
    rows = []
    jobs = [(t, s) for t in task_names for s in systems_for(t)]
    bar = progress_bar(total=len(jobs), desc="benchmark", unit="run", disable=not progress)
    for task in task_names:
        version = CORPUS_VERSION.get(task, 1)
        items = data.load_task(task, "test")[:n_items]
        hits, _ = systems.retrieve(indexes[version], task, items)
        for system in systems_for(task):
            model = model_for(system, task)
            start = time.perf_counter()
            out = tasks.run(gens[model], task, items, version=version, progress=False,
                            contexts=hits if systems.USES_CONTEXT[system] else None,
                            max_words=systems.CONTEXT["max_words"], constrained=system in systems.CONSTRAINED)
            seconds = time.perf_counter() - start  # the run's wall time, shared by its rows (tokens per second)
            rows += [{**row, "system": system, "model": model, "run_seconds": seconds} for row in out]
            bar.update()
    bar.close()
    return rows


def table(rows: Sequence[Mapping]) -> list[dict]:
    """Task x system: n, mean score and its 95% bootstrap interval."""
    return systems.summary(rows, metrics=("score",), by=("task", "system"))


def _cell(summary: Sequence[Mapping], task: str, system: str) -> Mapping | None:
    return next((r for r in summary if r["task"] == task and r["system"] == system), None)


def floor_reason(task: str, sides: Mapping[str, Mapping]) -> str | None:
    """The sentence that names the sides of a comparison whose whole interval is at or below :data:`FLOOR`
    (``sides``: name -> a ``table`` row with score, score_low, score_high), or None when none is."""
    low = [f"{name} {100 * s['score']:.0f} [{100 * s['score_low']:.0f}-{100 * s['score_high']:.0f}]"
           for name, s in sides.items() if s["score_high"] <= FLOOR]
    if not low:
        return None
    return (f"{' and '.join(low)} on {GUIDE_NAMES[task]} ({METRICS[task]}) is at the floor here: the model cannot do "
            f"the task that way at this size, so the comparison says nothing for or against the guide; a larger tier "
            f"would have to lift it above {100 * FLOOR:.0f} points first")


def compare(summary: Sequence[Mapping], rows: Sequence[Mapping] | None = None) -> list[dict]:
    """Per task: the guide's RAG and FT scores and winner beside this run's (scores on 0-100).

    ``winner`` is this run's larger of RAG and FT. With the per-item ``rows`` (``run``'s output), RAG and
    FT are compared item by item (``stats.paired``: FT minus RAG with its paired bootstrap interval, and
    McNemar's exact test on 0/1 metrics); ``clear`` is that test's decision. Without rows, ``clear``
    falls back to the two 95% intervals being apart, which is stricter and can miss a real difference.
    ``verdict`` says whether this run confirms the guide's winner, contradicts it, or cannot decide at
    this n. ``best system`` names the top scorer of all systems on the task (" = " joins a tie).
    """
    from . import stats

    out = []
    for task, (g_rag, g_ft) in GUIDE.items():
        rag, ft = _cell(summary, task, "RAG"), _cell(summary, task, "FT")
        if rag is None or ft is None:
            continue
        guide_winner = "RAG" if g_rag > g_ft else "FT"
        ours = "RAG" if rag["score"] > ft["score"] else "FT" if ft["score"] > rag["score"] else "tie"
        entry = {}
        if rows is not None:
            test = stats.paired(*stats.aligned(rows, "RAG", "FT", task=task))
            clear = test["decided"]
            entry = {"FT - RAG": round(100 * test["diff"], 1), "FT - RAG low": round(100 * test["low"], 1),
                     "FT - RAG high": round(100 * test["high"], 1), "p (McNemar)": test.get("p"),
                     "paired n": test["n"], "test": test["test"]}
        else:
            clear = rag["score_low"] > ft["score_high"] or ft["score_low"] > rag["score_high"]
            entry = {"test": "intervals apart"}
        cells = [r for r in summary if r["task"] == task]
        top = max(r["score"] for r in cells)
        leaders = [r["system"] for r in cells if r["score"] == top]
        best = "none (all score 0)" if top == 0 else " = ".join(leaders)
        verdict = (f"not decided at n={rag['n']}" if not clear or ours == "tie"
                   else "confirms the guide" if ours == guide_winner else "contradicts the guide")
        floor = floor_reason(task, {"RAG": rag, "FT": ft})
        if floor:
            verdict = "at the floor here"
        out.append({"task": task, "task type": GUIDE_NAMES[task], "metric": METRICS[task], "n": rag["n"],
                    "guide RAG": g_rag, "guide FT": g_ft, "guide winner": guide_winner,
                    "RAG": round(100 * rag["score"], 1), "FT": round(100 * ft["score"], 1), "winner": ours,
                    "clear": clear, "agrees": ours == guide_winner, "verdict": verdict, "floor": floor, **entry,
                    "best system": best})
    return out


CONSTRAINT_PAIRS = (("FT", "FT+schema"), ("base", "base+schema"), ("FT", "base+schema"))


def constrained_comparison(rows: Sequence[Mapping]) -> list[dict]:
    """Per constrainable task and per pair of ``CONSTRAINT_PAIRS`` (a, b): both systems' scores, ``b - a``
    item by item (``stats.paired``: bootstrap interval, McNemar on 0/1 scores), the share of answers that
    are valid (JSON: parses and follows the schema; SQL: runs, whatever it returns) and truncated, and each
    system's tokens per second in this run (its generated tokens over its wall time)."""
    from . import stats

    def share(task, system, key):
        picked = [r for r in rows if r["task"] == task and r["system"] == system and key in r]
        return round(sum(bool(r[key]) for r in picked) / len(picked), 3) if picked else None

    def speed(task, system):
        picked = [r for r in rows if r["task"] == task and r["system"] == system]
        seconds = picked[0].get("run_seconds") if picked else None
        return round(sum(r.get("new_tokens", 0) for r in picked) / seconds, 1) if seconds else None

    out = []
    for task in tasks.CONSTRAINABLE:
        for a, b in CONSTRAINT_PAIRS:
            try:
                sa, sb = stats.aligned(rows, a, b, task=task)
            except ValueError:  # a system not in this run
                continue
            test = stats.paired(sa, sb)
            out.append({"task": task, "a": a, "b": b, "n": test["n"], "a score": round(100 * sum(sa) / len(sa), 1),
                        "b score": round(100 * sum(sb) / len(sb), 1), "b - a": round(100 * test["diff"], 1),
                        "b - a low": round(100 * test["low"], 1), "b - a high": round(100 * test["high"], 1),
                        "p (McNemar)": test.get("p"), "test": test["test"], "decided": test["decided"],
                        "a valid": share(task, a, "valid" if task == "json_extraction" else "runs"),
                        "b valid": share(task, b, "valid" if task == "json_extraction" else "runs"),
                        "b truncated": share(task, b, "truncated"),
                        "a tokens/s": speed(task, a), "b tokens/s": speed(task, b)})
    return out


def data_fingerprint() -> str:
    """A short hash of the facts files every task and article is generated from: same hash, same data."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((env.data_dir() / "facts").glob("*.json")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def results_path() -> Path:
    """Where ``save`` writes: ``results/benchmark.json`` in the learner profile, the workspace in ci
    (so a test run never rewrites the committed results)."""
    if env.profile() == "ci":
        return env.workspace_dir() / "runs" / "benchmark.json"
    return env.REPO_ROOT / "results" / "benchmark.json"


def save(summary: Sequence[Mapping], comparison: Sequence[Mapping], gens: Mapping, n_items: int,
         path: Path | None = None, constrained: Sequence[Mapping] | None = None) -> Path:
    """Write the benchmark with what produced it: models, tier, profile, data version, date, retrieval; with
    ``constrained`` (``constrained_comparison``'s rows) the constrained systems' comparison too."""
    if not gens:
        raise ValueError("no generators given: pass the dict of models the benchmark ran with")
    path = Path(path) if path else results_path()
    any_gen = next(iter(gens.values()))
    payload = {
        "date": time.strftime("%Y-%m-%d"),
        "profile": env.profile(),
        "tier": any_gen.tier,
        "device": str(any_gen.device),
        "generator": any_gen.model_id,
        "adapters": sorted(m for m in gens if m != "base"),
        "data_version": data_fingerprint(),
        "corpus_versions": {task: CORPUS_VERSION.get(task, 1) for task in GUIDE},
        "retrieval": dict(systems.CONTEXT),
        "n_items_per_task": n_items,
        "table": [dict(r) for r in summary],
        "comparison": [{k: None if isinstance(v, float) and v != v else v for k, v in r.items()}  # NaN: no test
                       for r in comparison],
    }
    if constrained is not None:
        payload["constrained"] = [dict(r) for r in constrained]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
