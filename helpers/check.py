"""Self-checking exercises: the learner's answer against what the course's own helpers compute.

One function per exercise. Each takes the learner's answer (a value, or a function to test), prints
one verdict line, ``✓ Right: ...`` or ``✗ Not yet: <a hint>``, and returns True or False. A hint
says where to look, never what the answer is. An answer of the wrong type or shape raises a
TypeError or ValueError that says what the check expected.

=========================  ======  ===============================================================
check                      course  the exercise
=========================  ======  ===============================================================
``decision``               01      predict ``decide.recommend(...).recommendation``
``chunk_count``            02      predict how many chunks ``rag.chunk_article(..., "size", ...)`` makes
``chroma_where``           02      write a compound Chroma ``where`` filter
``rrf``                    03      write reciprocal rank fusion
``recall_at_k``            04      write recall@k
``fusion``                 04      fuse a third retriever into llama-index's ``QueryFusionRetriever``
``lora_parameters``        05      predict the trainable parameters of LoRA on SmolLM2-135M
``lora_model``             05      write LoRA on two projections with ``LoraConfig`` + ``get_peft_model``
``bootstrap_interval``     06, 08  write a percentile-bootstrap interval of a mean
``threshold``              07      pick the gate's threshold from a ``speculative.sweep``
``break_even``             09      predict the break-even volume of two stacks
=========================  ======  ===============================================================

Example::

    from helpers import check
    check.decision("RAG", "knowledge", "weekly", 200_000)   # prints ✓ Right: ... and returns True
    check.rrf(lambda rankings, k: [])                         # prints ✗ Not yet: <hint>, returns False
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Hashable, Mapping, Sequence

from . import costs, decide, evaluate, finetune, rag, speculative, systems

RIGHT, NOT_YET = "✓ Right: ", "✗ Not yet: "

# SmolLM2-135M (HuggingFaceTB/SmolLM2-135M-Instruct, config.json): 30 decoder layers, hidden size 576,
# 9 query heads and 3 key/value heads of 64 dimensions, an MLP of 1536. Each matrix LoRA can adapt,
# as (d_in, d_out): the query and output projections are 576 -> 576, key and value 576 -> 3 x 64 = 192.
SMOLLM2_135M_LAYERS = 30
LORA_SHAPES: dict[str, tuple[int, int]] = {
    "q_proj": (576, 576),
    "k_proj": (576, 192),
    "v_proj": (576, 192),
    "o_proj": (576, 576),
    "gate_proj": (576, 1536),
    "up_proj": (576, 1536),
    "down_proj": (1536, 576),
}


# ---------------------------------------------------------------------------------------------
# Plumbing: the verdict line, type names for error messages
# ---------------------------------------------------------------------------------------------

def _verdict(ok: bool, message: str) -> bool:
    print((RIGHT if ok else NOT_YET) + message)
    return ok


def _kind(value) -> str:
    """A short type description for error messages: 'int', 'list of str', 'dict'."""
    name = type(value).__name__
    if isinstance(value, list | tuple) and value:
        inner = sorted({type(v).__name__ for v in value})
        return f"{name} of {' and '.join(inner)}"
    return name


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _expect_function(fn, what: str) -> None:
    if not callable(fn):
        raise TypeError(f"{what}; got {_kind(fn)}")


# ---------------------------------------------------------------------------------------------
# 01 · decide: predict the recommendation
# ---------------------------------------------------------------------------------------------

def _decision_hint(gap: str, frequency: str, calls: float, shrink: float | None) -> str:
    """Which of the guide's rules settles this case, in words that do not name the recommendation."""
    when = "is static" if frequency == "static" else f"changes {frequency}"
    changing, stable = frequency in decide.CHANGING, frequency in decide.STABLE
    if gap == "unknown":
        if changing:
            return ("rules 4 and 2 decide: the failures are not profiled yet (rule 4: start simple, profile first), "
                    f"and knowledge that {when} stays out of the weights (rule 2).")
        return ("rule 4 decides: the failures are not profiled yet. The guide says what to start with, and "
                "keeps the other option for after the profile.")
    if gap == "knowledge":
        if not stable:
            return (f"rules 1 and 2 decide: a knowledge gap (missing facts), and knowledge that {when}. "
                    "Where do facts that change belong?")
        measured = "an unmeasured prompt shrink" if shrink is None else f"prompts {shrink:.0%} shorter"
        return (f"rule 3 (scale) decides: knowledge that {when} makes fine-tuning a candidate, but the guide "
                f"wants millions of calls a month and prompts at least 60% shorter; compare {calls:,.0f} calls "
                f"and {measured} with that bar.")
    if gap == "behaviour":
        if stable:
            return (f"rules 1 and 2 decide: a behaviour gap (format, tone, style), and knowledge that {when}. "
                    "Is there a fact left that must be retrieved at query time?")
        return (f"rules 1 and 2 decide: a behaviour gap calls for training, but knowledge that {when} must stay "
                "out of the weights. What keeps the facts fresh while the behaviour is trained?")
    return ("rule 1 decides: both gaps at once. The guide trains HOW to answer and retrieves WHAT to answer "
            "about, whatever the update frequency.")


