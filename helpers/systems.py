"""The systems the course compares, on any task: base, RAG, FT, FT+RAG and RAFT (and few-shot, base+schema,
FT+schema on the behaviour tasks).

=========  ==========================================  ===============================
system     model                                       prompt
=========  ==========================================  ===============================
base       the base model                              the task's prompt
RAG        the base model                              the task's prompt + retrieved context
FT         base + the *behaviour* adapter (05)         the task's prompt
FT+RAG     base + the *behaviour* adapter (05)         the task's prompt + retrieved context
RAFT       base + the *raft* adapter (06)              the task's prompt + retrieved context
few-shot   the base model                              instructions + the task's reference + k solved
                                                       examples nearest the input (``helpers.fewshot``)
=========  ==========================================  ===============================

Retrieval is the course's hybrid search (BM25 + vector, fused) over the help-centre index of the
corpus version the task is asked against, with one setting (``CONTEXT``) shared by every notebook
that compares systems, so their numbers can be set side by side.

Example::

    from helpers import systems
    models_ = systems.load_models(["base", "FT"])             # adapters loaded, or trained when missing
    hits, seconds = systems.retrieve(index, "tone", items)
    rows = systems.run("FT+RAG", models_, "tone", items, contexts=hits)
    systems.bootstrap_ci([r["score"] for r in rows])          # (mean, low, high)
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence

from . import env, tasks
from .stats import bootstrap_ci  # noqa: F401  (statistics live in stats; systems.bootstrap_ci is the same function)

SYSTEMS = ("base", "RAG", "FT", "FT+RAG", "RAFT", "base+schema", "FT+schema", "few-shot")
USES_CONTEXT = {"base": False, "RAG": True, "FT": False, "FT+RAG": True, "RAFT": True, "base+schema": False,
                "FT+schema": False, "few-shot": False}
MODEL_OF = {"base": "base", "RAG": "base", "FT": "behaviour", "FT+RAG": "behaviour", "RAFT": "raft",
            "base+schema": "base", "FT+schema": "behaviour", "few-shot": "base"}
# "+schema": decoding constrained by the task's output format (tasks.constraint: the ticket JSON Schema, the
# SQL grammar of the analytics database), on the behaviour tasks that have one. No RAG+schema: retrieved
# articles change what a model knows, not the format it writes, and RAG does not help these two tasks.
CONSTRAINED = ("base+schema", "FT+schema")
CONTEXT = {"k": 3, "max_words": 240, "mode": "hybrid"}
RAFT_TASKS = ("qa_static", "qa_live", "multihop")


def check_system(name: str) -> str:
    """`name` if it is one of SYSTEMS, else a ValueError that lists them."""
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; choose one of {list(SYSTEMS)}")
    return name


# ---------------------------------------------------------------------------------------------
# Retrieval
# ---------------------------------------------------------------------------------------------

def retrieve(index, task: str, items: Sequence[dict], k: int | None = None, mode: str | None = None,
             ) -> tuple[list[list], list[float]]:
    """Top-k hits for each item's user text (question, ticket or message), and the seconds each search took."""
    k, mode = k or CONTEXT["k"], mode or CONTEXT["mode"]
    hits, seconds = [], []
    for item in items:
        start = time.perf_counter()
        hits.append(index.search(tasks.user_text(task, item)[:2000], k=k, mode=mode))
        seconds.append(time.perf_counter() - start)
    return hits, seconds


# ---------------------------------------------------------------------------------------------
# RAFT training data (Zhang et al. 2024, arXiv:2403.10131)
# ---------------------------------------------------------------------------------------------

