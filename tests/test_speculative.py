"""helpers.speculative on fixed, hand-computed inputs: the confidence gate and drafter-verifier."""

import math

import numpy as np
import pytest

from helpers import speculative

# ---------------------------------------------------------------------------------------------
# confidence
# ---------------------------------------------------------------------------------------------


def test_confidence_mean_is_geometric_mean_probability():
    assert speculative.confidence([-0.1, -0.3]) == pytest.approx(math.exp(-0.2))
    assert speculative.confidence([-0.1, -0.3], method="mean") == pytest.approx(0.8187307530779818)
    assert speculative.confidence([0.0, 0.0, 0.0]) == pytest.approx(1.0)
    # length-normalised: repeating the same tokens does not lower the confidence
    assert speculative.confidence([-0.5] * 10) == pytest.approx(math.exp(-0.5))


def test_confidence_min_and_first():
    lps = [-0.2, -1.5, -0.05]
    assert speculative.confidence(lps, method="min") == pytest.approx(math.exp(-1.5))
    assert speculative.confidence(lps, method="first") == pytest.approx(math.exp(-0.2))
    assert speculative.confidence(lps, method="mean") == pytest.approx(math.exp(-1.75 / 3))
    # the three methods order as expected: min <= mean, and here first > mean
    assert speculative.confidence(lps, "min") < speculative.confidence(lps, "mean") < speculative.confidence(lps, "first")


def test_confidence_accepts_tuples_and_numpy():
    assert speculative.confidence((-0.1, -0.3)) == pytest.approx(math.exp(-0.2))
    assert speculative.confidence(np.array([-0.1, -0.3])) == pytest.approx(math.exp(-0.2))


def test_confidence_empty_raises():
    with pytest.raises(ValueError, match="no tokens"):
        speculative.confidence([])


@pytest.mark.parametrize("bad", [[0.5], [-0.1, 0.3], [float("nan")], [-0.2, float("nan")]])
def test_confidence_rejects_positive_or_nan(bad):
    with pytest.raises(ValueError, match="log-probabilities"):
        speculative.confidence(bad)


def test_confidence_unknown_method():
    with pytest.raises(ValueError, match="unknown confidence method 'median'"):
        speculative.confidence([-0.1], method="median")


# ---------------------------------------------------------------------------------------------
# agreement
# ---------------------------------------------------------------------------------------------


def test_agreement_share_of_majority():
    assert speculative.agreement(["4", "4", "four"]) == pytest.approx(2 / 3)
    assert speculative.agreement(["a b", "c", "d", "e"]) == pytest.approx(1 / 4)
    assert speculative.agreement(["same"]) == 1.0


def test_agreement_normalises_with_evaluate_normalize():
    from helpers import evaluate

    assert evaluate.normalize("The answer") == "answer"  # article dropped, lower-cased
    assert speculative.agreement(["The answer", "answer", "answer!", "other"]) == pytest.approx(3 / 4)
    assert speculative.agreement(["$1,428", "1428", "1 428"]) == pytest.approx(2 / 3)


def test_agreement_custom_normalize():
    assert speculative.agreement(["The answer", "answer", "other"], normalize=lambda s: s) == pytest.approx(1 / 3)
    assert speculative.agreement(["A", "a", "b"], normalize=str.lower) == pytest.approx(2 / 3)


def test_agreement_empty():
    with pytest.raises(ValueError, match="at least one"):
        speculative.agreement([])


# ---------------------------------------------------------------------------------------------
# check_threshold / route
# ---------------------------------------------------------------------------------------------