def decision(answer: str, gap: str, update_frequency: str, monthly_calls: float,
             prompt_shrink: float | None = None) -> bool:
    """Exercise 01: is `answer` what ``decide.recommend(gap, update_frequency, monthly_calls, prompt_shrink)``
    recommends? `answer` is one of ``decide.RECOMMENDATIONS`` (case and spacing are forgiven)."""
    choices = list(decide.RECOMMENDATIONS)
    if not isinstance(answer, str):
        raise TypeError(f"check.decision expects a recommendation string, one of {choices}; got {_kind(answer)}")
    spelled = {r.lower(): r for r in choices}
    key = " ".join(answer.split()).lower()
    if key not in spelled:
        raise ValueError(f"check.decision expects one of {choices} (as spelled in decide.RECOMMENDATIONS); "
                         f"got {answer!r}")
    ref = decide.recommend(gap, update_frequency, monthly_calls, prompt_shrink)
    if spelled[key] == ref.recommendation:
        return _verdict(True, f"{ref.recommendation!r}. {ref.reasons[0]}")
    gap = "behaviour" if gap == "behavior" else gap
    return _verdict(False, _decision_hint(gap, update_frequency, float(monthly_calls), prompt_shrink))


# ---------------------------------------------------------------------------------------------
# 02 · chunking: predict the number of chunks
# ---------------------------------------------------------------------------------------------

def chunk_count(answer: int, article: Mapping, size: int, overlap: int) -> bool:
    """Exercise 02: is `answer` the number of chunks ``rag.chunk_article(article, "size", size, overlap)`` makes?"""
    if not _is_int(answer):
        raise TypeError(f"check.chunk_count expects a whole number of chunks (an int); got {_kind(answer)}")
    if not isinstance(article, Mapping) or not isinstance(article.get("text"), str):
        raise TypeError("check.chunk_count expects an article dict with a 'text' string (one item of "
                        f"data.load_corpus()); got {_kind(article)}")
    ref = len(rag.chunk_article(dict(article), "size", size, overlap))
    if answer == ref:
        return _verdict(True, f"{ref} chunks: windows of up to {size} words, neighbours sharing {overlap}.")
    way = "too many" if answer > ref else "too few"
    return _verdict(False, f"{way}. Count the words of the body (the text without its '# ' title line; "
                           "str.split() counts them), n. A body of at most `size` words is one chunk; otherwise "
                           "a window starts every `size - overlap` words (at 0, step, 2 x step, ...) for as long "
                           "as the start is below `n - overlap`.")


# ---------------------------------------------------------------------------------------------
# 02 · a compound Chroma filter: write it
# ---------------------------------------------------------------------------------------------

WHERE_TASK = ("public chunks (audience 'public') from the sections 'how-to' or 'troubleshooting', of corpus "
              "version 1")


def _where_wanted(metadata: Mapping) -> bool:
    return (metadata.get("audience") == "public" and metadata.get("section") in ("how-to", "troubleshooting")
            and metadata.get("version") == 1)


