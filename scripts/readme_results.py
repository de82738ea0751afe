"""Write the measured figures from results/*.json into docs/results.md, between marker comments.

    python scripts/readme_results.py            # rewrite the page's generated sections (make readme)
    python scripts/readme_results.py --check    # exit 1, writing nothing, when docs/results.md is out of date

The README links to docs/results.md and keeps none of the figures itself. A generated section is a block
of docs/results.md between two comments::

    <!-- bench:start -->
    (written by this script: never edit by hand; tests/test_readme_results.py checks it)
    <!-- bench:end -->

``SECTIONS`` maps each block name to its results file, the command that writes that file, and the
function that turns the file into markdown. To add one, write a renderer, add a line to ``SECTIONS``
and put the two markers in docs/results.md. Links in a block are relative to docs/ (``../notebooks/``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "results.md"


def markers(name: str) -> tuple[str, str]:
    """The start and end comments of block `name`."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with the lines between block `name`'s markers replaced by `body` (markers kept).

    Raises ValueError when the markers are missing, repeated or out of order, so a damaged page
    is reported instead of half rewritten.
    """
    start, end = markers(name)
    counts = (text.count(start), text.count(end))
    if counts != (1, 1):
        raise ValueError(f"block {name!r}: expected one {start} and one {end}, found {counts[0]} and "
                         f"{counts[1]}; put the two markers where the generated text belongs")
    head, rest = text.split(start)
    middle, tail = rest.split(end) if end in rest else (None, None)
    if middle is None:
        raise ValueError(f"block {name!r}: {end} comes before {start}")
    return f"{head}{start}\n{body.strip()}\n{end}{tail}"


def block(text: str, name: str) -> str:
    """The current content between block `name`'s markers."""
    start, end = markers(name)
    return text.split(start, 1)[1].split(end, 1)[0].strip()


# ---------------------------------------------------------------------------------------------
# results/bench.json (scripts/bench.py)
# ---------------------------------------------------------------------------------------------

