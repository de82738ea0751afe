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
    """The systems benchmarked on `task`: the four, plus RAFT on the question-answering tasks, the constrained
    systems (base+schema, FT+schema) on the tasks whose format is a schema or a grammar, and few-shot (the
    prompting rival, ``helpers.fewshot``) on the behaviour tasks."""
    return (FOUR + (("RAFT",) if task in systems.RAFT_TASKS else ())
            + (systems.CONSTRAINED if task in tasks.CONSTRAINABLE else ())
            + (("few-shot",) if task in tasks.BEHAVIOUR_TASKS else ()))


def model_for(system: str, task: str) -> str:
    """Which generator answers for `system` on `task` ('base', 'behaviour', 'knowledge' or 'raft')."""
    systems.check_system(system)
    return FT_ADAPTER[task] if system in ("FT", "FT+RAG", "FT+schema") else systems.MODEL_OF[system]


def needed_models(task_names: Sequence[str]) -> list[str]:
    """Every generator the benchmark of `task_names` needs, once each."""
    return list(dict.fromkeys(model_for(s, t) for t in task_names for s in systems_for(t)))


def run(gens, indexes: Mapping[int, object], n_items: int, task_names: Sequence[str] = tasks.TASKS,
        progress: bool = True, fewshot_k: Mapping[str, int] | None = None,
        pools: Mapping[str, object] | None = None) -> list[dict]:
    """Every system on the first `n_items` test items of every task; one scored row per item and system.

    ``gens``: the loaded generators ({'base': gen, 'behaviour': gen, ...}), or a function that loads one by
    name (``systems.load_generators``-style: ``lambda name: ...``). With a function only one model is in
    memory at a time: each is loaded, runs every task and system it serves, and is released before the next
    (what fits a T4 or a 40 GB A100 on the larger tiers). ``fewshot_k``: k per behaviour task for few-shot
    (chosen on dev with ``fewshot.choose_k``; a task left out uses ``fewshot.DEFAULT_K``). ``pools``: the
    ``fewshot.Pool`` of each behaviour task already built (the train split embedded once, as when k was chosen);
    a task left out gets its pool built here.
    """
    from . import data, fewshot
    from .progress import bar as progress_bar

    if n_items < 1:
        raise ValueError(f"n_items must be >= 1, got {n_items}")
    needed = needed_models(task_names)
    if isinstance(gens, Mapping):
        missing = [m for m in needed if m not in gens]
        if missing:
            raise KeyError(f"the benchmark needs the models {missing}; load them with systems.load_models / "
                           "systems.load_adapter_or_train")
    elif not callable(gens):
        raise TypeError("gens is a dict of loaded generators or a function that loads one by name")
    fewshot_k = dict(fewshot_k or {})
    unknown = sorted(set(fewshot_k) - set(tasks.BEHAVIOUR_TASKS))
    if unknown:
        raise ValueError(f"fewshot_k names tasks without a few-shot system: {unknown}; few-shot runs on "
                         f"{list(tasks.BEHAVIOUR_TASKS)}")
    unknown = sorted(set(pools or {}) - set(tasks.BEHAVIOUR_TASKS))
    if unknown:
        raise ValueError(f"pools names tasks without a few-shot system: {unknown}; few-shot runs on "
                         f"{list(tasks.BEHAVIOUR_TASKS)}")
    wrong = {t: p.task for t, p in (pools or {}).items() if getattr(p, "task", t) != t}
    if wrong:
        raise ValueError(f"pools holds a pool under another task's name: {wrong} (task: the pool's task)")
    items, hits, pools = {}, {}, dict(pools or {})
    for task in task_names:
        items[task] = data.load_task(task, "test")[:n_items]
        hits[task], _ = systems.retrieve(indexes[CORPUS_VERSION.get(task, 1)], task, items[task])
    rows = []
    jobs = [(t, s) for t in task_names for s in systems_for(t)]
    bar = progress_bar(total=len(jobs), desc="benchmark", unit="run", disable=not progress)
    for model in needed:
        gen = gens[model] if isinstance(gens, Mapping) else gens(model)
        for task, system in [(t, s) for t, s in jobs if model_for(s, t) == model]:
            version = CORPUS_VERSION.get(task, 1)
            start = time.perf_counter()
            if system == "few-shot":
                if task not in pools:  # built once, and only when not given
                    pools[task] = fewshot.Pool(task)
                pool = pools[task]
                k = fewshot_k.get(task, fewshot.DEFAULT_K)
                out = [{**r, "k": k} for r in tasks.run(gen, task, items[task], version=version, progress=False,
                                                         prompts=fewshot.prompts(task, items[task], k, pool))]
            else:
                out = tasks.run(gen, task, items[task], version=version, progress=False,
                                contexts=hits[task] if systems.USES_CONTEXT[system] else None,
                                max_words=systems.CONTEXT["max_words"], constrained=system in systems.CONSTRAINED)
            seconds = time.perf_counter() - start  # the run's wall time, shared by its rows (tokens per second)
            rows += [{**row, "system": system, "model": model, "run_seconds": seconds, "generator": gen.model_id,
                      "tier": gen.tier, "device": str(gen.device)} for row in out]
            bar.update()
        if not isinstance(gens, Mapping):
            del gen
            env.release_memory()  # the next model loads into the memory this one held (CUDA cache emptied too)
    bar.close()
    order = {job: i for i, job in enumerate(jobs)}
    return sorted(rows, key=lambda r: order[(r["task"], r["system"])])  # stable: items keep their order


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