def chroma_where(where: Mapping, collection) -> bool:
    """Exercise 02: does the learner's `where` filter select exactly the chunks of ``WHERE_TASK`` from
    `collection` (a Chroma collection of the help centre)? Chroma itself applies the filter."""
    if not isinstance(where, Mapping) or not where:
        raise TypeError(f"check.chroma_where expects a non-empty dict, a Chroma `where` filter; got {_kind(where)}")
    if not callable(getattr(collection, "get", None)):
        raise TypeError(f"check.chroma_where expects the Chroma collection built in section 4; got {_kind(collection)}")
    everything = collection.get(include=["metadatas"])
    wanted = {i for i, m in zip(everything["ids"], everything["metadatas"], strict=True) if _where_wanted(m)}
    try:
        got = set(collection.get(where=dict(where), include=[])["ids"])
    except Exception as err:  # Chroma's own message says what is malformed
        return _verdict(False, f"Chroma refused the filter: {err}. Each condition is {{field: value}} or "
                               "{field: {'$op': value}}; several conditions go in a list under '$and' or '$or'.")
    if got == wanted:
        return _verdict(True, f"{len(got)} chunks: {WHERE_TASK}.")
    extra, missing = got - wanted, wanted - got
    if extra:
        sample = everything["metadatas"][everything["ids"].index(sorted(extra)[0])]
        field = next(f for f, ok in (("audience", sample.get("audience") == "public"),
                                     ("section", sample.get("section") in ("how-to", "troubleshooting")),
                                     ("version", sample.get("version") == 1)) if not ok)
        return _verdict(False, f"{len(extra)} chunks too many; one of them has {field}={sample.get(field)!r}. "
                               "Every condition must hold at once: combine them with '$and'.")
    return _verdict(False, f"{len(missing)} chunks missing. A chunk from either section counts: one condition "
                           "with '$in' and a list matches any of its values.")


# ---------------------------------------------------------------------------------------------
# 04 · a third retriever in llama-index's fusion
# ---------------------------------------------------------------------------------------------

FUSION_PROBE = "What does error CFX-4091 mean?"


def fusion(retriever, question: str = FUSION_PROBE) -> bool:
    """Exercise 04: is `retriever` a ``QueryFusionRetriever`` fusing three different retrievers by reciprocal rank,
    in which a chunk that two retrievers return is one chunk (the same hash), so its scores add up?"""
    try:
        from llama_index.core.retrievers import QueryFusionRetriever
    except ImportError as err:  # pragma: no cover - llama-index is in requirements.txt
        raise ImportError("check.fusion needs llama-index-core (make setup)") from err
    if not isinstance(retriever, QueryFusionRetriever):
        raise TypeError(f"check.fusion expects a llama-index QueryFusionRetriever; got {_kind(retriever)}")
    inner = list(getattr(retriever, "_retrievers", []))
    if len(inner) != 3:
        return _verdict(False, f"it fuses {len(inner)} retrievers; the exercise asks for three: the two of section 1 "
                               "and one more, in the list that is QueryFusionRetriever's first argument.")
    if len({id(getattr(r, 'inner', r)) for r in inner}) < 3:  # a canonical_retriever wrapper counts as what it wraps
        return _verdict(False, "the same retriever object appears twice in the list; build a new one for the third "
                               "place (another index, another similarity_top_k, another kind).")
    if str(getattr(retriever.mode, "value", retriever.mode)) != "reciprocal_rerank":
        return _verdict(False, f"mode={retriever.mode!r}: the course fuses by reciprocal rank, mode='reciprocal_rerank'.")
    hashes: dict[str, set] = {}
    for inner_retriever in inner:
        for n in inner_retriever.retrieve(question):
            hashes.setdefault(n.node.node_id, set()).add(n.node.hash)
    if not hashes:
        return _verdict(False, f"it returns nothing for {question!r}: is each retriever built over the help centre?")
    split = sorted(node_id for node_id, seen in hashes.items() if len(seen) > 1)
    if split:
        return _verdict(False, f"chunk {split[0]} comes back from two retrievers with different hashes (the metadata in "
                               "another key order), so the fusion counts it as two chunks and never adds up its scores: "
                               "wrap each retriever in pipeline.canonical_retriever, as in section 1.")
    ids = [n.node.node_id for n in retriever.retrieve(question)]
    return _verdict(True, f"three retrievers fused by reciprocal rank; {len(ids)} distinct chunks for {question!r}.")


# ---------------------------------------------------------------------------------------------
# 03 · reciprocal rank fusion: write it
# ---------------------------------------------------------------------------------------------

RRF_FORMULA = "score(id) = the sum over the rankings that hold it of 1 / (k + rank), rank 1 for a list's first id"
_RRF_CASES = (
    ("two rankings of the same ids", [["a", "b", "c"], ["b", "c", "a"]], RRF_FORMULA),
    ("an id in one ranking only", [["a", "b", "c", "d"], ["c", "e", "a"]],
     "an id missing from one ranking must still get its score from the other"),
    ("rankings of different lengths", [["a"], ["b", "c", "d", "e", "f"], ["f", "a"]],
     "each id's rank is its position in its own list, however long that list is, and every list counts"),
    ("a tie", [["a", "b"], ["b", "a"], ["c"]],
     "ids with equal scores are all kept, each with its full score (any order among them)"),
)
_RRF_EXPECTS = "check.rrf expects a function f(rankings, k) returning a list of (id, score) pairs"


