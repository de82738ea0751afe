"""Answer first, retrieve only when unsure: the guide's confidence gate, and Wang et al.'s Speculative RAG.

Two different methods share the name "speculative RAG", and the course keeps them apart:

* **The confidence gate** (what the guide describes; close to adaptive retrieval, e.g. Adaptive-RAG,
  Jeong et al. 2024): a small fine-tuned model answers without retrieval and scores its own confidence.
  At or above a threshold the answer is returned; below it, the RAG path runs. ``confidence``,
  ``agreement``, ``route``, ``gate_outcome`` and ``sweep``.
* **Drafter-verifier** (Speculative RAG, Wang et al. 2024, arXiv:2407.08223): *always* retrieve; a drafter
  writes one answer per subset of the retrieved documents (in one batch), a verifier scores each draft
  and the best one is returned. ``document_subsets`` and ``pick_draft``.

Everything here is plain arithmetic over numbers the notebooks measure (log-probabilities, latencies,
scores), so it is unit-tested on fixed inputs.

Example::

    conf = speculative.confidence(result.logprobs[0])          # in (0, 1]
    speculative.route([0.9, 0.2], threshold=0.5)               # [False, True]: the second one retrieves
    speculative.sweep(drafts, rag_rows, thresholds=[0.3, 0.5])  # accuracy / retrieval share / latency per threshold
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

METHODS = ("mean", "min", "first")


def check_threshold(threshold: float) -> float:
    """`threshold` as a float, if it is a number in [0, 1] (confidences are probabilities)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or math.isnan(threshold):
        raise TypeError(f"a threshold is a number in [0, 1], got {threshold!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"a threshold must lie in [0, 1] (a confidence is a probability), got {threshold}")
    return float(threshold)


def confidence(logprobs: Sequence[float], method: str = "mean") -> float:
    """A confidence in [0, 1] from the log-probabilities of the tokens the model generated.

    ``mean``: the geometric mean of the token probabilities, ``exp(mean(logprobs))`` (length-normalised,
    so long answers are not punished for being long). ``min``: the probability of the least likely token
    (one unsure token sinks the answer). ``first``: the probability of the first token only.
    A generation with no tokens has no evidence of confidence: ValueError.
    """
    if method not in METHODS:
        raise ValueError(f"unknown confidence method {method!r}; choose one of {list(METHODS)}")
    values = [float(x) for x in logprobs]
    if not values:
        raise ValueError("the generator returned no tokens, so there is no confidence to compute; "
                         "route such a query to retrieval (speculative.route does)")
    if any(math.isnan(x) or x > 1e-6 for x in values):
        raise ValueError(f"log-probabilities must be <= 0 and not NaN, got {values}")
    if method == "mean":
        return math.exp(sum(values) / len(values))
    if method == "min":
        return math.exp(min(values))
    return math.exp(values[0])


def agreement(samples: Sequence[str], normalize=None) -> float:
    """Self-consistency: the share of sampled answers equal to the most common one (after normalising).

    The alternative to log-probabilities: sample a few answers; if they agree, the model is sure.
    """
    if not samples:
        raise ValueError("agreement needs at least one sampled answer")
    if normalize is None:
        from .evaluate import normalize
    counts = Counter(normalize(s) for s in samples)
    return counts.most_common(1)[0][1] / len(samples)


def route(confidences: Sequence[float | None], threshold: float) -> list[bool]:
    """For each query, True when it must retrieve: confidence below `threshold`, or no confidence (None).

    Threshold 0 never retrieves (every confidence is >= 0); threshold 1 retrieves unless the model is certain.
    """
    threshold = check_threshold(threshold)
    return [c is None or c < threshold for c in confidences]


def gate_outcome(draft: dict, rag: dict, retrieve: bool) -> dict:
    """What the gated stack returns for one query: the draft, or the RAG answer after the draft.

    `draft` and `rag` hold ``score`` and ``seconds`` (the drafter's latency, and the RAG path's own).
    A retrieved query pays for both: the draft was already written when the gate looked at it.
    """
    if retrieve:
        return {"score": rag["score"], "seconds": draft["seconds"] + rag["seconds"], "retrieved": True}
    return {"score": draft["score"], "seconds": draft["seconds"], "retrieved": False}


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) with linear interpolation (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarise(outcomes: Sequence[dict]) -> dict:
    """Accuracy, share retrieved, mean and p95 latency of a list of per-query outcomes."""
    if not outcomes:
        raise ValueError("no outcomes to summarise")
    seconds = [o["seconds"] for o in outcomes]
    return {"accuracy": sum(o["score"] for o in outcomes) / len(outcomes),
            "retrieved": sum(o["retrieved"] for o in outcomes) / len(outcomes),
            "mean_s": sum(seconds) / len(seconds), "p95_s": percentile(seconds, 95)}


def sweep(drafts: Sequence[dict], rags: Sequence[dict], thresholds: Sequence[float], key: str = "confidence",
          ) -> list[dict]:
    """The gate at every threshold, next to always-RAG and never-RAG, on the same queries.

    `drafts[i]` (``score``, ``seconds``, and the confidence under `key`) and `rags[i]` (``score``,
    ``seconds``) describe query i. Rows: one per threshold, then ``always-RAG`` (RAG alone, no draft)
    and ``never-RAG`` (the draft alone). ``overhead_cut`` is the share of always-RAG's extra latency over
    never-RAG that the gate removes (the guide's "60-80%" claim is about this number).
    """
    if len(drafts) != len(rags):
        raise ValueError(f"{len(drafts)} drafts but {len(rags)} RAG answers: they must be the same queries")
    always = summarise([{"score": r["score"], "seconds": r["seconds"], "retrieved": True} for r in rags])
    never = summarise([{"score": d["score"], "seconds": d["seconds"], "retrieved": False} for d in drafts])
    overhead = always["mean_s"] - never["mean_s"]
    rows = []
    for t in thresholds:
        flags = route([d.get(key) for d in drafts], t)
        row = {"policy": f"gate {t:.2f}", "threshold": check_threshold(t),
               **summarise([gate_outcome(d, r, f) for d, r, f in zip(drafts, rags, flags, strict=True)])}
        row["overhead_cut"] = (always["mean_s"] - row["mean_s"]) / overhead if overhead > 0 else float("nan")
        rows.append(row)
    rows.append({"policy": "always-RAG", "threshold": None, **always, "overhead_cut": 0.0})
    rows.append({"policy": "never-RAG", "threshold": None, **never, "overhead_cut": 1.0})
    return rows


def pick_threshold(rows: Sequence[dict], max_drop: float = 0.02) -> float:
    """The threshold (from a dev-set `sweep`) with the lowest mean latency whose accuracy is within
    `max_drop` of the best accuracy any policy in `rows` reaches (always-RAG, never-RAG or a gate).

    Usually always-RAG is that best; when retrieval *hurts* some queries (a context that distracts a
    format task), a gate can beat both. Ties go to the lower threshold (fewer retrievals).
    """
    if not any(r["policy"] == "always-RAG" for r in rows):
        raise ValueError("the rows need an always-RAG row: pass the output of speculative.sweep")
    best = max(r["accuracy"] for r in rows)
    ok = [r for r in rows if r["threshold"] is not None and r["accuracy"] >= best - max_drop]
    if not ok:
        return 1.0  # nothing is accurate enough: retrieve unless certain
    return min(ok, key=lambda r: (r["mean_s"], r["threshold"]))["threshold"]


# ---------------------------------------------------------------------------------------------
# Drafter-verifier (Wang et al. 2024)
# ---------------------------------------------------------------------------------------------

def document_subsets(hits: Sequence, n_drafts: int, per_draft: int) -> list[list]:
    """Split ranked hits into `n_drafts` subsets of `per_draft`, dealt round-robin (1st, 2nd, ... to
    different drafts), so each draft sees a different view and no draft gets only the weakest hits.

    The paper clusters the documents by embedding and samples one per cluster; dealing a ranked list
    is the simple stand-in. Fewer hits than needed: smaller subsets; no hits at all: ValueError.
    """
    if n_drafts < 1 or per_draft < 1:
        raise ValueError(f"n_drafts and per_draft must be >= 1, got {n_drafts} and {per_draft}")
    hits = list(hits)
    if not hits:
        raise ValueError("retrieval returned nothing, so there are no documents to draft from; "
                         "answer without context and say so")
    subsets = [[] for _ in range(n_drafts)]
    for i, hit in enumerate(hits[: n_drafts * per_draft]):
        subsets[i % n_drafts].append(hit)
    return [s for s in subsets if s]


def pick_draft(draft_logprobs: Sequence[Sequence[float]], verifier_logprobs: Sequence[Sequence[float]] | None = None,
               ) -> tuple[int, list[float]]:
    """The index of the best draft and every draft's score.

    A draft's score is the drafter's own confidence (geometric-mean token probability) times, when given,
    the verifier's (the likelihood the verifier assigns to the same answer). This is the product
    ``rho_draft * rho_verify`` of the paper, without its self-reflection term. Ties go to the earlier
    draft (the one built from the best-ranked documents). A draft with no tokens scores 0.
    """
    if not draft_logprobs:
        raise ValueError("no drafts to choose from")
    if verifier_logprobs is not None and len(verifier_logprobs) != len(draft_logprobs):
        raise ValueError(f"{len(draft_logprobs)} drafts but {len(verifier_logprobs)} verifier scores")
    scores = []
    for i, lp in enumerate(draft_logprobs):
        if not lp:
            scores.append(0.0)
            continue
        s = confidence(lp)
        if verifier_logprobs is not None:
            s *= confidence(verifier_logprobs[i]) if verifier_logprobs[i] else 0.0
        scores.append(s)
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return best, scores


# ---------------------------------------------------------------------------------------------
# Running the gate with the course's models
# ---------------------------------------------------------------------------------------------

def gated_answer(draft, search, answer_with, threshold: float, method: str = "mean") -> dict:
    """Answer one query through the gate; the production path.

    ``draft() -> (text, logprobs)`` answers without retrieval; ``search() -> hits`` retrieves;
    ``answer_with(hits) -> text`` answers from the hits. Below `threshold` (or when the draft has no
    tokens) the query retrieves. Fallbacks, each named in ``note``: retrieval finds nothing, or the RAG
    answer comes back empty -> the draft is returned; the draft is empty and so is everything after it
    -> ValueError (there is nothing to return).
    """
    threshold = check_threshold(threshold)
    text, logprobs = draft()
    conf = confidence(logprobs, method) if logprobs else None
    result = {"answer": text, "confidence": conf, "retrieved": False, "note": ""}
    if not route([conf], threshold)[0]:
        return result
    hits = search()
    if not hits:
        if not text.strip():
            raise ValueError("the draft is empty and retrieval found nothing: no answer to return")
        return result | {"note": "retrieval returned no documents: the model's own (unchecked) answer is returned"}
    answer = answer_with(hits)
    if not answer.strip():
        if not text.strip():
            raise ValueError("both the draft and the RAG answer are empty")
        return result | {"retrieved": True, "note": "the RAG answer was empty: the draft is returned"}
    return result | {"answer": answer, "retrieved": True, "hits": hits}


def model_calls(gen, task: str, item: dict, index, rag_gen=None, version: int = 1):
    """The three callables of ``gated_answer`` for one task item, wired to the course's models and index."""
    from . import generate, systems, tasks

    max_new = tasks.MAX_NEW_TOKENS[task]

    def draft():
        out = generate.generate(gen, [tasks.messages(task, item)], max_new_tokens=max_new, batch_size=1,
                                logprobs=True, progress=False)
        return out.texts[0], out.logprobs[0]

    def search():
        return systems.retrieve(index, task, [item])[0][0]

    def answer_with(hits):
        conv = tasks.messages(task, item, version=version, context=hits, max_words=systems.CONTEXT["max_words"])
        return generate.generate(rag_gen or gen, [conv], max_new_tokens=max_new, batch_size=1, progress=False).texts[0]

    return draft, search, answer_with


def measure(gen, task: str, items, index, rag_gen=None, version: int = 1, samples: int = 0, seed: int = 0,
            progress: bool = True) -> tuple[list[dict], list[dict]]:
    """Both paths for every item, one query at a time (as a server sees them), timed.

    Returns (drafts, rags): per item the draft's output, ``score``, ``seconds`` and ``confidence``
    (geometric-mean token probability; with ``samples > 0`` also ``agreement`` over that many sampled
    answers, whose extra time is in ``agreement_seconds``), and the RAG answer's output, ``score`` and
    ``seconds`` (retrieval included). `sweep` turns them into every threshold's outcome.
    """
    import time

    from . import data, generate, tasks
    from .progress import bar

    conn = data.analytics_db() if task == "sql" else None
    drafts, rags = [], []
    for item in bar(items, desc=f"{task}: draft + RAG", unit="query", disable=not progress):
        draft, search, answer_with = model_calls(gen, task, item, index, rag_gen, version)
        start = time.perf_counter()
        text, logprobs = draft()
        row = {"id": item["id"], "task": task, "output": text, "seconds": time.perf_counter() - start,
               "confidence": confidence(logprobs) if logprobs else None,
               "score": tasks.score(task, item, text, version=version, conn=conn)["score"]}
        if samples:
            start = time.perf_counter()
            sampled = generate.generate(gen, [tasks.messages(task, item)] * samples,
                                        max_new_tokens=tasks.MAX_NEW_TOKENS[task], batch_size=samples,
                                        temperature=0.7, seed=seed, progress=False).texts
            row |= {"agreement": agreement([text, *sampled]), "agreement_seconds": time.perf_counter() - start}
        drafts.append(row)
        start = time.perf_counter()
        hits = search()
        answer = answer_with(hits) if hits else text
        rags.append({"id": item["id"], "task": task, "output": answer, "seconds": time.perf_counter() - start,
                     "score": tasks.score(task, item, answer, version=version, conn=conn)["score"]})
    return drafts, rags


def measure_batched(gen, task: str, items, index, rag_gen=None, version: int = 1, samples: int = 0, seed: int = 0,
                    batch_size: int | None = None, progress: bool = True) -> tuple[list[dict], list[dict]]:
    """What ``measure`` returns, computed in batches: the same drafts, confidences, samples and RAG answers
    for many items at the throughput of batched generation, for choosing a threshold on a dev set.

    The ``seconds`` are *amortized* (each batch's wall time shared among its items), so they rank
    the two paths as one-at-a-time timings do (the RAG path's longer prompt costs more either way) but
    are not a server's latency: report latency from ``measure`` on the test queries. Every row says
    ``timing: "amortized"``.
    """
    import time

    from . import data, generate, systems, tasks

    items = list(items)
    if not items:
        raise ValueError(f"no {task} items to measure")
    batch = batch_size or generate.EVAL_BATCH_SIZE
    max_new = tasks.MAX_NEW_TOKENS[task]
    conn = data.analytics_db() if task == "sql" else None
    n = len(items)

    start = time.perf_counter()
    out = generate.generate(gen, [tasks.messages(task, it) for it in items], max_new_tokens=max_new,
                            batch_size=batch, logprobs=True, progress=progress)
    draft_s = (time.perf_counter() - start) / n
    drafts = [{"id": it["id"], "task": task, "output": text, "seconds": draft_s, "timing": "amortized",
               "confidence": confidence(lp) if lp else None,
               "score": tasks.score(task, it, text, version=version, conn=conn)["score"]}
              for it, text, lp in zip(items, out.texts, out.logprobs, strict=True)]
    if samples:
        start = time.perf_counter()
        sampled = generate.generate(gen, [tasks.messages(task, it) for it in items for _ in range(samples)],
                                    max_new_tokens=max_new, batch_size=batch, temperature=0.7, seed=seed,
                                    progress=progress).texts
        sample_s = (time.perf_counter() - start) / n
        for i, row in enumerate(drafts):
            row |= {"agreement": agreement([row["output"], *sampled[i * samples:(i + 1) * samples]]),
                    "agreement_seconds": sample_s}
    start = time.perf_counter()
    hits, _ = systems.retrieve(index, task, items)
    convs = [tasks.messages(task, it, version=version, context=h, max_words=systems.CONTEXT["max_words"])
             for it, h in zip(items, hits, strict=True)]
    answers = generate.generate(rag_gen or gen, convs, max_new_tokens=max_new, batch_size=batch,
                                progress=progress).texts
    rag_s = (time.perf_counter() - start) / n
    rags = []
    for it, h, answer, row in zip(items, hits, answers, drafts, strict=True):
        answer = answer if h else row["output"]  # nothing retrieved: the draft stands, as in measure
        rags.append({"id": it["id"], "task": task, "output": answer, "seconds": rag_s, "timing": "amortized",
                     "score": tasks.score(task, it, answer, version=version, conn=conn)["score"]})
    return drafts, rags


def gate_intervals(drafts: Sequence[dict], rags: Sequence[dict], threshold: float, key: str = "confidence",
                   n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """The gate at `threshold` against always-RAG on the same queries, with intervals over queries.

    ``overhead_cut``: the share of always-RAG's extra latency over never-RAG that the gate removes, with a
    percentile-bootstrap interval (queries resampled, the ratio recomputed; a resample where RAG adds no
    latency is skipped). ``accuracy_change``: the gate's accuracy minus always-RAG's, paired per query
    (``stats.paired``), and ``vs_never``: the gate minus never-RAG.
    """
    from . import stats

    if len(drafts) != len(rags):
        raise ValueError(f"{len(drafts)} drafts but {len(rags)} RAG answers: they must be the same queries")
    if not drafts:
        raise ValueError("no queries")
    flags = route([d.get(key) for d in drafts], threshold)
    gated = [gate_outcome(d, r, f) for d, r, f in zip(drafts, rags, flags, strict=True)]
    triples = [(r["seconds"], d["seconds"], g["seconds"]) for d, r, g in zip(drafts, rags, gated, strict=True)]

    def cut(sample):
        always = sum(t[0] for t in sample)
        never = sum(t[1] for t in sample)
        gate = sum(t[2] for t in sample)
        return (always - gate) / (always - never) if always > never else None

    point, *interval = stats.bootstrap_stat(triples, cut, n_boot=n_boot, level=level, seed=seed)
    return {"n": len(drafts), "threshold": threshold, "retrieved": sum(flags) / len(flags),
            "overhead_cut": point, "overhead_cut_low": interval[0], "overhead_cut_high": interval[1],
            "accuracy_change": stats.paired([r["score"] for r in rags], [g["score"] for g in gated],
                                            level=level, n_boot=n_boot, seed=seed),
            "vs_never": stats.paired([d["score"] for d in drafts], [g["score"] for g in gated],
                                     level=level, n_boot=n_boot, seed=seed)}


def draft_and_verify(drafter, verifier, task: str, item: dict, hits, n_drafts: int = 3, per_draft: int = 2,
                     version: int = 1) -> dict:
    """Wang et al.'s method for one query: drafts from document subsets in one batch, then a verifier picks.

    The drafter answers once per subset of `hits` (``document_subsets``); the verifier sees only the
    question and each draft (not the documents, as in the paper) and gives the likelihood it assigns
    to the draft; ``pick_draft`` multiplies that with the drafter's own confidence. Empty `hits`: the
    drafter answers without context and ``note`` says so.
    """
    import time

    from . import generate, systems, tasks

    start = time.perf_counter()
    max_new = tasks.MAX_NEW_TOKENS[task]
    if not hits:
        out = generate.generate(drafter, [tasks.messages(task, item)], max_new_tokens=max_new, batch_size=1,
                                progress=False)
        return {"answer": out.texts[0], "drafts": out.texts, "scores": [], "best": 0,
                "seconds": time.perf_counter() - start, "note": "no documents retrieved: answered without context"}
    subsets = document_subsets(hits, n_drafts, per_draft)
    words = systems.CONTEXT["max_words"] * per_draft // systems.CONTEXT["k"]
    convs = [tasks.messages(task, item, version=version, context=s, max_words=words) for s in subsets]
    drafts = generate.generate(drafter, convs, max_new_tokens=max_new, batch_size=len(convs), logprobs=True,
                               progress=False)
    scorable = [i for i, t in enumerate(drafts.texts) if t.strip()]
    verify = [[] for _ in drafts.texts]
    if scorable:
        question = tasks.messages(task, item)
        scored = generate.completion_logprobs(verifier, [question] * len(scorable),
                                              [drafts.texts[i] for i in scorable], batch_size=len(scorable))
        for i, lp in zip(scorable, scored, strict=True):
            verify[i] = lp
    best, scores = pick_draft(drafts.logprobs, verify)
    return {"answer": drafts.texts[best], "drafts": drafts.texts, "scores": scores, "best": best,
            "seconds": time.perf_counter() - start, "note": ""}