def rival_of(summary: Sequence[Mapping], task: str) -> str:
    """The system that stands in the guide's "RAG" column for `task`: RAG on the fact tasks; on the behaviour
    tasks the better of RAG and few-shot (the rival a practitioner would try before fine-tuning a format or a
    voice), RAG when few-shot was not run."""
    rag, shots = _cell(summary, task, "RAG"), _cell(summary, task, "few-shot")
    if task in tasks.BEHAVIOUR_TASKS and shots is not None and (rag is None or shots["score"] > rag["score"]):
        return "few-shot"
    return "RAG"


def compare(summary: Sequence[Mapping], rows: Sequence[Mapping] | None = None) -> list[dict]:
    """Per task: the guide's RAG and FT scores and winner beside this run's (scores on 0-100).

    The guide's "RAG" side is the task's ``rival`` (``rival_of``: RAG, or few-shot where it does better on a
    behaviour task). ``winner`` is this run's larger of the rival and FT. With the per-item ``rows``
    (``run``'s output), the two are compared item by item (``stats.paired``: FT minus the rival with its
    paired bootstrap interval, and McNemar's exact test on 0/1 metrics); ``clear`` is that test's decision.
    Without rows, ``clear`` falls back to the two 95% intervals being apart, which is stricter and can miss a
    real difference. ``verdict`` says whether this run confirms the guide's winner, contradicts it, cannot
    decide at this n, or cannot say because a side is at the floor (``floor`` names it; ``base floor`` names
    a closed-book base model at the floor on a fact task). ``best system`` names the top scorer of all
    systems on the task (" = " joins a tie).
    """
    from . import stats

    out = []
    for task, (g_rag, g_ft) in GUIDE.items():
        rival_name = rival_of(summary, task)
        rival, ft, rag = _cell(summary, task, rival_name), _cell(summary, task, "FT"), _cell(summary, task, "RAG")
        if rival is None or ft is None:
            continue
        guide_winner = "RAG" if g_rag > g_ft else "FT"
        side = "RAG" if rival["score"] > ft["score"] else "FT" if ft["score"] > rival["score"] else "tie"
        if rows is not None:
            test = stats.paired(*stats.aligned(rows, rival_name, "FT", task=task))
            clear = test["decided"]
            entry = {"FT - rival": round(100 * test["diff"], 1), "FT - rival low": round(100 * test["low"], 1),
                     "FT - rival high": round(100 * test["high"], 1), "p (McNemar)": test.get("p"),
                     "paired n": test["n"], "test": test["test"]}
        else:
            clear = rival["score_low"] > ft["score_high"] or ft["score_low"] > rival["score_high"]
            entry = {"test": "intervals apart"}
        cells = [r for r in summary if r["task"] == task]
        top = max(r["score"] for r in cells)
        leaders = [r["system"] for r in cells if r["score"] == top]
        best = "none (all score 0)" if top == 0 else " = ".join(leaders)
        verdict = (f"not decided at n={rival['n']}" if not clear or side == "tie"
                   else "confirms the guide" if side == guide_winner else "contradicts the guide")
        floor = floor_reason(task, {rival_name: rival, "FT": ft})
        if floor:
            verdict = "at the floor here"
        base = _cell(summary, task, "base")
        base_floor = (floor_reason(task, {"closed-book base": base})
                      if task in tasks.KNOWLEDGE_TASKS and base is not None else None)
        shots = _cell(summary, task, "few-shot")
        out.append({"task": task, "task type": GUIDE_NAMES[task], "metric": METRICS[task], "n": rival["n"],
                    "guide RAG": g_rag, "guide FT": g_ft, "guide winner": guide_winner, "rival": rival_name,
                    "RAG": None if rag is None else round(100 * rag["score"], 1),
                    "few-shot": None if shots is None else round(100 * shots["score"], 1),
                    "rival score": round(100 * rival["score"], 1), "FT": round(100 * ft["score"], 1),
                    "winner": {"RAG": rival_name, "FT": "FT", "tie": "tie"}[side],
                    "clear": clear, "agrees": side == guide_winner, "verdict": verdict, "floor": floor,
                    "base floor": base_floor, **entry, "best system": best})
    return out