def _pairs(result, expects: str) -> list[tuple]:
    if not isinstance(result, list | tuple):
        raise TypeError(f"{expects}; got {_kind(result)}")
    for item in result:
        if not isinstance(item, list | tuple) or len(item) != 2 or not isinstance(item[0], Hashable) \
                or not _is_number(item[1]):
            raise TypeError(f"{expects}; got {_kind(result)}, e.g. {item!r}")
    return [(doc_id, float(score)) for doc_id, score in result]


def _rrf_problem(got: list[tuple], want: list[tuple]) -> str | None:
    ids = [doc_id for doc_id, _ in got]
    if len(set(ids)) != len(ids):
        return "an id appears more than once in your result: give each id once, with its summed score"
    scores, wanted = dict(got), dict(want)
    missing = sorted((doc_id for doc_id in wanted if doc_id not in scores), key=str)
    if missing:
        return f"your result leaves out {missing}"
    extra = sorted((doc_id for doc_id in scores if doc_id not in wanted), key=str)
    if extra:
        return f"your result has {extra}, which no ranking holds"
    off = sorted((doc_id for doc_id in wanted if abs(scores[doc_id] - wanted[doc_id]) > 1e-9), key=str)
    if off:
        return f"the scores of {off} are off"
    if any(a[1] < b[1] - 1e-12 for a, b in zip(got, got[1:], strict=False)):
        return "the scores are right but not in order: sort the pairs by score, highest first"
    return None


def rrf(fn: Callable, k: int = 60) -> bool:
    """Exercise 03: does ``fn(rankings, k)`` fuse rankings like ``rag.reciprocal_rank_fusion``?

    It is run on fixed rankings (ids in one ranking only, lists of different lengths, a tie) and once
    with another `k`; ids and scores (to 1e-9) must match, sorted by score (tied ids in any order).
    """
    _expect_function(fn, _RRF_EXPECTS)
    if not _is_int(k) or k < 1:
        raise ValueError(f"check.rrf expects k, the RRF constant, as a positive int; got {k!r}")
    other_k = 1 if k != 1 else 60
    cases = [(name, rankings, k, hint) for name, rankings, hint in _RRF_CASES]
    cases.append(("another k", [["a", "b", "c"], ["c", "a"]], other_k,
                  f"use the k you are given (here k={other_k}), not a constant written into the function"))
    for name, rankings, kk, hint in cases:
        try:
            result = fn([list(r) for r in rankings], kk)
        except Exception as exc:  # the learner's code failed: a hint, not a traceback
            return _verdict(False, f"on the case '{name}' (rankings {rankings}, k={kk}) your function raised "
                                   f"{type(exc).__name__}: {exc}")
        problem = _rrf_problem(_pairs(result, _RRF_EXPECTS), rag.reciprocal_rank_fusion(rankings, kk))
        if problem:
            return _verdict(False, f"case '{name}' (rankings {rankings}, k={kk}): {problem}. Hint: {hint}.")
    return _verdict(True, f"your fusion matches rag.reciprocal_rank_fusion on {len(cases)} cases "
                          "(ids in one ranking only, different lengths, a tie, another k).")


# ---------------------------------------------------------------------------------------------
# 04 · recall@k: write it
# ---------------------------------------------------------------------------------------------

_RECALL_CASES = (
    ("only the first k count", ["x", "a", "b", "c"], ["a", "c"], 2,
     "recall@k = (gold ids among the first k retrieved ids) / (number of gold ids)"),
    ("a gold id retrieved twice", ["a", "a", "b", "x"], ["a", "c"], 3,
     "a gold id retrieved twice is still one gold id found: count distinct ids (a set)"),
    ("a gold id listed twice", ["a", "b", "c"], ["a", "d", "a"], 3,
     "the gold list may repeat an id; divide by the number of distinct gold ids"),
    ("k larger than the list", ["a", "b"], ["b", "c"], 10,
     "when k is larger than the list, the whole list counts (slicing past the end is fine)"),
    ("no gold id retrieved", ["a", "b", "c"], ["x", "y"], 3,
     "when no gold id is retrieved, recall is 0.0, not an error"),
    ("every gold id found", ["b", "a", "x"], ["a", "b"], 2, "all gold ids in the first k give 1.0"),
)
_RECALL_EXPECTS = "check.recall_at_k expects a function f(retrieved_ids, gold_ids, k) returning a number in [0, 1]"