# figure key -> (label, unit); a label may use the figure's own fields, e.g. {max_new_tokens}.
BENCH_LABELS: dict[str, tuple[str, str]] = {
    "generator_first_conversion_s": ("first load: GGUF converted to the safetensors cache (once)", "s"),
    "generator_cached_load_s": ("generator load from the cache", "s"),
    "generation_tokens_per_s_batch1": ("generation, batch 1 ({max_new_tokens} new tokens per prompt)", "tokens/s"),
    "generation_tokens_per_s_batch8": ("generation, batch 8 ({max_new_tokens} new tokens per prompt)", "tokens/s"),
    "indexing_chunks_per_s": ("indexing the help centre, embedding included ({chunks} chunks)", "chunks/s"),
    "retrieval_vector_ms": ("retrieval latency, vector (top 10, query embedding included)", "ms"),
    "retrieval_bm25_ms": ("retrieval latency, BM25 (top 10)", "ms"),
    "retrieval_hybrid_ms": ("retrieval latency, hybrid RRF (top 10, query embedding included)", "ms"),
    "lora_training_tokens_per_s": ("LoRA training, behaviour mix ({steps} steps of {batch_size}, {precision})", "tokens/s"),
    "generation_with_lora_tokens_per_s_batch1": ("generation with the LoRA adapter, batch 1", "tokens/s"),
    "generation_with_lora_tokens_per_s_batch8": ("generation with the LoRA adapter, batch 8", "tokens/s"),
    "gate_overhead_cut_pct": ("confidence gate: share of RAG's latency overhead removed (threshold {threshold}, "
                              "picked on dev; {queries} mixed test queries)", "%"),
    "gate_mean_latency_ms": ("confidence gate: mean latency per query", "ms"),
    "always_rag_mean_latency_ms": ("always-RAG: mean latency per query (same queries)", "ms"),
    # group "efficiency": today's settings and the new ones, back to back in one run (scripts/bench.py)
    "cpu_native_bf16": ("CPU computes bf16 natively (flags: {flags})", ""),
    "train_today_tokens_per_s": ("LoRA training, old settings: whole batches of 8, fp32, unsorted, TRL's loss over every "
                                 "position ({steps} steps)",
                                 "tokens/s"),
    "train_new_tokens_per_s": ("LoRA training, new settings: micro-batch {micro_batch} with accumulation, "
                               "{precision}, sorted by length, loss from the answer's positions ({steps} steps)", "tokens/s"),
    "train_speedup": ("training speed-up, new / old", "x"),
    "train_today_peak_gb": ("peak training memory above start, old settings", "GB"),
    "train_new_peak_gb": ("peak training memory above start, new settings", "GB"),
    "train_memory_ratio": ("peak training memory, new / old", "x"),
    "score_today": ("JSON field accuracy of the old run's adapter ({items} test items, 95% CI {low}-{high})", ""),
    "score_new": ("JSON field accuracy of the new run's adapter (same items, 95% CI {low}-{high})", ""),
    "score_new_minus_today": ("score change, new - old (paired bootstrap 95% CI {low} to {high})", ""),
    "train_fp32_micro1_tokens_per_s": ("LoRA training fp32, micro-batch 1 ({steps} steps; peak {peak_gb} GB)",
                                       "tokens/s"),
    "train_fp32_micro2_tokens_per_s": ("LoRA training fp32, micro-batch 2 ({steps} steps; peak {peak_gb} GB)",
                                       "tokens/s"),
    "train_fp32_micro4_tokens_per_s": ("LoRA training fp32, micro-batch 4 ({steps} steps; peak {peak_gb} GB)",
                                       "tokens/s"),
    "train_unsloth_tokens_per_s": ("Unsloth's CPU backend (.venv-unsloth), same data and recipe, {precision}",
                                   "tokens/s"),
    "train_unsloth_peak_gb": ("Unsloth's CPU backend: peak training memory above start", "GB"),
    "train_peft_over_unsloth": ("course PEFT path's training speed as a ratio of Unsloth's", "x"),
    "generate_today_batch8_tokens_per_s": ("generation, old settings: fp32, batch 8, unsorted", "tokens/s"),
    "generate_new_batch8_tokens_per_s": ("generation, new settings ({dtype}, sorted by length), batch 8",
                                         "tokens/s"),
    "generate_new_batch16_tokens_per_s": ("generation, new settings ({dtype}), batch 16", "tokens/s"),
    "generate_new_batch32_tokens_per_s": ("generation, new settings ({dtype}), batch 32", "tokens/s"),
    "generate_today_batch1_tokens_per_s": ("generation, old settings, batch 1", "tokens/s"),
    "generate_new_batch1_tokens_per_s": ("generation, new settings ({dtype}), batch 1", "tokens/s"),
    "generate_speedup": ("batched generation speed-up, new at batch {best_batch} / old at batch 8", "x"),
    # group "threads": training alone and beside one busy process, torch's default threads vs env.fit_threads
    "threads_torch_default_training_s_alone": ("training, {steps} steps of 05's behaviour recipe, torch's default "
                                               "threads, alone", "s"),
    "threads_torch_default_training_s_busy": ("the same, beside one busy process (`yes`)", "s"),
    "threads_torch_default_busy_over_alone": ("slow-down beside a busy process, torch's default threads", "x"),
    "threads_fitted_training_s_alone": ("training, {steps} steps, threads fitted to the free cores "
                                        "(`COURSE_THREADS=auto`), alone", "s"),
    "threads_fitted_training_s_busy": ("the same, beside one busy process", "s"),
    "threads_fitted_busy_over_alone": ("slow-down beside a busy process, fitted threads", "x"),
    "threads_fitted_over_default_alone": ("alone: fitted / default time (1 = the idle-machine speed is kept)", "x"),
    # group "case": helpers.case on a synthetic large case (2,000 documents, 500 questions), learner profile
    "case_large_documents_per_s": ("your own case, 2,000 documents: documents indexed per second (chunking and "
                                   "embedding included)", "docs/s"),
    "case_large_questions_per_s": ("the same case: questions answered per second (closed-book and RAG, 500 questions)",
                                   "questions/s"),
    "case_large_total_s": ("the same case: the whole run (index, retrieval, answers, report)", "s"),
    "case_large_peak_gb": ("the same case: peak resident memory of the process", "GB"),
    # group "constraint": constrained decoding (helpers.constrain, llguidance), free and constrained in one run
    "constraint_tokenizer_build_s": ("constrained decoding: llguidance's view of the tokenizer, built once", "s"),
    "constraint_schema_compile_s": ("constrained decoding: the ticket JSON Schema compiled (first matcher)", "s"),
    "constraint_sql_grammar_compile_s": ("constrained decoding: the SQL grammar of the analytics database compiled",
                                         "s"),
}
for _task, _what in (("json_extraction", "JSON extraction"), ("sql", "SQL")):
    for _batch in (32, 1):
        _key = f"constraint_{_task}_batch{_batch}"
        BENCH_LABELS[f"{_key}_free_ms_per_token"] = (f"{_what}, batch {_batch} ({{prompts}} prompts): time per "
                                                     "generated token, free", "ms")
        BENCH_LABELS[f"{_key}_constrained_ms_per_token"] = (
            f"the same, constrained ({'schema' if _task == 'json_extraction' else 'grammar'})", "ms")
        BENCH_LABELS[f"{_key}_overhead_pct"] = (f"{_what}, batch {_batch}: cost of the constraint per token", "%")