def paired_comparison(rows: Sequence[Mapping], pairs: Sequence[tuple[str, str]], task_names: Sequence[str]
                      ) -> list[dict]:
    """Per task of `task_names` and pair (a, b) of `pairs` both run: both systems' scores (0-100) and ``b - a``
    item by item (``stats.paired``: bootstrap interval, McNemar on 0/1 scores, ``decided``)."""
    from . import stats

    out = []
    for task in task_names:
        for a, b in pairs:
            try:
                sa, sb = stats.aligned(rows, a, b, task=task)
            except ValueError:  # a system not in this run
                continue
            test = stats.paired(sa, sb)
            out.append({"task": task, "a": a, "b": b, "n": test["n"], "a score": round(100 * sum(sa) / len(sa), 1),
                        "b score": round(100 * sum(sb) / len(sb), 1), "b - a": round(100 * test["diff"], 1),
                        "b - a low": round(100 * test["low"], 1), "b - a high": round(100 * test["high"], 1),
                        "p (McNemar)": test.get("p"), "test": test["test"], "decided": test["decided"]})
    return out


RIVAL_PAIRS = (("few-shot", "FT"), ("few-shot", "FT+schema"), ("RAG", "few-shot"))


def rival_comparison(rows: Sequence[Mapping]) -> list[dict]:
    """On the behaviour tasks, the prompting rival against fine-tuning, paired on the same items: FT minus
    few-shot, FT+schema minus few-shot (JSON, SQL), and few-shot minus RAG (is the better prompt better than
    help-centre articles?)."""
    return paired_comparison(rows, RIVAL_PAIRS, tasks.BEHAVIOUR_TASKS)


ROUTES = (("knowledge", tasks.KNOWLEDGE_TASKS, "RAG"), ("behaviour", tasks.BEHAVIOUR_TASKS, "FT"))


def routing(rows: Sequence[Mapping]) -> list[dict]:
    """The guide's routing rule, checked where it can fail: on the test items the base model got wrong and the
    failure profiler (``decide.classify_result``) labels a *knowledge* gap (fact tasks), does RAG fix more of
    them than fine-tuning? On those it labels a *behaviour* gap (format tasks), does fine-tuning fix more than
    the task's rival (``rival_of``: the better of RAG and few-shot)? One row per side: n, both systems' mean
    score on those items (0-100), and the guide's choice minus the other, paired (``stats.paired``)."""
    from . import data, decide, stats

    summary = table(rows)
    base = {(r["task"], r["id"]): r for r in rows if r["system"] == "base"}
    out = []
    for side, task_group, chosen in ROUTES:
        picked_chosen, picked_other, others = [], [], {}
        for task in task_group:
            if not any(t == task for t, _ in base):
                continue
            other = "FT" if chosen == "RAG" else rival_of(summary, task)
            others[task] = other
            by_id = {it["id"]: it for it in data.load_task(task, "test")}
            failed = {i for (t, i), r in base.items() if t == task and decide.classify_result(
                task, by_id[i], r, version=CORPUS_VERSION.get(task, 1)).label in (side, "both")}
            if not failed:
                continue
            a, b = stats.aligned([r for r in rows if r["task"] == task and r["id"] in failed], other, chosen)
            picked_other += a
            picked_chosen += b
        if not picked_chosen:
            out.append({"side": side, "n": 0, "chosen": chosen, "other": others})
            continue
        test = stats.paired(picked_other, picked_chosen)  # the guide's choice minus the other
        out.append({"side": side, "tasks": list(others), "n": test["n"], "chosen": chosen, "other": others,
                    "chosen score": round(100 * sum(picked_chosen) / len(picked_chosen), 1),
                    "other score": round(100 * sum(picked_other) / len(picked_other), 1),
                    "diff": round(100 * test["diff"], 1), "low": round(100 * test["low"], 1),
                    "high": round(100 * test["high"], 1), "p": test.get("p"), "decided": test["decided"]})
    return out


CONSTRAINT_PAIRS = (("FT", "FT+schema"), ("base", "base+schema"), ("FT", "base+schema"))