def recall_at_k(fn: Callable) -> bool:
    """Exercise 04: does ``fn(retrieved_ids, gold_ids, k)`` agree with ``evaluate.recall_at_k``?

    Fixed cases: a cut at k, a duplicate in the ranking, a gold id listed twice, k larger than the
    list, no gold hit, everything found. Values must match to 1e-9.
    """
    _expect_function(fn, _RECALL_EXPECTS)
    for name, retrieved, gold, k, hint in _RECALL_CASES:
        try:
            got = fn(list(retrieved), list(gold), k)
        except Exception as exc:
            return _verdict(False, f"on the case '{name}' (retrieved {retrieved}, gold {gold}, k={k}) your "
                                   f"function raised {type(exc).__name__}: {exc}")
        if not _is_number(got):
            raise TypeError(f"{_RECALL_EXPECTS}; got {_kind(got)}")
        if abs(float(got) - evaluate.recall_at_k(retrieved, gold, k)) > 1e-9:
            return _verdict(False, f"case '{name}' (retrieved {retrieved}, gold {gold}, k={k}): your function "
                                   f"gives {float(got):g}. Hint: {hint}.")
    return _verdict(True, f"your recall@k matches evaluate.recall_at_k on {len(_RECALL_CASES)} cases "
                          "(duplicates, k past the end, no gold hit).")


# ---------------------------------------------------------------------------------------------
# 05 · LoRA: predict the trainable parameters
# ---------------------------------------------------------------------------------------------

def _check_modules(target_modules) -> tuple[str, ...]:
    if isinstance(target_modules, str) or not isinstance(target_modules, Sequence | set | frozenset):
        raise TypeError("check.lora_parameters expects target_modules as a list of module names, e.g. "
                        f"('q_proj', 'v_proj'); got {_kind(target_modules)}")
    unknown = [m for m in target_modules if m not in LORA_SHAPES]
    if unknown or not target_modules:
        raise ValueError(f"check.lora_parameters: target_modules must be some of {list(LORA_SHAPES)}; "
                         f"got {list(target_modules)}")
    return tuple(dict.fromkeys(target_modules))


def _lora_count(r: int, modules: Sequence[str], shapes: Mapping[str, tuple[int, int]] = LORA_SHAPES,
                layers: int = SMOLLM2_135M_LAYERS) -> int:
    """LoRA's trainable parameters: per layer, r x (d_in + d_out) for each adapted matrix."""
    return layers * sum(r * (shapes[m][0] + shapes[m][1]) for m in modules)


def lora_shapes(config=None) -> tuple[dict[str, tuple[int, int]], int]:
    """Each LoRA target matrix's (d_in, d_out) and the number of decoder layers, read from a transformers config
    (or a model, or a PeftModel); None gives SmolLM2-135M's (:data:`LORA_SHAPES`, 30 layers).

    So the checkers judge the model in hand on any tier: Qwen2.5-7B (hidden 3584, 28 heads, 4 key/value heads,
    MLP 18944, 28 layers) trains 40,370,176 parameters with r=16 on all seven modules."""
    if config is None:
        return dict(LORA_SHAPES), SMOLLM2_135M_LAYERS
    if hasattr(config, "get_base_model"):
        config = config.get_base_model()
    config = getattr(config, "config", config)
    try:
        hidden, inter, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
        heads = config.num_attention_heads
    except AttributeError as err:
        raise TypeError(f"expected a transformers config or model of a decoder (hidden_size, intermediate_size, "
                        f"num_hidden_layers, num_attention_heads); {err}") from None
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    kv = (getattr(config, "num_key_value_heads", None) or heads) * head_dim
    shapes = {"q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv), "v_proj": (hidden, kv),
              "o_proj": (heads * head_dim, hidden), "gate_proj": (hidden, inter), "up_proj": (hidden, inter),
              "down_proj": (inter, hidden)}
    return shapes, layers


