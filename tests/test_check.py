"""helpers.check: a right answer passes, a wrong one fails with a hint that does not give the answer away,
and an answer of the wrong type or shape raises an error that says what was expected."""

from __future__ import annotations

import random

import pytest

from helpers import check, costs, data, decide, finetune, rag, speculative, systems

# ---------------------------------------------------------------------------------------------
# Reference-style solutions (what a learner might write) and the starters a notebook gives
# ---------------------------------------------------------------------------------------------


def good_rrf(rankings, k=60):
    scores = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1 / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def good_recall(retrieved_ids, gold_ids, k):
    gold = set(gold_ids)
    return len(gold & set(retrieved_ids[:k])) / len(gold)


def good_bootstrap(values, n=2000, seed=0):
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=len(values))) / len(values) for _ in range(n))
    return means[int(0.025 * (n - 1))], means[int(0.975 * (n - 1))]


def numpy_bootstrap(values, n=2000, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    means = rng.choice(np.asarray(values), size=(n, len(values))).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def sweep_rows():
    """Ten hand-made queries: always-RAG is 90% accurate; thresholds 0.8 and 1.0 keep that, 0.8 is faster."""
    confidences = [0.95, 0.9, 0.85, 0.7, 0.65, 0.5, 0.45, 0.3, 0.2, 0.1]
    draft_scores = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0]
    rag_scores = [1, 1, 1, 1, 1, 1, 1, 0, 1, 1]
    drafts = [{"score": s, "seconds": 0.2, "confidence": c} for s, c in zip(draft_scores, confidences, strict=True)]
    rags = [{"score": s, "seconds": 1.0} for s in rag_scores]
    return speculative.sweep(drafts, rags, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


def verdict(capsys) -> str:
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"one verdict line, got {out!r}"
    return out


def wrong(capsys, *hidden) -> str:
    out = verdict(capsys)
    assert out.startswith(check.NOT_YET), out
    for value in hidden:
        assert str(value) not in out, f"the hint gives away {value!r}: {out}"
    return out


def right(capsys) -> str:
    out = verdict(capsys)
    assert out.startswith(check.RIGHT), out
    return out


# ---------------------------------------------------------------------------------------------
# 01 decision
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gap", decide.GAPS)
def test_decision_every_case(gap, capsys):
    for frequency in costs.FREQUENCIES:
        for calls, shrink in ((100_000, None), (5_000_000, 0.65)):
            ref = decide.recommend(gap, frequency, calls, shrink).recommendation
            assert check.decision(ref, gap, frequency, calls, shrink) is True
            right(capsys)
            for other in decide.RECOMMENDATIONS:
                if other != ref:
                    assert check.decision(other, gap, frequency, calls, shrink) is False
                    out = wrong(capsys, ref)
                    assert "rule" in out, out


def test_decision_forgives_case_and_spacing(capsys):
    assert check.decision("  ft+rag   (HYBRID) ", "both", "weekly", 200_000) is True
    assert check.decision("RAG", "knowledge", "weekly", 200_000, prompt_shrink=0.65) is True


def test_decision_bad_answers():
    with pytest.raises(TypeError, match="check.decision expects a recommendation string.*got int"):
        check.decision(1, "knowledge", "weekly", 200_000)
    with pytest.raises(ValueError, match="check.decision expects one of"):
        check.decision("retrieval", "knowledge", "weekly", 200_000)
    with pytest.raises(ValueError, match="unknown gap"):
        check.decision("RAG", "facts", "weekly", 200_000)


# ---------------------------------------------------------------------------------------------
# 02 chunk_count
# ---------------------------------------------------------------------------------------------

def test_chunk_count(capsys):
    article = data.load_corpus(1)[0]
    for size, overlap in ((60, 10), (120, 30), (1000, 0)):
        ref = len(rag.chunk_article(article, "size", size, overlap))
        assert check.chunk_count(ref, article, size, overlap) is True
        right(capsys)
        for guess in (ref - 1, ref + 1):
            assert check.chunk_count(guess, article, size, overlap) is False
            out = wrong(capsys, ref)
            assert "size - overlap" in out


def test_chunk_count_by_hand(capsys):
    """The windows formula of the hint: 100 words, size 40, overlap 10 -> windows at 0, 30, 60."""
    article = {"id": "KB-1", "title": "T", "text": "# T\n" + " ".join(f"w{i}" for i in range(100))}
    assert check.chunk_count(3, article, 40, 10) is True


def test_chunk_count_bad_answers():
    article = data.load_corpus(1)[0]
    with pytest.raises(TypeError, match="expects a whole number of chunks.*got float"):
        check.chunk_count(2.5, article, 60, 10)
    with pytest.raises(TypeError, match="expects a whole number of chunks.*got bool"):
        check.chunk_count(True, article, 60, 10)
    with pytest.raises(TypeError, match="expects an article dict.*got str"):
        check.chunk_count(3, "KB-100", 60, 10)


# ---------------------------------------------------------------------------------------------
# 03 rrf
# ---------------------------------------------------------------------------------------------

def test_rrf_right(capsys):
    assert check.rrf(good_rrf) is True
    right(capsys)
    assert check.rrf(rag.reciprocal_rank_fusion, k=5) is True
    right(capsys)


def test_rrf_accepts_any_order_among_ties(capsys):
    def ties_by_id(rankings, k):  # equal scores in reverse id order (the reference keeps first-seen order)
        by_id = sorted(good_rrf(rankings, k), key=lambda pair: pair[0], reverse=True)
        return sorted(by_id, key=lambda pair: -pair[1])

    assert check.rrf(ties_by_id) is True


@pytest.mark.parametrize(("fn", "needle"), [
    (lambda rankings, k: [], "leaves out"),
    (lambda rankings, k: [p for p in good_rrf(rankings, k) if all(p[0] in r for r in rankings)],
     "missing from one ranking must still get its score"),
    (lambda rankings, k: good_rrf(rankings, 60), "use the k you are given"),
    (lambda rankings, k: sorted(good_rrf(rankings, k), key=lambda p: p[1]), "highest first"),
    (lambda rankings, k: [(d, 1 / (k + r)) for r, d in enumerate(dict.fromkeys(x for rk in rankings for x in rk), 1)],
     "are off"),
    (lambda rankings, k: 1 / 0, "raised ZeroDivisionError"),
])
def test_rrf_wrong(fn, needle, capsys):
    assert check.rrf(fn) is False
    out = wrong(capsys)
    assert needle in out, out
    for _, rankings, _ in check._RRF_CASES:  # no reference score is printed
        for _, score in rag.reciprocal_rank_fusion(rankings):
            assert f"{score:.4f}" not in out


def test_rrf_bad_shapes():
    with pytest.raises(TypeError, match=r"check.rrf expects a function f\(rankings, k\) returning a list of "
                                        r"\(id, score\) pairs; got int"):
        check.rrf(3)
    with pytest.raises(TypeError, match="list of \\(id, score\\) pairs; got dict"):
        check.rrf(lambda rankings, k: dict(good_rrf(rankings, k)))
    with pytest.raises(TypeError, match="pairs; got list of str"):
        check.rrf(lambda rankings, k: [d for d, _ in good_rrf(rankings, k)])
    with pytest.raises(ValueError, match="positive int"):
        check.rrf(good_rrf, k=0)


# ---------------------------------------------------------------------------------------------
# 04 recall_at_k
# ---------------------------------------------------------------------------------------------

def test_recall_right(capsys):
    assert check.recall_at_k(good_recall) is True
    right(capsys)


@pytest.mark.parametrize(("fn", "needle"), [
    (lambda r, g, k: 0.0, "only the first k count"),
    (lambda r, g, k: sum(x in g for x in r[:k]) / len(set(g)), "retrieved twice"),
    (lambda r, g, k: len(set(g) & set(r[:k])) / len(g), "listed twice"),
    (lambda r, g, k: len(set(g) & {r[i] for i in range(k)}) / len(set(g)), "raised IndexError"),
    (lambda r, g, k: len(set(g) & set(r)) / len(set(g)), "only the first k count"),
])
def test_recall_wrong(fn, needle, capsys):
    assert check.recall_at_k(fn) is False
    out = wrong(capsys)
    assert needle in out, out


def test_recall_bad_shapes():
    with pytest.raises(TypeError, match=r"check.recall_at_k expects a function f\(retrieved_ids, gold_ids, k\)"
                                        r".*got list"):
        check.recall_at_k([0.5])
    with pytest.raises(TypeError, match="returning a number in \\[0, 1\\]; got NoneType"):
        check.recall_at_k(lambda r, g, k: None)


# ---------------------------------------------------------------------------------------------
# 05 lora_parameters
# ---------------------------------------------------------------------------------------------

def test_lora_formula_matches_the_measured_count():
    """Notebook 05 measured 4,884,480 trainable parameters for r=16 on all seven modules (PEFT on CPU)."""
    per_layer = sum(16 * (d_in + d_out) for d_in, d_out in check.LORA_SHAPES.values())
    assert check.SMOLLM2_135M_LAYERS * per_layer == 4_884_480
    assert check._lora_count(16, finetune.TARGET_MODULES) == 4_884_480
    assert set(check.LORA_SHAPES) == set(finetune.TARGET_MODULES)


def test_lora_right(capsys):
    assert check.lora_parameters(4_884_480, 16) is True
    right(capsys)
    assert check.lora_parameters(2_442_240, 8) is True
    assert check.lora_parameters(30 * 8 * (576 + 576 + 576 + 192), 8, ("q_proj", "v_proj")) is True


@pytest.mark.parametrize(("answer", "needle"), [
    (0, "not this count"),
    (4_884_480 // 30, "30 decoder layers"),
    (30 * 16 * (1152 * 4 + 2112 * 3), "576 -> 192"),
    (4_900_000, "close, but"),
])
def test_lora_wrong(answer, needle, capsys):
    assert check.lora_parameters(answer, 16) is False
    out = wrong(capsys, 4_884_480, "4,884,480")
    assert needle in out, out


def test_lora_bad_shapes():
    with pytest.raises(TypeError, match="expects a number of parameters \\(an int\\); got str"):
        check.lora_parameters("4.9M", 16)
    with pytest.raises(ValueError, match="rank r as a positive int"):
        check.lora_parameters(100, 0)
    with pytest.raises(TypeError, match="target_modules as a list of module names"):
        check.lora_parameters(100, 8, "q_proj")
    with pytest.raises(ValueError, match="must be some of"):
        check.lora_parameters(100, 8, ["q_proj", "lm_head"])


# ---------------------------------------------------------------------------------------------
# 06 / 08 bootstrap_interval
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [good_bootstrap, numpy_bootstrap])
def test_bootstrap_right(fn, capsys):
    assert check.bootstrap_interval(fn) is True
    right(capsys)


def _values_percentiles(values, n, seed):
    ordered = sorted(values)
    return ordered[int(0.025 * (len(ordered) - 1))], ordered[int(0.975 * (len(ordered) - 1))]


def _shifted(values, n, seed):
    low, high = good_bootstrap(values, n, seed)
    return low + 0.04, high + 0.04


def _too_large_resamples(values, n, seed):
    return good_bootstrap(values * 4, n, seed)


def _unseeded(values, n, seed):
    return good_bootstrap(values, n, random.random())


def _fixed_size(values, n, seed):
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=50)) / 50 for _ in range(n))
    return means[int(0.025 * (n - 1))], means[int(0.975 * (n - 1))]