def answer_window(text: str, needles: Sequence[str], words: int) -> str:
    """`words` words of `text`, centred on the first needle found (the start of the text if none is)."""
    from . import evaluate

    tokens = text.split()
    if len(tokens) <= words:
        return text
    normed = [evaluate.normalize(t) for t in tokens]
    centre = 0
    for needle in needles:
        first = evaluate.normalize(needle).split()[:1]
        if first and first[0] in normed:
            centre = normed.index(first[0])
            break
    lo = max(0, min(centre - words // 2, len(tokens) - words))
    return " ".join(tokens[lo:lo + words])


def raft_records(index, items_by_task: Mapping[str, Sequence[dict]], p_gold: float = 0.8, k: int | None = None,
                 max_words: int | None = None, seed: int = 3407) -> list[dict]:
    """RAFT conversations: question + documents -> the answer with the gold article cited.

    For each question, the context holds ``k`` chunks: with probability ``p_gold`` one of them is a gold
    chunk (a chunk of a gold article that contains the answer, cut to a window around it) and the rest
    are *distractors*: the top retrieved chunks from other articles. Otherwise all ``k`` are distractors,
    which teaches the model to keep answering from what it knows (the paper's P%). Questions whose gold
    chunk cannot be found in the index are skipped (the count is in each record's ``skipped`` key).
    """
    from . import rag

    if not 0.0 <= p_gold <= 1.0:
        raise ValueError(f"p_gold is a probability in [0, 1], got {p_gold}")
    k, max_words = k or CONTEXT["k"], max_words or CONTEXT["max_words"]
    per_chunk = max_words // k
    rng = random.Random(seed)
    by_article: dict[str, list] = {}
    for chunk in index.chunks:
        by_article.setdefault(chunk.article_id, []).append(chunk)
    records, skipped = [], 0
    for task, items in items_by_task.items():
        if task not in RAFT_TASKS:
            raise ValueError(f"RAFT trains on question answering ({list(RAFT_TASKS)}), not {task!r}")
        for item in items:
            answer = item.get("answer") or item["answer_v1"]
            aliases = item.get("aliases") or item.get("aliases_v1") or []
            gold_ids = rag.gold_sources(item)
            gold = [c for a in gold_ids for c in by_article.get(a, [])
                    if rag.context_has_answer([c], answer, aliases)]
            if not gold:
                skipped += 1
                continue
            found = index.search(item["question"], k=k + 6, mode=CONTEXT["mode"])
            distractors = [h for h in found if h.article_id not in gold_ids][:k]
            with_gold = rng.random() < p_gold
            chosen = [rng.choice(gold)] + distractors[: k - 1] if with_gold else distractors[:k]
            rng.shuffle(chosen)
            hits = [rag.Hit(getattr(c, "id", None) or c.chunk_id, c.article_id, 0.0, rank,
                            answer_window(c.text, [answer, *aliases], per_chunk), {})
                    for rank, c in enumerate(chosen, start=1)]
            conversation = tasks.messages(task, item, answer=True, context=hits, max_words=max_words)
            records.append({"task": task, "id": item["id"], "with_gold": with_gold, "messages": conversation})
    rng.shuffle(records)
    for record in records:
        record["skipped"] = skipped
    return records


# ---------------------------------------------------------------------------------------------
# Models: the base model and the adapters, loaded or trained on demand
# ---------------------------------------------------------------------------------------------

def _on_cpu(micro_batch: int) -> int | None:
    """An adapter recipe's micro-batch: `micro_batch` on a CPU, None (the whole batch at once) on a GPU."""
    return None if env.detect_runtime().cuda else micro_batch


def behaviour_recipe():
    """The recipe notebook 05 trains the behaviour adapter with (steps by profile): 8 conversations a step,
    fed one at a time on a CPU to stay under 3 GB above start in the notebook (issue 14). 8 steps after
    evaluating the base model peaked at 1.43 GB above start and ran 182 tokens/s one at a time, against
    1.86 GB and 196 tokens/s two at a time (2-core machine with ``avx512_bf16``, 2026-12-03); a GPU takes
    the whole batch at once."""
    from . import finetune

    return finetune.Recipe(max_steps=env.by_profile(learner=32, ci=6), batch_size=8,
                           micro_batch_size=_on_cpu(1), learning_rate=env.learning_rate())


KNOWLEDGE_PASSES = 3  # passes over the training questions: a fair attempt at storing the facts (issue 16)


def knowledge_recipe(n_records: int | None = None):
    """The recipe notebook 05 trains the knowledge adapter (the v1 facts) with: ``KNOWLEDGE_PASSES`` passes
    over the `n_records` training questions (default: all of qa_static and qa_live) in the learner profile,
    4 steps in ci. The conversations are short (about 60 tokens), so 8 go through the model at a time: 16 steps
    peaked at 0.89 GB above start and ran 218 tokens/s in micro-batches of 8, against 1.74 GB and 207 tokens/s
    for the whole batch of 16 and 0.58 GB and 184 tokens/s for 4 (2-core machine with ``avx512_bf16``,
    2026-12-03)."""
    from . import finetune

    if n_records is None:
        n_records = len(finetune.chat_records({"qa_static": None, "qa_live": None}))
    steps = KNOWLEDGE_PASSES * finetune.steps_for(1, n_records, 16)  # whole passes: the curve is read at their ends
    return finetune.Recipe(max_steps=env.by_profile(learner=steps, ci=4), batch_size=16,
                           micro_batch_size=_on_cpu(8), learning_rate=env.learning_rate())


def raft_recipe():
    """The RAFT adapter's recipe: the same LoRA, smaller batches (RAFT prompts are ~4x longer), fed one
    conversation at a time on a CPU: 8 steps peaked at 1.57 GB above start and ran 385 tokens/s, against
    2.23 GB and 345 tokens/s two at a time (2-core machine with ``avx512_bf16``, 2026-12-02)."""
    from . import finetune

    return finetune.Recipe(max_steps=env.by_profile(learner=40, ci=3), batch_size=4,
                           micro_batch_size=_on_cpu(1), learning_rate=env.learning_rate(), max_length=640)


def raft_training_records(index=None) -> list[dict]:
    """The RAFT adapter's training set: the QA train splits with retrieved distractors (v1 documents)."""
    from . import data
    from . import index as index_mod

    index = index or index_mod.course_index(1, progress=False)
    return raft_records(index, {task: data.load_task(task, "train") for task in RAFT_TASKS})


def load_adapter_or_train(name: str, gen=None, merged: bool = True, merged_dtype: str = "fp32"):
    """A generator with the saved adapter `name` ('behaviour', 'knowledge' or 'raft'); trained and saved now
    if missing. A notebook opened on its own therefore works, only slower the first time; it says so.

    ``merged`` folds the adapter into the weights (``finetune.merge``): the same outputs, faster generation;
    ``merged_dtype`` is the precision of the merged weights ('fp32': the update exactly; 'bf16': faster, see
    ``finetune.merge``).
    """
    from . import finetune, models

    gen = gen or models.load_generator()
    if merged and gen.tier != "cpu":
        # on a GPU: merging into 4-bit weights (t4) re-quantises them and loses the update (finetune.merge); into
        # 16-bit weights (a100) the fp32 merge doubles the model's memory (28 GB for a 7B) for a speed-up measured
        # only on CPUs. The adapter stays beside the weights.
        merged = False
    if (finetune.adapter_dir(name) / "adapter_config.json").is_file():
        gen = finetune.load_adapter(gen, name)
        return finetune.merge(gen, merged_dtype) if merged else gen
    if name == "behaviour":
        records, recipe = finetune.chat_records({"json_extraction": None, "tone": None, "sql": None}), behaviour_recipe()
        where = "notebook 05"
    elif name == "knowledge":
        records, recipe = finetune.chat_records({"qa_static": None, "qa_live": None}), knowledge_recipe()
        where = "notebook 05"
    elif name == "raft":
        records, recipe, where = raft_training_records(), raft_recipe(), "notebook 06"
    else:
        raise ValueError(f"no recipe for an adapter called {name!r}; the course trains 'behaviour', 'knowledge' and 'raft'")
    print(f"No saved {name!r} adapter in the workspace: training it now with the recipe of {where} "
          f"({recipe.max_steps} steps); later notebooks reuse it.")
    run = finetune.train(gen, records, recipe)
    finetune.save_adapter(run, name)
    gen.model = run.model
    gen.model.eval()
    gen.tokenizer.padding_side = "left"
    return finetune.merge(gen, merged_dtype) if merged else gen


def load_models(names: Sequence[str], dtype: str | None = None, merged_dtype: str = "fp32") -> dict:
    """The generators the systems in `names` need, each loaded once: {'base': gen, 'behaviour': gen, ...}.

    ``dtype`` (CPU): the base model's weights; None follows the machine (``env.compute_dtype``: bf16 where the
    CPU has it natively). ``merged_dtype``: the fine-tuned models' weights after their adapter is merged;
    'fp32' keeps the adapter's update exactly, 'bf16' trades some of its precision for speed
    (``finetune.merge``). bf16 weights pay off in batches on any CPU with native bf16 (make bench, group
    efficiency: 3.3x at batch 32 on two 2-core machines); at batch 1 it depends on the CPU: 1.65x faster
    with ``avx512_bf16`` alone, 10% slower on a machine with ``amx_bf16`` (both 2026-12-02). Without native bf16
    keep fp32."""
    return load_generators((MODEL_OF[check_system(n)] for n in names), dtype=dtype, merged_dtype=merged_dtype)


def load_model(name: str, dtype: str | None = None, merged_dtype: str = "fp32"):
    """One generator by model name ('base', 'behaviour', 'knowledge' or 'raft'; see ``load_generators``):
    what ``benchmark.run`` calls to hold one model in memory at a time."""
    return load_generators([name], dtype=dtype, merged_dtype=merged_dtype)[name]


def load_generators(model_names, dtype: str | None = None, merged_dtype: str = "fp32", shared: bool | None = None
                    ) -> dict:
    """{'base': the base model, 'behaviour' / 'knowledge' / 'raft': base + that adapter}, each loaded once.

    On a CPU each is a model of its own (the adapters merged: faster generation, measured). On a GPU tier
    (``shared`` None follows the tier) the base weights are on the card **once**, with every adapter beside them
    (PEFT named adapters): each generator is a view that switches to its adapter while it generates
    (``generate.active_adapter``), so base + three adapters of a 7B model take 15 GB, not 57."""
    from . import models

    names = list(dict.fromkeys(model_names))
    shared = env.pick_tier() != "cpu" if shared is None else shared
    if shared:
        return shared_generators(names, dtype=dtype)
    return {m: models.load_generator(dtype=dtype) if m == "base"
            else load_adapter_or_train(m, gen=models.load_generator(dtype=dtype), merged_dtype=merged_dtype)
            for m in names}


def shared_generators(names: Sequence[str], dtype: str | None = None) -> dict:
    """One base model with the adapters of `names` beside it (PEFT named adapters), one view per name: the base
    view generates with the adapters switched off. An adapter missing from the workspace is trained first (on a
    base model of its own, released before the shared one loads)."""
    import dataclasses

    from peft import PeftModel

    from . import finetune, models

    adapters = [n for n in names if n != "base"]
    for name in adapters:
        if not (finetune.adapter_dir(name) / "adapter_config.json").is_file():
            trained = load_adapter_or_train(name, merged=False)
            del trained
            env.release_memory()
    base = models.load_generator(dtype=dtype)
    model = base.model
    for i, name in enumerate(adapters):
        path = str(finetune.checked_adapter_path(base, name))
        if i == 0:
            model = PeftModel.from_pretrained(model, path, adapter_name=name)
        else:
            model.load_adapter(path, adapter_name=name)
    model.eval()
    base.tokenizer.padding_side = "left"
    return {name: dataclasses.replace(base, model=model, info={**base.info, "shared_adapter": None if name == "base"
                                                               else name}) for name in names}


def run(system: str, gens: Mapping, task: str, items: Sequence[dict], contexts=None, version: int = 1,
        progress: bool = True, k: int | None = None, pool=None) -> list[dict]:
    """Answer and score `items` with `system`; every row also records the system and its context use.

    few-shot: ``k`` solved examples per item (None: ``fewshot.DEFAULT_K``; choose it on dev with
    ``fewshot.choose_k``) from ``pool`` (None: the task's train split)."""
    check_system(system)
    model = MODEL_OF[system]
    if model not in gens:
        raise KeyError(f"system {system!r} needs the {model!r} model; load it with systems.load_models([{system!r}])")
    if USES_CONTEXT[system] and contexts is None:
        raise ValueError(f"system {system!r} answers from retrieved context: pass contexts= (see systems.retrieve)")
    if system in CONSTRAINED and task not in tasks.CONSTRAINABLE:
        raise ValueError(f"{system!r} needs a task with an output constraint, one of {list(tasks.CONSTRAINABLE)}; "
                         f"{task!r} has none")
    if system == "few-shot":
        from . import fewshot

        k = fewshot.DEFAULT_K if k is None else k
        rows = tasks.run(gens[model], task, list(items), version=version, progress=progress,
                         prompts=fewshot.prompts(task, items, k, pool))
        return [{**row, "system": system, "k": k} for row in rows]
    rows = tasks.run(gens[model], task, list(items), version=version, progress=progress,
                     contexts=contexts if USES_CONTEXT[system] else None, max_words=CONTEXT["max_words"],
                     constrained=system in CONSTRAINED)
    return [{**row, "system": system} for row in rows]


# ---------------------------------------------------------------------------------------------
# Uncertainty
# ---------------------------------------------------------------------------------------------

def summary(rows: Sequence[Mapping], metrics: Sequence[str] = ("score",), by: Sequence[str] = ("system",),
            seed: int = 0) -> list[dict]:
    """One row per group of `by` (e.g. system, or task and system): n, and for each metric its mean with
    a 95% bootstrap interval (``<metric>``, ``<metric>_low``, ``<metric>_high``). Missing values
    (None: the metric does not apply to an item) are left out of that metric."""
    if not rows:
        raise ValueError("no result rows to summarise")
    groups: dict[tuple, list[Mapping]] = {}
    for row in rows:
        missing = [key for key in by if key not in row]
        if missing:
            raise KeyError(f"result rows need the grouping keys {missing}")
        groups.setdefault(tuple(row[key] for key in by), []).append(row)
    out = []
    for key, members in groups.items():
        entry = dict(zip(by, key, strict=True)) | {"n": len(members)}
        for metric in metrics:
            values = [float(m[metric]) for m in members if m.get(metric) is not None]
            if values:
                mean, low, high = bootstrap_ci(values, seed=seed)
                entry |= {metric: mean, f"{metric}_low": low, f"{metric}_high": high}
        out.append(entry)
    return out