def lora_parameters(answer: int, r: int, target_modules: Sequence[str] = finetune.TARGET_MODULES,
                    config=None) -> bool:
    """Exercise 05: is `answer` the number of parameters LoRA of rank `r` on `target_modules` trains in the
    model of `config` (a transformers config or model; None: SmolLM2-135M, the CPU tier's)? Computed from its
    shapes (:func:`lora_shapes`); the course measured 4,884,480 for r=16 on all seven modules of SmolLM2-135M."""
    if not _is_number(answer):
        raise TypeError(f"check.lora_parameters expects a number of parameters (an int); got {_kind(answer)}")
    if not _is_int(r) or r < 1:
        raise ValueError(f"check.lora_parameters expects the LoRA rank r as a positive int; got {r!r}")
    modules = _check_modules(target_modules)
    shapes, layers = lora_shapes(config)
    ref = _lora_count(r, modules, shapes, layers)
    if answer == ref:
        return _verdict(True, f"{ref:,} trainable parameters: {layers} layers x r={r} x the sum of "
                              f"d_in + d_out over {len(modules)} matrices.")
    hidden = shapes["q_proj"][0]
    square_kv = {**shapes, "k_proj": (hidden, hidden), "v_proj": (hidden, hidden)}
    if answer == ref / layers:
        why = f"that is one layer's worth; the model has {layers} decoder layers"
    elif answer == _lora_count(r, modules, square_kv, layers) and {"k_proj", "v_proj"} & set(modules) \
            and shapes["k_proj"][1] != hidden:
        why = (f"k_proj and v_proj are not square: fewer key/value heads make them {hidden} -> {shapes['k_proj'][1]} "
               "(grouped-query attention)")
    elif answer == layers * sum(shapes[m][0] * shapes[m][1] for m in modules):
        why = "that counts the frozen matrices d_in x d_out; LoRA trains A (d_in x r) and B (r x d_out) beside them"
    elif ref and abs(answer - ref) / ref <= 0.01:
        why = "close, but a parameter count is exact"
    else:
        why = "not this count"
    return _verdict(False, f"{why}. Per layer, each adapted matrix gets r x (d_in + d_out) parameters; add "
                           "them over the target modules (shapes: check.lora_shapes) and multiply by the "
                           f"{layers} layers.")



def lora_model(model, r: int = 8, target_modules: Sequence[str] = ("q_proj", "v_proj")) -> bool:
    """Exercise 05: is `model` SmolLM2-135M with LoRA of rank `r` on `target_modules` alone, built with
    ``peft.LoraConfig`` and ``peft.get_peft_model``, and does it train exactly LoRA's parameters?"""
    if not _is_int(r) or r < 1:
        raise ValueError(f"check.lora_model expects the LoRA rank r as a positive int; got {r!r}")
    modules = _check_modules(target_modules)
    config = getattr(model, "peft_config", None)
    if not isinstance(config, Mapping) or not config or not hasattr(model, "parameters"):
        raise TypeError(f"check.lora_model expects the model get_peft_model returns (a PeftModel); got {_kind(model)}")
    lora = next(iter(config.values()))
    if getattr(lora, "peft_type", None) is not None and str(getattr(lora.peft_type, "value", lora.peft_type)) != "LORA":
        return _verdict(False, f"its adapter is {lora.peft_type}, not LoRA: pass a peft.LoraConfig to get_peft_model.")
    if lora.r != r:
        return _verdict(False, f"its rank is r={lora.r}; the exercise asks for r={r} (LoraConfig's first setting).")
    chosen = lora.target_modules
    chosen = {chosen} if isinstance(chosen, str) else set(chosen or ())
    if chosen != set(modules):
        missing, extra = sorted(set(modules) - chosen), sorted(chosen - set(modules))
        parts = ([f"add {missing}"] if missing else []) + ([f"drop {extra}"] if extra else [])
        return _verdict(False, f"target_modules is {sorted(chosen)}: {' and '.join(parts)} (names of the projections "
                               "in each decoder layer, as print(model) shows them).")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    shapes, layers = lora_shapes(model)  # the model in hand: SmolLM2 on a CPU, the tier's model on a GPU
    expected = _lora_count(r, modules, shapes, layers)
    if trainable != expected:
        return _verdict(False, f"it trains {trainable:,} parameters where LoRA of r={r} on {sorted(modules)} trains "
                               f"{expected:,}: is another part of the model unfrozen (modules_to_save, a bias)?")
    return _verdict(True, f"LoRA r={r} on {sorted(modules)}: {trainable:,} trainable parameters, "
                          f"{trainable / _lora_count(16, finetune.TARGET_MODULES, shapes, layers):.1%} of the course's "
                          "adapter.")

# ---------------------------------------------------------------------------------------------
# 06 / 08 · bootstrap: write a percentile interval
# ---------------------------------------------------------------------------------------------

def _fixed_values(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.random(), 3) for _ in range(n)]


BOOTSTRAP_TOLERANCE = 0.03  # two bootstrap runs of 2,000 resamples with different RNGs differ by ~0.005
_BOOT_EXPECTS = "check.bootstrap_interval expects a function f(values, n, seed) returning (low, high)"