@pytest.mark.parametrize(("fn", "needle"), [
    (lambda values, n, seed: (0.0, 1.0), "much wider"),
    (_values_percentiles, "much wider"),
    (lambda values, n, seed: (1.0, 0.0), "low is above high"),
    (lambda values, n, seed: (0.9, 0.95), "does not contain the mean"),
    (_shifted, "off centre"),
    (_too_large_resamples, "much narrower"),
    (_unseeded, "same seed"),
    (_fixed_size, "four times the data"),
])
def test_bootstrap_wrong(fn, needle, capsys):
    assert check.bootstrap_interval(fn) is False
    mean, low, high = systems.bootstrap_ci(check._fixed_values(50, 7), n=2000, seed=0)
    out = wrong(capsys, f"{low:.3f}", f"{high:.3f}")
    assert needle in out, out


def test_bootstrap_bad_shapes():
    with pytest.raises(TypeError, match=r"expects a function f\(values, n, seed\) returning \(low, high\); got float"):
        check.bootstrap_interval(0.5)
    with pytest.raises(ValueError, match="got 3 numbers: return only \\(low, high\\), without the mean"):
        check.bootstrap_interval(lambda values, n, seed: systems.bootstrap_ci(values, n, seed=seed))
    with pytest.raises(TypeError, match="returning \\(low, high\\); got str"):
        check.bootstrap_interval(lambda values, n, seed: "0.3-0.5")


