"""Paired statistics on hand-computed cases."""

import pytest

from helpers import stats


def test_mcnemar_exact_hand_computed():
    # 6 discordant pairs, all won by b: p = 2 * (1/2)^6 = 0.03125
    a = [0] * 6 + [1] * 4
    b = [1] * 6 + [1] * 4
    result = stats.mcnemar_exact(a, b)
    assert result == {"a_only": 0, "b_only": 6, "p": pytest.approx(0.03125)}
    # 1 vs 4 discordant: P(X <= 1 | n=5) = (1 + 5) / 32, two-sided 0.375
    a = [1, 0, 0, 0, 0, 1, 0]
    b = [0, 1, 1, 1, 1, 1, 0]
    assert stats.mcnemar_exact(a, b)["p"] == pytest.approx(0.375)
    assert stats.mcnemar_exact([1, 0], [1, 0])["p"] == 1.0  # never disagree
    assert stats.mcnemar_exact([1, 0, 1, 0], [0, 1, 0, 1])["p"] == 1.0  # an even split is capped at 1


def test_paired_difference_and_decision():
    a = [0] * 20 + [1] * 10
    b = [1] * 20 + [1] * 10  # b wins 20 items, loses none
    result = stats.paired(a, b)
    assert result["n"] == 30 and result["diff"] == pytest.approx(20 / 30)
    assert 0 < result["low"] <= result["diff"] <= result["high"] <= 1
    assert result["b_only"] == 20 and result["p"] < 1e-5 and result["decided"] and result["better"] == "b"
    swapped = stats.paired(b, a)
    assert swapped["diff"] == pytest.approx(-20 / 30) and swapped["better"] == "a"


def test_overlapping_intervals_can_hide_a_paired_difference():
    """Each system's own interval overlaps the other's, yet b is never worse on an item: the paired test
    decides where comparing the two intervals would not."""
    from helpers import systems

    a = [1] * 12 + [0] * 18
    b = [1] * 12 + [1] * 7 + [0] * 11
    _, a_low, a_high = systems.bootstrap_ci(a)
    _, b_low, b_high = systems.bootstrap_ci(b)
    assert b_low < a_high  # the unpaired intervals overlap
    result = stats.paired(a, b)
    assert result["b_only"] == 7 and result["a_only"] == 0 and result["p"] == pytest.approx(2 / 2**7)
    assert result["decided"] and result["low"] > 0


def test_a_coin_flip_is_not_decided():
    a = [1, 0] * 15
    b = [0, 1] * 15
    result = stats.paired(a, b)
    assert result["diff"] == 0 and not result["decided"] and result["better"] is None and result["p"] == 1.0


def test_graded_scores_use_the_bootstrap_alone():
    a = [0.5, 0.25, 0.75, 0.5]
    b = [0.75, 0.5, 1.0, 0.75]
    result = stats.paired(a, b)
    assert result["test"] == "paired bootstrap" and "p" not in result
    assert result["diff"] == pytest.approx(0.25) and result["low"] == result["high"] == pytest.approx(0.25)
    assert result["decided"]


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="same items"):
        stats.paired([1, 0], [1])
    with pytest.raises(ValueError, match="no items"):
        stats.paired([], [])
    with pytest.raises(ValueError, match=r"b\[1\] is None"):
        stats.paired([1, 0], [1, None])
    with pytest.raises(ValueError, match="0/1 scores"):
        stats.mcnemar_exact([0.5], [1])


def test_aligned_pairs_rows_by_item():
    rows = [{"system": "RAG", "id": "q1", "task": "t", "score": 1}, {"system": "FT", "id": "q2", "task": "t", "score": 0},
            {"system": "FT", "id": "q1", "task": "t", "score": 0}, {"system": "RAG", "id": "q2", "task": "t", "score": 1},
            {"system": "RAG", "id": "q3", "task": "t", "score": 1}, {"system": "FT", "id": "q1", "task": "u", "score": 1}]
    assert stats.aligned(rows, "RAG", "FT", task="t") == ([1.0, 1.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="share no scored items"):
        stats.aligned(rows, "RAG", "RAFT")


def test_bootstrap_stat_of_a_ratio():
    pairs = [(10, 4), (20, 6), (30, 6)]
    value, low, high = stats.bootstrap_stat(pairs, lambda rows: 1 - sum(b for _, b in rows) / sum(a for a, _ in rows))
    assert value == pytest.approx(1 - 16 / 60)
    assert min(1 - b / a for a, b in pairs) <= low <= value <= high <= max(1 - b / a for a, b in pairs)
    with pytest.raises(ValueError, match="no items"):
        stats.bootstrap_stat([], len)


def test_wilson_interval_hand_computed():
    p, low, high = stats.wilson(36, 36)
    assert p == 1.0 and high == 1.0 and low == pytest.approx(0.9036, abs=1e-3)
    p, low, high = stats.wilson(3, 99)
    assert p == pytest.approx(3 / 99) and low == pytest.approx(0.0104, abs=1e-3) and high == pytest.approx(0.0854, abs=1e-3)
    with pytest.raises(ValueError, match="successes <= n"):
        stats.wilson(5, 4)

def test_bootstrap_stat_leaves_out_resamples_where_the_statistic_is_undefined():
    def ratio(rows):  # undefined when no row has a denominator
        den = sum(d for _, d in rows)
        return sum(n for n, _ in rows) / den if den else None

    rows = [(1, 1), (3, 0), (2, 2)]  # a resample of only the middle row has no denominator
    value, low, high = stats.bootstrap_stat(rows, ratio, n_boot=500)
    assert value == pytest.approx(2.0)
    assert 1.0 <= low <= high <= 7.0  # every defined resample lies between 1/1 and (3+3+1)/1
    assert stats.bootstrap_stat([(1, 0)], ratio) == (None, None, None)


def test_wilson_ends_are_exact_at_none_and_all():
    assert stats.wilson(0, 20)[1] == 0.0 and stats.wilson(20, 20)[2] == 1.0


def test_cohen_kappa_known_values():
    from helpers import stats

    assert stats.cohen_kappa([1, 1, 0, 0], [1, 1, 0, 0]) == 1.0
    # 20 items: 15 agree; rates 0.5 and 0.5 -> chance 0.5 -> kappa 0.5
    a = [1] * 10 + [0] * 10
    b = [1] * 8 + [0] * 2 + [0] * 7 + [1] * 3
    assert abs(stats.cohen_kappa(a, b) - (0.75 - 0.5) / 0.5) < 1e-12
    assert stats.cohen_kappa([1, 1], [1, 1]) is None
    with pytest.raises(ValueError, match="same items"):
        stats.cohen_kappa([1], [1, 0])


def test_agreement_counts_and_intervals():
    from helpers import stats

    ref = [True] * 10 + [False] * 10
    got = [True] * 8 + [False] * 2 + [False] * 7 + [True] * 3
    a = stats.agreement(ref, got)
    assert (a["n"], a["missed"], a["false_credit"], a["both_correct"], a["both_wrong"]) == (20, 2, 3, 8, 7)
    assert a["agreement_low"] < a["agreement"] == 0.75 < a["agreement_high"]
    assert a["kappa_low"] <= a["kappa"] <= a["kappa_high"]