def _interval(fn: Callable, values: list[float], n: int, seed: int) -> tuple[float, float] | str:
    try:
        result = fn(list(values), n, seed)
    except Exception as exc:
        return f"on {len(values)} values with n={n}, seed={seed} your function raised {type(exc).__name__}: {exc}"
    if not isinstance(result, list | tuple) or not all(_is_number(x) for x in result):
        raise TypeError(f"{_BOOT_EXPECTS}; got {_kind(result)}")
    if len(result) != 2:
        raise ValueError(f"{_BOOT_EXPECTS}; got {len(result)} numbers"
                         + (": return only (low, high), without the mean" if len(result) == 3 else ""))
    return float(result[0]), float(result[1])


def bootstrap_interval(fn: Callable) -> bool:
    """Exercise 06 / 08: is ``fn(values, n, seed) -> (low, high)`` a 95% percentile-bootstrap interval of
    the mean? It must contain the mean, be within 0.03 of ``systems.bootstrap_ci`` on fixed data
    (n=2000), give the same interval for the same seed, and narrow with four times the data."""
    _expect_function(fn, _BOOT_EXPECTS)
    values, more = _fixed_values(50, 7), _fixed_values(200, 8)
    got = _interval(fn, values, 2000, 0)
    if isinstance(got, str):
        return _verdict(False, got)
    low, high = got
    mean, ref_low, ref_high = systems.bootstrap_ci(values, n=2000, seed=0)
    recipe = ("Draw n resamples of the values (same size, with replacement), take each one's mean, and read "
              "the 2.5th and 97.5th percentiles of those means")
    if low > high:
        return _verdict(False, f"low is above high: return (low, high) in that order. {recipe}.")
    if not low <= mean <= high:
        return _verdict(False, f"the interval does not contain the mean of the values. {recipe}.")
    if abs(low - ref_low) > BOOTSTRAP_TOLERANCE or abs(high - ref_high) > BOOTSTRAP_TOLERANCE:
        width, ref_width = high - low, ref_high - ref_low
        if width > 1.5 * ref_width:
            why = "much wider than a 95% interval of the mean: percentiles of the values themselves?"
        elif width < ref_width / 1.5:
            why = "much narrower than a 95% interval of the mean: a resample must be as large as the data"
        else:
            why = "about the right width but off centre, or at other percentiles than 2.5 and 97.5"
        return _verdict(False, f"{why} {recipe}.")
    again = _interval(fn, values, 2000, 0)
    if isinstance(again, str):
        return _verdict(False, again)
    if again != got:
        return _verdict(False, "the same seed gave a different interval: seed your random generator with "
                               "`seed` (random.Random(seed) or numpy.random.default_rng(seed)).")
    wide = _interval(fn, more, 2000, 0)
    if isinstance(wide, str):
        return _verdict(False, wide)
    if wide[1] - wide[0] > 0.75 * (high - low):
        return _verdict(False, "with four times the data the interval should be about half as wide: resample "
                               "the whole list each time, not a fixed number of items.")
    return _verdict(True, f"on the check's {len(values)} fixed values your interval ({low:.3f}, {high:.3f}) holds "
                          f"the mean {mean:.3f}, is within {BOOTSTRAP_TOLERANCE} of systems.bootstrap_ci, is "
                          "reproducible, and narrows with more data.")


# ---------------------------------------------------------------------------------------------
# 07 · the confidence gate: pick a threshold
# ---------------------------------------------------------------------------------------------

_ROWS_EXPECTS = ("check.threshold expects `rows` as returned by speculative.sweep: a list of dicts with "
                 "'policy', 'threshold', 'accuracy' and 'mean_s', including the 'always-RAG' row")


def _check_rows(rows) -> tuple[dict, list[dict]]:
    if hasattr(rows, "to_dict") and not isinstance(rows, Mapping):
        raise TypeError(f"{_ROWS_EXPECTS}; got a {type(rows).__name__} (pass df.to_dict('records'))")
    if not isinstance(rows, list | tuple) or not all(isinstance(r, Mapping) for r in rows):
        raise TypeError(f"{_ROWS_EXPECTS}; got {_kind(rows)}")
    if any(not {"policy", "threshold", "accuracy", "mean_s"} <= set(r) for r in rows):
        raise ValueError(f"{_ROWS_EXPECTS}; some row lacks one of those keys")
    always = next((r for r in rows if r["policy"] == "always-RAG"), None)
    gates = [r for r in rows if r["threshold"] is not None]
    if always is None or not gates:
        raise ValueError(f"{_ROWS_EXPECTS}; got {len(gates)} gate rows and "
                         f"{'an' if always else 'no'} always-RAG row")
    return always, gates