# ---------------------------------------------------------------------------------------------
# 07 threshold
# ---------------------------------------------------------------------------------------------

def test_threshold_right(capsys):
    rows = sweep_rows()
    assert speculative.pick_threshold(rows) == 0.8
    assert check.threshold(0.8, rows) is True
    assert "it is the fastest" in right(capsys)
    assert check.threshold(1.0, rows) is True
    assert "a faster threshold qualifies too" in right(capsys)
    assert check.threshold(0.6, rows, max_drop=0.1) is True
    assert "fastest" in right(capsys)


@pytest.mark.parametrize(("answer", "needle"), [
    (0.6, "more than 2% below the best policy's 90%"),
    (0.0, "where the accuracy curve drops"),
    (0.5, "not in the sweep"),
])
def test_threshold_wrong(answer, needle, capsys):
    assert check.threshold(answer, sweep_rows()) is False
    out = wrong(capsys, "0.8")
    assert needle in out, out


def test_threshold_when_nothing_qualifies(capsys):
    rows = [r for r in sweep_rows() if r["threshold"] is None or r["threshold"] <= 0.6]
    assert check.threshold(0.6, rows) is False
    wrong(capsys, "1.0")
    assert check.threshold(1.0, rows) is True


def test_threshold_bad_shapes():
    rows = sweep_rows()
    with pytest.raises(TypeError, match="expects a threshold, a number in \\[0, 1\\].*got str"):
        check.threshold("0.8", rows)
    with pytest.raises(TypeError, match="expects `rows` as returned by speculative.sweep.*got dict"):
        check.threshold(0.8, rows[0])
    with pytest.raises(ValueError, match="no always-RAG row"):
        check.threshold(0.8, [r for r in rows if r["policy"] != "always-RAG"])
    with pytest.raises(ValueError, match="max_drop"):
        check.threshold(0.8, rows, max_drop=2)