def _unit_from_key(key: str) -> str:
    for suffix, unit in (("_per_s", "per s"), ("_ms", "ms"), ("_s", "s")):
        if key.endswith(suffix):
            return unit
    return ""


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def bench_section(results: dict) -> str:
    """Markdown for results/bench.json: the machine and date, then one table row per figure."""
    m = results.get("machine", {})
    gpu = m.get("gpu") or "no GPU"
    lines = [f"Measured on {results.get('date', 'an unknown date')} by `make bench` on {m.get('platform', '?')} "
             f"({m.get('processor', '?')}, {m.get('cpu_count', '?')} CPU cores, {gpu}), Python {m.get('python', '?')}, "
             f"torch {m.get('torch', '?')}; tier `{results.get('tier', '?')}`, generator {results.get('generator', '?')}.",
             ""]
    for group, where in results.get("groups", {}).items():
        gm = where.get("machine", {})
        flags = ", ".join(gm.get("cpu_bf16_flags") or []) or "none"
        lines += [f"The `{group}` rows were measured again on {where.get('date', '?')} (`scripts/bench.py --only "
                  f"{group}`) on {gm.get('platform', '?')} ({gm.get('cpu_count', '?')} CPU cores, native bf16 "
                  f"flags: {flags}); each of their ratios compares two settings measured in that same run.", ""]
    lines += ["| figure | median | p95 | repeats |", "|---|---|---|---|"]
    for key, figure in results.get("figures", {}).items():
        label, unit = BENCH_LABELS.get(key, (f"`{key}`", _unit_from_key(key)))
        figure = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in figure.items()}
        if key == "lora_training_tokens_per_s":
            figure = {"precision": "fp32"} | figure  # runs before precision was recorded trained in fp32 only
        try:
            label = label.format_map(figure)
        except (KeyError, IndexError, ValueError):
            pass
        value = figure.get("median", figure.get("value"))
        median = f"{_number(value)} {unit}".strip() if value is not None else ""
        p95 = f"{_number(figure['p95'])} {unit}".strip() if "p95" in figure else ""
        if "repeats" in figure:
            repeats = str(figure["repeats"])
        elif "queries" in figure:
            repeats = f"{figure['queries']} queries"
        else:
            repeats = "1"
        lines.append(f"| {label} | {median} | {p95} | {repeats} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# results/benchmark.json (notebooks/08_benchmark.ipynb, learner profile)
# ---------------------------------------------------------------------------------------------

def _pct(row: dict, system: str) -> str:
    if system not in row:
        return ""
    return f"{100 * row[system]['score']:.0f} [{100 * row[system]['low']:.0f}-{100 * row[system]['high']:.0f}]"


def benchmark_section(results: dict) -> str:
    """Markdown for results/benchmark.json: provenance, then one row per task type beside the guide."""
    cells: dict[str, dict] = {}
    for r in results.get("table", []):
        cells.setdefault(r["task"], {})[r["system"]] = {"score": r["score"], "low": r["score_low"],
                                                         "high": r["score_high"]}
    lines = [f"From `notebooks/08_benchmark.ipynb` on {results.get('date', '?')} ({results.get('profile', '?')} profile, "
             f"tier `{results.get('tier', '?')}`, generator {results.get('generator', '?')}, "
             f"{results.get('n_items_per_task', '?')} test items per task, data `{results.get('data_version', '?')}`). "
             "Scores 0-100 with 95% bootstrap intervals. The guide's RAG side is the task's *rival*: RAG on the "
             "fact tasks, the better of RAG and few-shot prompting on the behaviour tasks. *FT - rival* is the paired "
             "difference on the same items with its bootstrap interval and, for 0/1 metrics, McNemar's exact p; the "
             "verdict follows that test.",
             "", "| task type (metric) | n | guide RAG / FT | base | RAG | few-shot | FT | FT+RAG | RAFT | FT - rival "
             "(paired) | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in results.get("comparison", []):
        row = cells.get(c["task"], {})
        if "FT - rival" in c:
            p_value = c.get("p (McNemar)")
            p = "" if p_value is None or p_value != p_value else f", p={p_value:.2g}"  # None or NaN: graded scores
            paired = (f"{c['FT - rival']:+.0f} [{c['FT - rival low']:+.0f}, {c['FT - rival high']:+.0f}]{p} "
                      f"(vs {c.get('rival', 'RAG')})")
        else:
            paired = "not recorded (older results file)"
        verdict = c.get("verdict") or (("agrees" if c["agrees"] else "disagrees") + ("" if c["clear"] else " (not clear)"))
        if c.get("floor"):
            verdict += f": {c['floor'].split(' is at the floor here')[0]}"
        lines.append(f"| {c['task type']} ({c['metric']}) | {c.get('n', '?')} | {c['guide RAG']} / {c['guide FT']} "
                     f"({c['guide winner']}) | " + " | ".join(_pct(row, s) for s in ("base", "RAG", "few-shot", "FT", "FT+RAG",
                                                                                     "RAFT"))
                     + f" | {paired} | {verdict} |")
    return "\n".join(lines)


def claims_section(results: dict) -> str:
    """Markdown for results/claims.json: one row per claim of helpers.claims, beside the guide's figure."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from helpers import claims  # standard library only at import: runs under `make readme`'s python too

    rows = claims.scorecard(claims.load_dict(results))
    runs = sorted({(r.get("profile"), r.get("model")) for r in results.values()})
    dates = sorted({r.get("date") for r in results.values()})
    counts = {v: sum(r["verdict"] == v for r in rows) for v in (*claims.VERDICTS, "not measured yet")}
    lines = [f"From the notebooks' `claims.record` calls ({', '.join(f'{p} profile, {m}' for p, m in runs) or 'none yet'}; "
             f"{' to '.join(dict.fromkeys([dates[0], dates[-1]])) if dates else 'no date'}). The verdict is computed from "
             "the figure and its 95% interval (`helpers.claims.verdict`): *holds* only when the whole interval supports "
             "the guide. " + ", ".join(f"{n} {v}" for v, n in counts.items() if n) + ".",
             "", "| the guide says | guide | this run [95% interval] | n | verdict | notebook |", "|---|---|---|---|---|---|"]
    for r in rows:
        verdict = r["verdict"] + (" (results from other data: re-run)" if r.get("stale") else "")
        n = "" if r["n"] is None else f"{r['n']:,}"
        lines.append(f"| {r['guide']} ({r['section']}) | {r['guide figure']} | {r['this run']} | {n} | {verdict} | "
                     f"[{r['notebook'][:2]}](../notebooks/{r['notebook']}.ipynb) |")
    return "\n".join(lines)


def grader_section(results: dict) -> str:
    """Markdown for results/grader.json: each rule's agreement with careful reading, and by source."""
    names = results.get("rules", {})
    lines = [f"From `python -m helpers.grader` on the {results['n']} labelled replies of `data/labels/` "
             f"({results['human_correct']} correct by careful reading; the rule and how the labels were made: "
             "[data/labels/README.md](../data/labels/README.md)). 95% intervals: Wilson for agreement, bootstrap for "
             "Cohen's kappa. The `test` replies were not used to write the rules; three rules were added after their "
             "first reading (the README of the labels gives that reading and the three rules).", "",
             "| rule | replies | n | agreement | kappa | missed right | credited wrong |", "|---|---|---|---|---|---|---|"]
    for key, a in results.get("agreement", {}).items():
        rule, split = key.split("/")
        lines.append(f"| {names.get(rule, rule)} | {split} | {a['n']} | {100 * a['agreement']:.1f}% "
                     f"[{100 * a['agreement_low']:.1f}, {100 * a['agreement_high']:.1f}] | {a['kappa']:.2f} "
                     f"[{a['kappa_low']:.2f}, {a['kappa_high']:.2f}] | {a['missed']} | {a['false_credit']} |")
    lines += ["", "Right replies by source, as the reader and each rule count them:", "",
              "| task / system | n | reader | old rule | new rule |", "|---|---|---|---|---|"]
    for key, c in results.get("by_source", {}).items():
        lines.append(f"| {key} | {c['n']} | {c['human']} | {c['old']} | {c['new']} |")
    return "\n".join(lines)


# name -> (results file, command that writes it, renderer)
SECTIONS: dict[str, tuple[str, str, Callable[[dict], str]]] = {
    "bench": ("results/bench.json", "make bench", bench_section),
    "benchmark": ("results/benchmark.json", "notebooks/08_benchmark.ipynb (learner profile)", benchmark_section),
    "claims": ("results/claims.json", "make course", claims_section),
    "grader": ("results/grader.json", "python -m helpers.grader", grader_section),
}


def section(name: str, root: Path = ROOT) -> str:
    """The generated markdown of section `name` from its results file (a placeholder when there is none yet)."""
    relative, command, renderer = SECTIONS[name]
    path = root / relative
    if not path.is_file():
        return f"_Not measured yet: `{command}` writes `{relative}`._"
    return renderer(json.loads(path.read_text()))


def render(page: str, root: Path = ROOT) -> str:
    """`page` with every block of SECTIONS regenerated from the results files under `root`."""
    for name in SECTIONS:
        page = replace_block(page, name, section(name, root))
    return page


def _shown(path: Path) -> str:
    """`path` as the messages name it: relative to the repository when it lies inside."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help=f"report whether {_shown(PAGE)} is up to date; write nothing")
    args = parser.parse_args(argv)
    current = PAGE.read_text()
    updated = render(current)
    changed = [name for name in SECTIONS if block(current, name) != block(updated, name)]
    if args.check:
        if changed:
            print(f"{_shown(PAGE)} is out of date in {changed}: run `make readme`")
            return 1
        print(f"{_shown(PAGE)} is up to date")
        return 0
    if changed:
        PAGE.write_text(updated)
    print(f"{_shown(PAGE)}: {', '.join(changed) or 'nothing'} rewritten" + ("" if changed else " (already up to date)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