def threshold(answer: float, rows: Sequence[Mapping], max_drop: float = 0.02) -> bool:
    """Exercise 07: is `answer` a threshold of the sweep whose accuracy is within `max_drop` of the best
    policy's (usually always-RAG; ``speculative.pick_threshold``'s rule)?

    Any such threshold is right; the one ``speculative.pick_threshold`` would pick (the fastest) gets a
    note. When no threshold in the sweep is accurate enough, the right answer is to retrieve unless
    certain (1.0), as ``pick_threshold`` does.
    """
    if not _is_number(answer):
        raise TypeError("check.threshold expects a threshold, a number in [0, 1] from the sweep's 'threshold' "
                        f"column; got {_kind(answer)}")
    if not _is_number(max_drop) or not 0 <= max_drop <= 1:
        raise ValueError(f"check.threshold expects max_drop as a share of accuracy in [0, 1]; got {max_drop!r}")
    always, gates = _check_rows(rows)
    best = max(r["accuracy"] for r in rows)
    floor = best - max_drop
    good = [r for r in gates if r["accuracy"] >= floor]
    if not good:
        if math.isclose(answer, speculative.pick_threshold(rows, max_drop), abs_tol=1e-9):
            return _verdict(True, f"no threshold in the sweep keeps accuracy within {max_drop:.0%} of the best policy, "
                                  "so the gate retrieves unless the model is certain.")
        return _verdict(False, f"no threshold in this sweep keeps accuracy within {max_drop:.0%} of the best policy. "
                               "What should the gate do when it cannot trust any confidence?")
    row = next((r for r in gates if math.isclose(r["threshold"], answer, abs_tol=1e-9)), None)
    if row is None:
        return _verdict(False, "that threshold is not in the sweep: pick one of the rows' 'threshold' values, "
                               "so its accuracy and latency were measured.")
    if row["accuracy"] < floor:
        return _verdict(False, f"at that threshold accuracy is {row['accuracy']:.0%}, more than {max_drop:.0%} "
                               f"below the best policy's {best:.0%}. Look at where the accuracy curve drops "
                               "as the threshold changes.")
    fastest = min(r["mean_s"] for r in good)
    note = (", and it is the fastest of those that qualify" if math.isclose(row["mean_s"], fastest, rel_tol=1e-9)
            else "; a faster threshold qualifies too (lower mean latency, accuracy still within the budget)")
    return _verdict(True, f"accuracy {row['accuracy']:.0%} against the best policy's {best:.0%} "
                          f"(within {max_drop:.0%}), retrieving for {row.get('retrieved', float('nan')):.0%} "
                          f"of queries{note}.")


# ---------------------------------------------------------------------------------------------
# 09 · costs: predict the break-even volume
# ---------------------------------------------------------------------------------------------

def break_even(answer: float | None, workload: costs.Workload | None = None, prices: costs.Prices | None = None,
               a: str = "RAG", b: str = "FT self-hosted") -> bool:
    """Exercise 09: is `answer` (calls a month) within 1% of ``costs.break_even_volume(a, b, workload, prices)``?
    Answer None when the two stacks never cross (up to a billion calls a month)."""
    if answer is not None and not _is_number(answer):
        raise TypeError("check.break_even expects a monthly volume (a number of calls a month), or None when "
                        f"the two stacks never cross; got {_kind(answer)}")
    if answer is not None and not (math.isfinite(answer) and answer > 0):
        raise ValueError(f"check.break_even expects a positive number of calls a month; got {answer!r}")
    ref = costs.break_even_volume(a, b, workload, prices)
    if ref.volume is None:
        if answer is None:
            return _verdict(True, f"they never cross: {ref.reason}.")
        return _verdict(False, f"compare {a} and {b} at a small and at a very large volume "
                               "(costs.monthly_costs): do their costs ever meet?")
    if answer is None:
        return _verdict(False, f"{a} and {b} do cross below a billion calls a month: set their monthly totals "
                               "equal and solve for the volume.")
    if abs(answer - ref.volume) <= 0.01 * ref.volume:
        return _verdict(True, f"{ref.reason} (yours: {answer:,.0f}, within 1%).")
    at = costs.monthly_costs(answer, workload, prices)
    return _verdict(False, f"at {answer:,.0f} calls a month {a} costs ${at[a]:,.2f} and {b} ${at[b]:,.2f}, not "
                           "the same yet. Write each total as fixed + per call x volume (costs.breakdowns "
                           "shows the parts), set the two equal and solve; then check the volume still fits "
                           "the number of GPUs you assumed.")