# ---------------------------------------------------------------------------------------------
# 09 break_even
# ---------------------------------------------------------------------------------------------

def test_break_even_right(capsys):
    ref = costs.break_even_volume().volume
    assert check.break_even(ref * 1.005) is True
    right(capsys)
    workload = costs.Workload(rag_prompt_tokens=1200, ft_prompt_tokens=300)
    prices = costs.Prices(a10g_monthly_usd=450)
    ref = costs.break_even_volume("RAG", "FT hosted", workload, prices).volume
    assert check.break_even(ref, workload, prices, "RAG", "FT hosted") is True


def test_break_even_wrong(capsys):
    ref = costs.break_even_volume().volume
    for answer in (ref * 1.02, 1_000_000, None):
        assert check.break_even(answer) is False
        wrong(capsys, f"{ref:,.0f}", f"{ref:.0f}", f"{ref:,.2f}")


def test_break_even_never_crossing(capsys):
    prices = costs.Prices(a10g_monthly_usd=50_000)  # a GPU so dear that RAG stays cheaper up to 1e9 calls
    assert costs.break_even_volume(prices=prices).volume is None
    assert check.break_even(None, prices=prices) is True
    right(capsys)
    assert check.break_even(5e6, prices=prices) is False
    wrong(capsys)


def test_break_even_bad_shapes():
    with pytest.raises(TypeError, match="expects a monthly volume.*got str"):
        check.break_even("633k")
    with pytest.raises(ValueError, match="positive number of calls"):
        check.break_even(-1)
    with pytest.raises(TypeError, match="workload must be a costs.Workload"):
        check.break_even(1e6, workload={"rag_prompt_tokens": 900})


# ---------------------------------------------------------------------------------------------
# The starters a course notebook gives the learner: they run, and they fail the check
# ---------------------------------------------------------------------------------------------