def test_check_threshold_accepts_unit_interval():
    assert speculative.check_threshold(0) == 0.0 and isinstance(speculative.check_threshold(0), float)
    assert speculative.check_threshold(1) == 1.0
    assert speculative.check_threshold(0.5) == 0.5


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("inf"), -float("inf")])
def test_check_threshold_out_of_range(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        speculative.check_threshold(bad)
    with pytest.raises(ValueError):
        speculative.route([0.5], bad)


@pytest.mark.parametrize("bad", ["0.5", True, False, float("nan"), None])
def test_check_threshold_wrong_type(bad):
    with pytest.raises(TypeError, match="threshold"):
        speculative.check_threshold(bad)
    with pytest.raises(TypeError):
        speculative.route([0.5], bad)


def test_route_fixed():
    assert speculative.route([0.9, 0.2, None], 0.5) == [False, True, True]
    assert speculative.route([0.5], 0.5) == [False]  # at the threshold the draft is returned
    assert speculative.route([], 0.5) == []


def test_route_threshold_zero_never_retrieves_unless_none():
    assert speculative.route([0.0, 1e-9, 0.3, 1.0], 0.0) == [False, False, False, False]
    assert speculative.route([0.0, None], 0.0) == [False, True]


def test_route_threshold_one():
    assert speculative.route([0.99, 1.0, 0.0], 1.0) == [True, False, True]


# ---------------------------------------------------------------------------------------------
# gate_outcome / percentile
# ---------------------------------------------------------------------------------------------


def test_gate_outcome():
    draft, rag = {"score": 0.0, "seconds": 0.4}, {"score": 1.0, "seconds": 2.5}
    assert speculative.gate_outcome(draft, rag, True) == {"score": 1.0, "seconds": pytest.approx(2.9), "retrieved": True}
    assert speculative.gate_outcome(draft, rag, False) == {"score": 0.0, "seconds": 0.4, "retrieved": False}


@pytest.mark.parametrize("values", [[3.0], [1.0, 2.0], [5.0, 1.0, 4.0, 2.0, 3.0], [0.5, 0.5, 3.5, 3.5],
                                    [10.0, -2.0, 7.5, 7.5, 0.1, 99.0, 3.3]])
@pytest.mark.parametrize("q", [0, 25, 50, 90, 95, 100])
def test_percentile_matches_numpy(values, q):
    assert speculative.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_hand_values_and_empty():
    assert speculative.percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert speculative.percentile([4, 1, 3, 2], 95) == pytest.approx(3.85)
    with pytest.raises(ValueError):
        speculative.percentile([], 50)


def test_summarise():
    out = speculative.summarise([{"score": 1, "seconds": 1.0, "retrieved": True},
                                 {"score": 0, "seconds": 3.0, "retrieved": False}])
    assert out == {"accuracy": 0.5, "retrieved": 0.5, "mean_s": 2.0, "p95_s": pytest.approx(2.9)}
    with pytest.raises(ValueError):
        speculative.summarise([])


# ---------------------------------------------------------------------------------------------
# sweep / pick_threshold
# ---------------------------------------------------------------------------------------------

# Four queries. The draft is right only on q0; RAG is right on q0, q1, q2. Drafts take 0.5 s, RAG 3 s.
DRAFTS = [{"confidence": 0.9, "score": 1.0, "seconds": 0.5},
          {"confidence": 0.6, "score": 0.0, "seconds": 0.5},
          {"confidence": 0.3, "score": 0.0, "seconds": 0.5},
          {"confidence": None, "score": 0.0, "seconds": 0.5}]
RAGS = [{"score": 1.0, "seconds": 3.0}, {"score": 1.0, "seconds": 3.0},
        {"score": 1.0, "seconds": 3.0}, {"score": 0.0, "seconds": 3.0}]
# always-RAG: accuracy 3/4, mean 3.0 s; never-RAG: accuracy 1/4, mean 0.5 s; overhead 2.5 s.
# threshold -> (accuracy, retrieved share, mean seconds, overhead_cut), by hand:
#   0.0: retrieves q3 only          -> scores 1,0,0,0  secs .5,.5,.5,3.5   -> 0.25, 0.25, 1.25, (3-1.25)/2.5 = 0.7
#   0.5: retrieves q2, q3           -> scores 1,0,1,0  secs .5,.5,3.5,3.5  -> 0.50, 0.50, 2.00, 0.4
#   0.7: retrieves q1, q2, q3       -> scores 1,1,1,0  secs .5,3.5,3.5,3.5 -> 0.75, 0.75, 2.75, 0.1
#   1.0: retrieves all              -> scores 1,1,1,0  secs 3.5 x 4        -> 0.75, 1.00, 3.50, -0.2
EXPECTED = {0.0: (0.25, 0.25, 1.25, 0.7), 0.5: (0.5, 0.5, 2.0, 0.4),
            0.7: (0.75, 0.75, 2.75, 0.1), 1.0: (0.75, 1.0, 3.5, -0.2)}


def test_sweep_rows_by_hand():
    rows = speculative.sweep(DRAFTS, RAGS, thresholds=[0.0, 0.5, 0.7, 1.0])
    assert [r["policy"] for r in rows] == ["gate 0.00", "gate 0.50", "gate 0.70", "gate 1.00", "always-RAG", "never-RAG"]
    for row in rows[:4]:
        acc, share, mean_s, cut = EXPECTED[row["threshold"]]
        assert row["accuracy"] == pytest.approx(acc), row
        assert row["retrieved"] == pytest.approx(share), row
        assert row["mean_s"] == pytest.approx(mean_s), row
        assert row["overhead_cut"] == pytest.approx(cut), row
    assert rows[1]["p95_s"] == pytest.approx(3.5)
    assert rows[0]["p95_s"] == pytest.approx(np.percentile([0.5, 0.5, 0.5, 3.5], 95))


def test_sweep_always_and_never_rows():
    rows = {r["policy"]: r for r in speculative.sweep(DRAFTS, RAGS, thresholds=[0.5])}
    always, never = rows["always-RAG"], rows["never-RAG"]
    assert always["threshold"] is None and never["threshold"] is None
    assert always["accuracy"] == pytest.approx(0.75) and always["retrieved"] == 1.0
    assert always["mean_s"] == pytest.approx(3.0) and always["overhead_cut"] == 0.0
    assert never["accuracy"] == pytest.approx(0.25) and never["retrieved"] == 0.0
    assert never["mean_s"] == pytest.approx(0.5) and never["overhead_cut"] == 1.0


def test_sweep_custom_key_and_no_overhead():
    drafts = [{"conf2": 0.9, "score": 1.0, "seconds": 2.0}, {"conf2": 0.1, "score": 0.0, "seconds": 2.0}]
    rags = [{"score": 0.0, "seconds": 1.0}, {"score": 1.0, "seconds": 1.0}]
    rows = speculative.sweep(drafts, rags, thresholds=[0.5], key="conf2")
    # gate: q0 keeps the draft (1.0, 2 s), q1 retrieves (1.0, 3 s)
    assert rows[0]["accuracy"] == 1.0 and rows[0]["retrieved"] == 0.5 and rows[0]["mean_s"] == pytest.approx(2.5)
    # RAG is faster than the draft here: no overhead to cut, so the share is undefined
    assert math.isnan(rows[0]["overhead_cut"])
    # without the key every confidence is None, so every query retrieves
    assert speculative.sweep(drafts, rags, thresholds=[0.5])[0]["retrieved"] == 1.0


def test_sweep_errors():
    with pytest.raises(ValueError, match="3 drafts but 4 RAG"):
        speculative.sweep(DRAFTS[:3], RAGS, thresholds=[0.5])
    with pytest.raises(ValueError):
        speculative.sweep(DRAFTS, RAGS, thresholds=[1.5])


def test_pick_threshold_on_sweep():
    rows = speculative.sweep(DRAFTS, RAGS, thresholds=[0.0, 0.5, 0.7, 1.0])
    # within 0.02 of 0.75: only 0.7 (2.75 s) and 1.0 (3.5 s); 0.7 is faster
    assert speculative.pick_threshold(rows) == 0.7
    assert speculative.pick_threshold(rows, max_drop=0.25) == 0.5
    assert speculative.pick_threshold(rows, max_drop=0.5) == 0.0


def test_pick_threshold_none_qualifies():
    rows = speculative.sweep(DRAFTS, RAGS, thresholds=[0.0, 0.5])
    assert speculative.pick_threshold(rows, max_drop=0.02) == 1.0


def test_pick_threshold_tie_goes_to_lower_threshold():
    rows = [{"policy": "gate 0.60", "threshold": 0.6, "accuracy": 0.8, "mean_s": 1.0},
            {"policy": "gate 0.40", "threshold": 0.4, "accuracy": 0.8, "mean_s": 1.0},
            {"policy": "gate 0.20", "threshold": 0.2, "accuracy": 0.5, "mean_s": 0.5},
            {"policy": "always-RAG", "threshold": None, "accuracy": 0.8, "mean_s": 2.0},
            {"policy": "never-RAG", "threshold": None, "accuracy": 0.5, "mean_s": 0.5}]
    assert speculative.pick_threshold(rows) == 0.4


def test_pick_threshold_when_a_gate_beats_always_rag():
    # retrieval hurts the confident queries: the best policy is a gate, not always-RAG
    rows = [{"policy": "gate 0.00", "threshold": 0.0, "accuracy": 0.5, "mean_s": 1.0},
            {"policy": "gate 0.50", "threshold": 0.5, "accuracy": 0.9, "mean_s": 2.0},
            {"policy": "gate 0.90", "threshold": 0.9, "accuracy": 0.89, "mean_s": 2.5},
            {"policy": "always-RAG", "threshold": None, "accuracy": 0.4, "mean_s": 3.0},
            {"policy": "never-RAG", "threshold": None, "accuracy": 0.5, "mean_s": 1.0}]
    assert speculative.pick_threshold(rows) == 0.5  # against always-RAG's 0.4, 0.0 would have "qualified"
    assert speculative.pick_threshold(rows, max_drop=0.5) == 0.0


def test_pick_threshold_needs_always_rag():
    rows = speculative.sweep(DRAFTS, RAGS, thresholds=[0.5])
    with pytest.raises(ValueError, match="always-RAG"):
        speculative.pick_threshold([r for r in rows if r["policy"] != "always-RAG"])


# ---------------------------------------------------------------------------------------------
# drafter-verifier
# ---------------------------------------------------------------------------------------------

HITS = ["h1", "h2", "h3", "h4", "h5", "h6"]


def test_document_subsets_round_robin():
    assert speculative.document_subsets(HITS, 3, 2) == [["h1", "h4"], ["h2", "h5"], ["h3", "h6"]]
    assert speculative.document_subsets(HITS, 2, 3) == [["h1", "h3", "h5"], ["h2", "h4", "h6"]]
    assert speculative.document_subsets(HITS + ["h7", "h8"], 3, 2) == [["h1", "h4"], ["h2", "h5"], ["h3", "h6"]]
    assert speculative.document_subsets(iter(HITS), 1, 2) == [["h1", "h2"]]


def test_document_subsets_fewer_hits():
    assert speculative.document_subsets(HITS[:4], 3, 2) == [["h1", "h4"], ["h2"], ["h3"]]
    assert speculative.document_subsets(HITS[:2], 3, 2) == [["h1"], ["h2"]]


def test_document_subsets_errors():
    with pytest.raises(ValueError, match="nothing"):
        speculative.document_subsets([], 3, 2)
    with pytest.raises(ValueError, match=">= 1"):
        speculative.document_subsets(HITS, 0, 2)
    with pytest.raises(ValueError, match=">= 1"):
        speculative.document_subsets(HITS, 3, 0)


def test_pick_draft_by_drafter_confidence():
    best, scores = speculative.pick_draft([[-0.5, -0.5], [-0.1, -0.3], [-2.0]])
    assert best == 1
    assert scores == pytest.approx([math.exp(-0.5), math.exp(-0.2), math.exp(-2.0)])


def test_pick_draft_verifier_changes_winner():
    drafts = [[-0.1], [-0.5]]
    assert speculative.pick_draft(drafts)[0] == 0
    best, scores = speculative.pick_draft(drafts, verifier_logprobs=[[-2.0], [-0.1]])
    assert best == 1
    assert scores == pytest.approx([math.exp(-2.1), math.exp(-0.6)])


def test_pick_draft_tie_goes_to_earlier():
    assert speculative.pick_draft([[-0.3], [-0.3], [-0.3]]) == (0, pytest.approx([math.exp(-0.3)] * 3))
    assert speculative.pick_draft([[-0.9], [-0.3], [-0.3]])[0] == 1


def test_pick_draft_empty_draft_scores_zero():
    best, scores = speculative.pick_draft([[], [-3.0]])
    assert best == 1 and scores == pytest.approx([0.0, math.exp(-3.0)])
    # an empty verifier score also zeroes the draft
    best, scores = speculative.pick_draft([[-0.1], [-1.0]], verifier_logprobs=[[], [-0.1]])
    assert best == 1 and scores == pytest.approx([0.0, math.exp(-1.1)])
    # all drafts empty: every score 0, the first one wins the tie
    assert speculative.pick_draft([[], []]) == (0, [0.0, 0.0])


def test_pick_draft_errors():
    with pytest.raises(ValueError, match="no drafts"):
        speculative.pick_draft([])
    with pytest.raises(ValueError, match="2 drafts but 1 verifier"):
        speculative.pick_draft([[-0.1], [-0.2]], verifier_logprobs=[[-0.1]])
    with pytest.raises(ValueError, match="log-probabilities"):
        speculative.pick_draft([[0.7]])


def test_gate_intervals_point_values_match_the_sweep():
    result = speculative.gate_intervals(DRAFTS, RAGS, 0.5)
    assert result["n"] == 4 and result["retrieved"] == pytest.approx(0.5)
    assert result["overhead_cut"] == pytest.approx(0.4)  # as EXPECTED[0.5]
    assert result["overhead_cut_low"] <= 0.4 <= result["overhead_cut_high"]
    change = result["accuracy_change"]  # gate 1,0,1,0 vs always-RAG 1,1,1,0
    assert change["diff"] == pytest.approx(-0.25) and change["a_only"] == 1 and change["b_only"] == 0
    assert not change["decided"]  # one query of four decides nothing
    assert result["vs_never"]["diff"] == pytest.approx(0.25)


def test_gate_intervals_narrow_with_more_queries():
    small = speculative.gate_intervals(DRAFTS, RAGS, 0.5)
    large = speculative.gate_intervals(DRAFTS * 25, RAGS * 25, 0.5)
    assert large["overhead_cut"] == pytest.approx(0.4)
    assert large["overhead_cut_high"] - large["overhead_cut_low"] < small["overhead_cut_high"] - small["overhead_cut_low"]
    assert large["accuracy_change"]["decided"] and large["accuracy_change"]["high"] < 0


def test_gate_intervals_errors():
    with pytest.raises(ValueError, match="same queries"):
        speculative.gate_intervals(DRAFTS, RAGS[:2], 0.5)
    with pytest.raises(ValueError, match="threshold"):
        speculative.gate_intervals(DRAFTS, RAGS, 1.5)


@pytest.mark.slow
def test_measure_batched_gives_what_measure_gives(generator_fp32, small_index):
    """Batched and one-at-a-time measurement agree on the drafts' confidences and on the scores (greedy
    decoding; small differences from padding are allowed on the confidence only). Short answers (QA, 32 new
    tokens at most) over the session's small index keep it quick: the two paths still pad, batch and
    retrieve differently, which is what can make them disagree."""
    from helpers import data

    items = data.load_task("qa_static", "dev")[:4]
    one = speculative.measure(generator_fp32, "qa_static", items, small_index, progress=False)
    many = speculative.measure_batched(generator_fp32, "qa_static", items, small_index, batch_size=4,
                                       samples=2, progress=False)
    assert [d["id"] for d in many[0]] == [d["id"] for d in one[0]] and len(many[1]) == 4
    assert [r["output"] for r in many[1]] == [r["output"] for r in one[1]], "greedy RAG answers differ"
    assert [d["confidence"] for d in many[0]] == pytest.approx([d["confidence"] for d in one[0]], abs=0.02)
    assert all(d["timing"] == "amortized" and 0 <= d["agreement"] <= 1 for d in many[0])
    assert sum(d["score"] for d in many[0]) == pytest.approx(sum(d["score"] for d in one[0]), abs=0.3)