def constrained_comparison(rows: Sequence[Mapping]) -> list[dict]:
    """Per constrainable task and per pair of ``CONSTRAINT_PAIRS`` (a, b): ``paired_comparison``'s figures,
    plus the share of answers that are valid (JSON: parses and follows the schema; SQL: runs, whatever it
    returns) and truncated, and each system's tokens per second in this run (its generated tokens over its
    wall time)."""
    def share(task, system, key):
        picked = [r for r in rows if r["task"] == task and r["system"] == system and key in r]
        return round(sum(bool(r[key]) for r in picked) / len(picked), 3) if picked else None

    def speed(task, system):
        picked = [r for r in rows if r["task"] == task and r["system"] == system]
        seconds = picked[0].get("run_seconds") if picked else None
        return round(sum(r.get("new_tokens", 0) for r in picked) / seconds, 1) if seconds else None

    out = []
    for row in paired_comparison(rows, CONSTRAINT_PAIRS, tasks.CONSTRAINABLE):
        task, a, b = row["task"], row["a"], row["b"]
        valid = "valid" if task == "json_extraction" else "runs"
        out.append({**row, "a valid": share(task, a, valid), "b valid": share(task, b, valid),
                    "b truncated": share(task, b, "truncated"), "a tokens/s": speed(task, a),
                    "b tokens/s": speed(task, b)})
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


def _plain(value):
    """`value` with NaN as None, for JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def per_item(rows: Sequence[Mapping]) -> dict[str, dict[str, list[float]]]:
    """{task: {system: scores in item order}} from ``run``'s rows (what ``save(..., scores=...)`` keeps so a
    later reader, notebook 01 or ``decide.measured_choice``, can pair systems item by item)."""
    out: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        out.setdefault(row["task"], {}).setdefault(row["system"], []).append(float(row["score"]))
    return out


def saved_scores(path: Path | None = None) -> dict[str, dict[str, list[float]]]:
    """The per-item scores of a saved benchmark (default: the committed ``results/benchmark.json``, notebook
    08's last learner-profile run); a clear error when there is none."""
    path = Path(path) if path else env.REPO_ROOT / "results" / "benchmark.json"
    if not path.is_file():
        raise FileNotFoundError(f"no saved benchmark at {path}: run notebook 08 (it writes the file)")
    scores = json.loads(path.read_text()).get("scores")
    if not scores:
        raise KeyError(f"{path} has no per-item scores (saved before they were kept): re-run notebook 08")
    return scores


def saved_fewshot_k(path: Path | None = None) -> dict[str, int]:
    """The few-shot k per behaviour task that the last saved benchmark chose on dev (``save(..., fewshot=...)``);
    empty when no benchmark was saved yet or it chose none (notebook 08 not run)."""
    path = Path(path) if path else results_path()
    if not path.is_file():
        return {}
    chosen = json.loads(path.read_text()).get("fewshot") or {}
    return {task: int(choice["k"]) for task, choice in chosen.items()}


def save(summary: Sequence[Mapping], comparison: Sequence[Mapping], gens, n_items: int,
         path: Path | None = None, constrained: Sequence[Mapping] | None = None, **extra) -> Path:
    """Write the benchmark with what produced it: models, tier, profile, data version, date, retrieval; with
    ``constrained`` (``constrained_comparison``'s rows) the constrained systems' comparison too, and any
    ``extra`` section by name (``rival=``: ``rival_comparison``; ``fewshot=``: the k chosen on dev; ``routing=``).

    ``gens``: the dict of generators the benchmark ran with, or its result rows (``run`` records each row's
    generator, tier and device, so a run that loaded one model at a time can be saved too).
    """
    if not gens:
        raise ValueError("no generators given: pass the dict of models the benchmark ran with, or its rows")
    path = Path(path) if path else results_path()
    if isinstance(gens, Mapping):
        any_gen = next(iter(gens.values()))
        tier, device, generator = any_gen.tier, str(any_gen.device), any_gen.model_id
        adapters = sorted(m for m in gens if m != "base")
    else:
        first = gens[0]
        missing = [k for k in ("generator", "tier", "device", "model") if k not in first]
        if missing:
            raise KeyError(f"result rows without {missing}: save the rows benchmark.run returned, or pass the gens")
        tier, device, generator = first["tier"], first["device"], first["generator"]
        adapters = sorted({r["model"] for r in gens} - {"base"})
    payload = {
        "date": time.strftime("%Y-%m-%d"),
        "profile": env.profile(),
        "tier": tier,
        "device": device,
        "generator": generator,
        "adapters": adapters,
        "data_version": data_fingerprint(),
        "corpus_versions": {task: CORPUS_VERSION.get(task, 1) for task in GUIDE},
        "retrieval": dict(systems.CONTEXT),
        "n_items_per_task": n_items,
        "table": [dict(r) for r in summary],
        "comparison": _plain([dict(r) for r in comparison]),  # NaN (no McNemar on graded scores) as null
    }
    if constrained is not None:
        payload["constrained"] = [dict(r) for r in constrained]
    for name, section in extra.items():
        payload[name] = _plain(section)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