def test_starters_run_and_fail(capsys):
    article = data.load_corpus(1)[0]
    assert check.decision("RAG", "behaviour", "weekly", 200_000) is False
    assert check.chunk_count(1, article, 60, 10) is False
    assert check.rrf(lambda rankings, k=60: []) is False
    assert check.recall_at_k(lambda retrieved_ids, gold_ids, k: 0.0) is False
    assert check.lora_parameters(0, 8) is False
    assert check.bootstrap_interval(lambda values, n=2000, seed=0: (min(values), max(values))) is False
    assert check.threshold(0.0, sweep_rows()) is False
    assert check.break_even(1_000_000) is False
    out = capsys.readouterr().out
    assert out.count(check.NOT_YET) == 8 and check.RIGHT not in out


# ---------------------------------------------------------------------------------------------
# 02 chroma_where: a real (in-memory) Chroma collection applies the learner's filter
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def where_collection():
    import chromadb

    rows = [("a", "how-to", "public", 1), ("b", "troubleshooting", "public", 1), ("c", "how-to", "internal", 1),
            ("d", "how-to", "public", 2), ("e", "faq", "public", 1), ("f", "troubleshooting", "plan:business", 1)]
    client = chromadb.EphemeralClient()
    collection = client.get_or_create_collection(f"where-{len(client.list_collections())}", embedding_function=None)
    collection.add(ids=[r[0] for r in rows], embeddings=[[float(i), 1.0, 0.0] for i in range(len(rows))],
                   metadatas=[{"section": s, "audience": a, "version": v} for _, s, a, v in rows])
    return collection


def test_chroma_where_right(where_collection, capsys):
    right = {"$and": [{"audience": "public"}, {"section": {"$in": ["how-to", "troubleshooting"]}}, {"version": 1}]}
    assert check.chroma_where(right, where_collection) is True
    assert "2 chunks" in capsys.readouterr().out


@pytest.mark.parametrize(("answer", "needle"), [
    ({"section": {"$in": ["how-to", "troubleshooting"]}}, "too many"),
    ({"$and": [{"audience": "public"}, {"section": "how-to"}, {"version": 1}]}, "'$in'"),
    ({"$and": {"audience": "public"}}, "Chroma refused"),
])
def test_chroma_where_wrong_gets_a_hint_not_the_answer(where_collection, capsys, answer, needle):
    assert check.chroma_where(answer, where_collection) is False
    out = capsys.readouterr().out
    assert out.startswith(check.NOT_YET) and needle in out and '"$and": [' not in out


def test_chroma_where_bad_input(where_collection):
    with pytest.raises(TypeError, match="Chroma `where` filter"):
        check.chroma_where("section = how-to", where_collection)
    with pytest.raises(TypeError, match="collection"):
        check.chroma_where({"section": "how-to"}, [1, 2])


@pytest.mark.slow
def test_lora_model(capsys):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from helpers import models

    source = finetune.unsloth_source(models.load_generator(tier="cpu"))

    def lora(**settings):
        return get_peft_model(AutoModelForCausalLM.from_pretrained(source), LoraConfig(task_type="CAUSAL_LM", **settings))

    assert check.lora_model(lora(r=8, target_modules=["q_proj", "v_proj"])) is True
    assert "460,800 trainable parameters" in capsys.readouterr().out
    wrong = {"its rank is r=16": lora(r=16, target_modules=["q_proj", "v_proj"]),
             "add ['v_proj']": lora(r=8, target_modules=["q_proj"]),
             "drop ['o_proj']": lora(r=8, target_modules=["q_proj", "v_proj", "o_proj"]),
             "another part of the model unfrozen": lora(r=8, target_modules=["q_proj", "v_proj"],
                                                        modules_to_save=["lm_head"])}
    for needle, model in wrong.items():
        capsys.readouterr()
        assert check.lora_model(model) is False, needle
        out = capsys.readouterr().out
        assert out.startswith(check.NOT_YET) and needle in out, out
    with pytest.raises(TypeError, match="PeftModel"):
        check.lora_model(AutoModelForCausalLM.from_pretrained(source))
    with pytest.raises(ValueError, match="positive int"):
        check.lora_model(lora(r=8, target_modules=["q_proj"]), r=0)
