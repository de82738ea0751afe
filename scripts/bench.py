"""Measure the course's speed figures on this machine and write results/bench.json.

    python scripts/bench.py            # medians over 3 repeats
    python scripts/bench.py --repeats 5 --convert

Figures: cached generator load time, GGUF-to-safetensors conversion time (with --convert, into a
temporary cache), generation tokens/s at batch 1 and batch 8, indexing throughput (chunks/s, embedding
included), retrieval latency p50/p95 for vector, BM25 and hybrid search (query embedding included), LoRA
training tokens/s on the behaviour mix, and generation tokens/s with the LoRA adapter (batch 1 and 8).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from helpers import data, env, finetune, generate, index, models, rag

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [f"Write one sentence about the number {i}." for i in range(16)]


def median_of(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def machine() -> dict:
    rt = env.detect_runtime()
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": rt.cpu_count,
            "gpu": rt.gpu_name, "python": rt.python, "torch": rt.torch, "cpu_bf16": rt.cpu_bf16,
            "cpu_bf16_flags": sorted(env.BF16_CPU_FLAGS & env.cpu_flags())}


def retrieval_figures(repeats: int) -> dict[str, dict]:
    """Indexing throughput over the v1 corpus and per-query retrieval latency on the static QA test questions."""
    embedder = models.load_embedder()
    chunks = rag.chunk_corpus(data.load_corpus(1), **index.DEFAULT_CHUNKING)
    rates = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            store = index.IndexStore("bench-index", root=Path(tmp), embedder=embedder)
            manifest = store.build(chunks, 1, index.DEFAULT_CHUNKING, progress=False)
            rates.append(len(chunks) / manifest["build_seconds"])
            built = store.open(manifest["version"])
            questions = [it["question"] for it in data.load_task("qa_static", "test")]
            latency = {}
            for mode in index.MODES:
                built.search(questions[0], k=10, mode=mode)  # warm-up
                times = []
                for q in questions:
                    start = time.perf_counter()
                    built.search(q, k=10, mode=mode)
                    times.append((time.perf_counter() - start) * 1000)
                latency[mode] = times
    figures = {"indexing_chunks_per_s": {"median": round(statistics.median(rates), 1), "repeats": repeats,
                                         "chunks": len(chunks)}}
    for mode, times in latency.items():
        figures[f"retrieval_{mode}_ms"] = {"median": round(float(np.percentile(times, 50)), 2),
                                           "p95": round(float(np.percentile(times, 95)), 2), "queries": len(times)}
    return figures


def lora_figures(repeats: int, steps: int = 4) -> dict[str, dict]:
    """LoRA training throughput on the behaviour mix (fresh model per repeat), then generation with the adapter."""
    records = finetune.chat_records({"json_extraction": None, "tone": None, "sql": None})
    rates, gen = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            gen = models.load_generator()
            run = finetune.train(gen, records, finetune.Recipe(max_steps=steps, batch_size=8), Path(tmp) / str(i))
            precision = run.info["precision"]
            rates.append(run.tokens_per_second)
    figures = {"lora_training_tokens_per_s": {"median": round(statistics.median(rates), 1), "repeats": repeats,
                                              "steps": steps, "batch_size": 8, "precision": precision}}
    for batch_size, n_prompts in ((1, 8), (8, 16)):
        speed = [generate.generate(gen, PROMPTS[:n_prompts], max_new_tokens=48, batch_size=batch_size,
                                   progress=False).tokens_per_second for _ in range(repeats)]
        figures[f"generation_with_lora_tokens_per_s_batch{batch_size}"] = {
            "median": round(statistics.median(speed), 1), "repeats": repeats, "max_new_tokens": 48}
    return figures


def gate_figures(repeats: int, n_dev: int = 6, n_test: int = 6) -> dict[str, dict]:
    """The confidence gate (notebook 07) on a mixed stream: threshold picked on dev, saving on test.

    Both paths are timed per query, one query at a time; each repeat measures the test queries again.
    """
    from helpers import data, index, speculative, systems

    gen = systems.load_adapter_or_train("behaviour")
    base = models.load_generator()  # the RAG path: notebook 04's pipeline, the base model with the context
    help_centre = index.course_index(1, progress=False)
    stream = ("qa_static", "json_extraction", "sql")

    def measure(split: str, n: int):
        drafts, rags = [], []
        for task in stream:
            d, r = speculative.measure(gen, task, data.load_task(task, split)[:n], help_centre, rag_gen=base,
                                       progress=False)
            drafts += d
            rags += r
        return drafts, rags

    thresholds = [round(0.05 * i, 2) for i in range(21)]
    threshold = speculative.pick_threshold(speculative.sweep(*measure("dev", n_dev), thresholds))
    cuts, gated, always = [], [], []
    for _ in range(repeats):
        rows = speculative.sweep(*measure("test", n_test), [threshold])
        cuts.append(rows[0]["overhead_cut"])
        gated.append(rows[0]["mean_s"] * 1000)
        always.append(rows[1]["mean_s"] * 1000)
    queries = len(stream) * n_test
    return {
        "gate_overhead_cut_pct": {"median": round(100 * statistics.median(cuts), 1), "repeats": repeats,
                                  "threshold": threshold, "queries": queries},
        "gate_mean_latency_ms": {"median": round(statistics.median(gated), 1), "repeats": repeats,
                                 "threshold": threshold},
        "always_rag_mean_latency_ms": {"median": round(statistics.median(always), 1), "repeats": repeats},
    }


EFFICIENCY_MIX = {"json_extraction": 64, "tone": 64, "sql": 64}  # the behaviour mix of 05, 192 conversations
TODAY = {"batch_size": 8, "micro_batch_size": 8, "precision": "fp32", "group_by_length": False,
         "answer_only_loss": False}  # before issue 14


def _unsloth_run(recipe: dict, steps: int) -> dict | None:
    """The same training through Unsloth's CPU backend, in .venv-unsloth (None when that venv is absent)."""
    import subprocess

    python = ROOT / ".venv-unsloth" / "bin" / "python"
    if not (ROOT / ".venv-unsloth" / ".installed").is_file():
        print("no .venv-unsloth (make setup-unsloth): the Unsloth rows are skipped")
        return None
    code = ("import json, os; from helpers import finetune\n"
            f"r = finetune.train_isolated({EFFICIENCY_MIX!r}, finetune.Recipe(**{recipe!r}), 'json_extraction', "
            "n_eval=0, backend='unsloth')\n"
            "print(json.dumps({k: v for k, v in r.items() if k != 'losses'}))")
    child_env = os.environ | {"COURSE_FINETUNE_BACKEND": "unsloth", "UNSLOTH_DISABLE_STATISTICS": "1"}
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=child_env, cwd=ROOT,
                          timeout=1800)
    if done.returncode:
        raise RuntimeError(f"the Unsloth run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def efficiency_figures(steps: int = 12, speed_steps: int = 6, n_eval: int = 30) -> dict[str, dict]:
    """Today's settings (batch 8, fp32, unsorted, eval batch 8) against the new ones, back to back, same data.

    Each training run has a process of its own (clean peak memory). The two main runs also evaluate the
    adapter on the same `n_eval` JSON-extraction test items, with that run's generation settings.
    """
    figures: dict[str, dict] = {"cpu_native_bf16": {"value": env.native_bf16(),
                                                    "flags": sorted(env.BF16_CPU_FLAGS & env.cpu_flags())}}
    new = {"batch_size": 8, "learning_rate": 1e-3, "max_steps": steps}
    today = finetune.train_isolated(EFFICIENCY_MIX, finetune.Recipe(**TODAY, learning_rate=1e-3, max_steps=steps),
                                    "json_extraction", n_eval=n_eval, load_dtype="fp32", eval_batch_size=8,
                                    sort_by_length=False)
    print(f"today: {today['tokens_per_second']:.0f} tokens/s, {today['peak_memory_gb']:.2f} GB", flush=True)
    ours = finetune.train_isolated(EFFICIENCY_MIX, finetune.Recipe(**new), "json_extraction", n_eval=n_eval)
    print(f"new: {ours['tokens_per_second']:.0f} tokens/s, {ours['peak_memory_gb']:.2f} GB", flush=True)
    for name, run in (("today", today), ("new", ours)):
        figures[f"train_{name}_tokens_per_s"] = {"value": round(run["tokens_per_second"], 1), "steps": steps,
                                                 "micro_batch": run["micro_batch_size"],
                                                 "precision": run["precision"]}
        figures[f"train_{name}_peak_gb"] = {"value": round(run["peak_memory_gb"], 2),
                                            "process_peak_gb": round(run["peak_rss_gb"], 2)}
        low, high = _interval(run["scores"])
        figures[f"score_{name}"] = {"value": round(run["score"], 3), "low": low, "high": high, "items": n_eval,
                                    "eval_seconds": round(run["eval_seconds"], 1)}
    from helpers import systems

    diff, low, high = systems.bootstrap_ci([y - x for x, y in zip(today["scores"], ours["scores"], strict=True)])
    figures["score_new_minus_today"] = {"value": round(diff, 3), "low": round(low, 3), "high": round(high, 3),
                                        "items": n_eval}
    figures["train_speedup"] = {"value": round(ours["tokens_per_second"] / today["tokens_per_second"], 2)}
    figures["train_memory_ratio"] = {"value": round(ours["peak_memory_gb"] / max(today["peak_memory_gb"], 1e-6), 2)}
    for micro in (1, 2, 4):  # the micro-batch choice, in fp32 so it is about batching alone
        run = finetune.train_isolated(EFFICIENCY_MIX, finetune.Recipe(**new | {"max_steps": speed_steps},
                                      micro_batch_size=micro, precision="fp32"), "json_extraction", n_eval=0,
                                      load_dtype="fp32")
        figures[f"train_fp32_micro{micro}_tokens_per_s"] = {"value": round(run["tokens_per_second"], 1),
                                                            "steps": speed_steps,
                                                            "peak_gb": round(run["peak_memory_gb"], 2)}
    unsloth = _unsloth_run(new, steps)
    if unsloth:
        figures["train_unsloth_tokens_per_s"] = {"value": round(unsloth["tokens_per_second"], 1), "steps": steps,
                                                 "precision": unsloth["precision"]}
        figures["train_unsloth_peak_gb"] = {"value": round(unsloth["peak_memory_gb"], 2),
                                            "process_peak_gb": round(unsloth["peak_rss_gb"], 2)}
        figures["train_peft_over_unsloth"] = {
            "value": round(ours["tokens_per_second"] / unsloth["tokens_per_second"], 2)}
    figures.update(_generation_efficiency())
    return figures


def _interval(scores: list[float]) -> tuple[float, float]:
    from helpers import systems

    _, low, high = systems.bootstrap_ci(scores)
    return round(low, 3), round(high, 3)


def _generation_efficiency(n_prompts: int = 32, repeats: int = 2) -> dict[str, dict]:
    """Generation tokens/s on JSON-extraction prompts: today's (fp32, batch 8, unsorted) vs the new settings
    (the machine's precision, prompts sorted by length) at batch 8, 16 and 32, and batch 1 for both."""
    from helpers import tasks

    prompts = [tasks.messages("json_extraction", it) for it in data.load_task("json_extraction", "test")[:n_prompts]]
    out: dict[str, dict] = {}
    settings = [("today", "fp32", 8, False), ("new", None, 8, True), ("new", None, 16, True), ("new", None, 32, True),
                ("today", "fp32", 1, False), ("new", None, 1, True)]
    for name, dtype, batch, sort in settings:
        gen = models.load_generator(dtype=dtype)
        few = prompts[:8] if batch == 1 else prompts
        rates = [generate.generate(gen, few, max_new_tokens=96, batch_size=batch, progress=False,
                                   sort_by_length=sort).tokens_per_second for _ in range(repeats)]
        out[f"generate_{name}_batch{batch}_tokens_per_s"] = {
            "median": round(statistics.median(rates), 1), "repeats": repeats,
            "dtype": str(next(gen.model.parameters()).dtype).replace("torch.", "")}
        print(f"generate {name} batch {batch}: {out[f'generate_{name}_batch{batch}_tokens_per_s']['median']}",
              flush=True)
    best = max((16, 32, 8), key=lambda b: out[f"generate_new_batch{b}_tokens_per_s"]["median"])
    out["generate_speedup"] = {"value": round(out[f"generate_new_batch{best}_tokens_per_s"]["median"]
                                              / out["generate_today_batch8_tokens_per_s"]["median"], 2),
                               "best_batch": best}
    return out


def constraint_figures(repeats: int = 2, n_prompts: int = 32) -> dict[str, dict]:
    """What constrained decoding costs (helpers.constrain): building llguidance's view of the tokenizer, compiling
    the ticket schema and the SQL grammar (first matcher included), and seconds per generated token with and
    without the constraint on the same prompts (JSON extraction and SQL, batch 32 and batch 1), in one run."""
    from helpers import constrain, tasks

    gen = models.load_generator()
    end_ids = [gen.tokenizer.eos_token_id]
    out: dict[str, dict] = {}
    start = time.perf_counter()
    ll_tokenizer = constrain.tokenizer_for(gen.tokenizer, len(gen.tokenizer), end_ids)
    out["constraint_tokenizer_build_s"] = {"value": round(time.perf_counter() - start, 3)}
    for name, make in (("schema", lambda: constrain.schema_grammar(data.ticket_schema())),
                       ("sql_grammar", lambda: constrain.lark_grammar(
                           constrain.sql_grammar(constrain.sql_tables(data.analytics_db()))))):
        times = []
        for _ in range(repeats):
            constrain.clear_cache()
            start = time.perf_counter()
            constrain.matcher(ll_tokenizer, make())
            times.append(time.perf_counter() - start)
        out[f"constraint_{name}_compile_s"] = {"median": round(statistics.median(times), 4), "repeats": repeats}
    for task in tasks.CONSTRAINABLE:
        prompts = [tasks.messages(task, it) for it in data.load_task(task, "test")[:n_prompts]]
        for batch, few in ((32, prompts), (1, prompts[:8])):
            per_token = {}
            for label, extra in (("free", {}), ("constrained", tasks.constraint(task))):
                runs = [generate.generate(gen, few, max_new_tokens=tasks.MAX_NEW_TOKENS[task], batch_size=batch,
                                          progress=False, **extra) for _ in range(repeats)]
                per_token[label] = statistics.median(r.seconds / max(sum(r.new_tokens), 1) for r in runs)
            key = f"constraint_{task}_batch{batch}"
            for label in ("free", "constrained"):
                out[f"{key}_{label}_ms_per_token"] = {"median": round(1000 * per_token[label], 2),
                                                      "repeats": repeats, "prompts": len(few)}
            out[key + "_overhead_pct"] = {"value": round(100 * (per_token["constrained"] / per_token["free"] - 1), 1)}
            print(f"{task} batch {batch}: {1000 * per_token['free']:.2f} -> {1000 * per_token['constrained']:.2f} ms "
                  f"per token ({out[key + '_overhead_pct']['value']:+.1f}%)", flush=True)
    return out


def threads_figures(steps: int = 4, repeats: int = 1) -> dict[str, dict]:
    """Training beside a busy neighbour: 4 steps of 05's behaviour recipe, each in a process of its own, alone
    and beside one process that keeps a core busy (`yes > /dev/null`), with torch's default threads
    (``COURSE_THREADS=off``, before issue 30) and fitted to the free cores (``auto``), back to back."""
    import dataclasses
    import subprocess

    from helpers import systems

    recipe = dataclasses.replace(systems.behaviour_recipe(), max_steps=steps)
    seconds: dict[tuple[str, bool], list[float]] = {}
    saved = os.environ.get("COURSE_THREADS")
    try:
        for _ in range(repeats):
            for setting in ("off", "auto"):
                for busy in (False, True):
                    os.environ["COURSE_THREADS"] = setting
                    neighbour = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if busy else None
                    try:
                        result = finetune.train_isolated(EFFICIENCY_MIX, recipe, "json_extraction", n_eval=0)
                    finally:
                        if neighbour:
                            neighbour.kill()
                            neighbour.wait()
                    seconds.setdefault((setting, busy), []).append(result["seconds_per_step"] * steps)
                    print(f"threads={setting:<4} {'beside a busy process' if busy else 'alone':<22} "
                          f"{seconds[(setting, busy)][-1]:.1f} s for {steps} steps", flush=True)
    finally:
        if saved is None:
            os.environ.pop("COURSE_THREADS", None)
        else:
            os.environ["COURSE_THREADS"] = saved
    med = {key: statistics.median(values) for key, values in seconds.items()}
    figures = {}
    for setting, label in (("off", "torch_default"), ("auto", "fitted")):
        figures[f"threads_{label}_training_s_alone"] = {"median": round(med[(setting, False)], 1),
                                                        "steps": steps, "repeats": repeats}
        figures[f"threads_{label}_training_s_busy"] = {"median": round(med[(setting, True)], 1),
                                                       "steps": steps, "repeats": repeats}
        figures[f"threads_{label}_busy_over_alone"] = {"value": round(med[(setting, True)] / med[(setting, False)], 2)}
    figures["threads_fitted_over_default_alone"] = {"value": round(med[("auto", False)] / med[("off", False)], 2)}
    return figures


CITIES = ("Oslo", "Lyon", "Porto", "Gdansk", "Tartu", "Ghent", "Bergen", "Graz", "Malmo", "Cork")
MATERIALS = ("oak", "steel", "cork", "basalt", "linen", "copper", "walnut", "slate")


def synthetic_case(folder: Path, n_docs: int = 2000, n_questions: int = 500, seed: int = 0) -> Path:
    """A large case for ``helpers.case``: `n_docs` catalogue pages of a made-up furniture maker (Markdown with a
    few sections, about 250 words each) and `n_questions` questions on facts stated in one page each."""
    import random

    rng = random.Random(seed)
    docs = folder / "docs"
    docs.mkdir(parents=True)
    questions = []
    for i in range(n_docs):
        name = f"Model {i:04d}"
        city, material = rng.choice(CITIES), rng.choice(MATERIALS)
        weight, warranty, code = rng.randint(3, 90), rng.randint(1, 15), f"PX-{rng.randint(10000, 99999)}"
        filler = " ".join(rng.choice(("The finish is applied by hand.", "Each piece is inspected twice.",
                                      "Spare parts are kept for ten years.", "Assembly takes under an hour.",
                                      "The packaging is recycled card.", "Colours vary slightly by batch."))
                          for _ in range(12))
        (docs / f"model-{i:04d}.md").write_text(
            f"# {name}\n\n## Making\n\n{name} is made in {city} from {material}. {filler}\n\n## Specifications"
            f"\n\n{name} weighs {weight} kg and carries the part code {code}. {filler}\n\n## Warranty\n\n"
            f"The warranty of {name} lasts {warranty} years. {filler}\n", encoding="utf-8")
        if len(questions) < n_questions:
            question, answer = rng.choice(((f"Where is {name} made?", city),
                                           (f"What is the part code of {name}?", code),
                                           (f"How many years does the warranty of {name} last?", f"{warranty} years")))
            questions.append({"question": question, "answer": answer, "sources": [f"model-{i:04d}.md"]})
    with open(folder / "questions.jsonl", "w", encoding="utf-8") as handle:
        for q in questions:
            handle.write(json.dumps(q) + "\n")
    return folder


def _case_worker(folder: str, out_path: str) -> None:
    """In a process of its own: the whole case run (no examples), its stage times and the peak resident memory."""
    import resource

    from helpers import case

    env.configure()
    start = time.perf_counter()
    figures = case.run(folder, Path(folder) / "report", progress=False, log=lambda _: None)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(out_path).write_text(json.dumps({"seconds": figures["seconds"], "total_s": time.perf_counter() - start,
                                          "counts": figures["counts"], "peak_gb": peak_kb / 1024 ** 2}))


def case_figures(n_docs: int = 2000, n_questions: int = 500) -> dict[str, dict]:
    """A synthetic case of `n_docs` documents and `n_questions` questions through ``helpers.case.run`` in the
    learner profile (every question answered closed-book and with RAG), in a fresh process and workspace: documents
    indexed per second (chunking and embedding included), questions answered per second, peak resident memory."""
    import multiprocessing

    with tempfile.TemporaryDirectory() as tmp:
        folder = synthetic_case(Path(tmp) / "large-case", n_docs, n_questions)
        # the spawned worker inherits these; the model cache is shared, the workspace is not
        with mock.patch.dict(os.environ, {"COURSE_CACHE_DIR": str(env.cache_dir()), "COURSE_PROFILE": "learner",
                                          "COURSE_WORKSPACE": str(Path(tmp) / "workspace")}):
            worker = multiprocessing.get_context("spawn").Process(target=_case_worker,
                                                                  args=(str(folder), str(Path(tmp) / "out.json")))
            worker.start()
            worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"the large-case run failed (exit code {worker.exitcode})")
        result = json.loads((Path(tmp) / "out.json").read_text())
    seconds, counts = result["seconds"], result["counts"]
    print(f"large case: {counts['documents']} documents ({counts['chunks']} chunks) indexed in {seconds['index']} s, "
          f"{counts['questions']} questions answered in {seconds['answer']} s, peak {result['peak_gb']:.2f} GB")
    return {"case_large_documents_per_s": {"value": round(counts["documents"] / seconds["index"], 1),
                                           "documents": counts["documents"], "chunks": counts["chunks"]},
            "case_large_questions_per_s": {"value": round(counts["questions"] / seconds["answer"], 2),
                                           "questions": counts["questions"]},
            "case_large_total_s": {"value": round(result["total_s"], 1)},
            "case_large_peak_gb": {"value": round(result["peak_gb"], 2)}}

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--convert", action="store_true", help="also time a fresh GGUF conversion (~30 s)")
    parser.add_argument("--only", choices=["gate", "efficiency", "threads", "constraint", "case"],
                        help="measure one group again and update results/bench.json")
    args = parser.parse_args()
    env.configure()
    figures: dict[str, dict] = {}
    if args.only:
        path = ROOT / "results" / "bench.json"
        if not path.is_file():
            parser.error("--only updates an existing results/bench.json: run `make bench` once first")
        out = json.loads(path.read_text())
        group = {"gate": lambda: gate_figures(args.repeats), "efficiency": efficiency_figures,
                 "threads": threads_figures, "constraint": constraint_figures,
                 "case": case_figures}[args.only]
        out["figures"].update(group())
        # the rest of the file keeps its own date and machine; this group says when and where it was measured
        out.setdefault("groups", {})[args.only] = {"date": time.strftime("%Y-%m-%d"), "machine": machine()}
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"updated the {args.only} figures in results/bench.json")
        return

    if args.convert:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["COURSE_CACHE_DIR"] = tmp
            start = time.perf_counter()
            models.embedded_generator_dir(progress=None)
            figures["generator_first_conversion_s"] = {"value": round(time.perf_counter() - start, 2)}
            del os.environ["COURSE_CACHE_DIR"]

    models.load_generator()  # make sure the cache exists before timing cached loads
    load = median_of(lambda: models.load_generator().info["load_seconds"], args.repeats)
    figures["generator_cached_load_s"] = {"median": round(load, 3), "repeats": args.repeats}
    gen = models.load_generator()
    for batch_size, n_prompts in ((1, 8), (8, 16)):
        rates = [generate.generate(gen, PROMPTS[:n_prompts], max_new_tokens=48, batch_size=batch_size,
                                   progress=False).tokens_per_second for _ in range(args.repeats)]
        figures[f"generation_tokens_per_s_batch{batch_size}"] = {
            "median": round(statistics.median(rates), 1), "repeats": args.repeats, "max_new_tokens": 48}

    figures.update(retrieval_figures(args.repeats))
    figures.update(lora_figures(args.repeats))
    figures.update(gate_figures(args.repeats))
    figures.update(efficiency_figures())
    figures.update(threads_figures())
    figures.update(constraint_figures())
    figures.update(case_figures())
    out = {"machine": machine(), "tier": gen.tier, "generator": gen.model_id,
           "date": time.strftime("%Y-%m-%d"), "figures": figures}
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "bench.json").write_text(json.dumps(out, indent=2) + "\n")
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value.get('median', value.get('value'))}")
    print("written: results/bench.json")


if __name__ == "__main__":
    main()
