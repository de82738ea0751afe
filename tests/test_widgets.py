"""The cost explorer and the decision wizard, driven from code (no browser): values in, text out, clamping."""

import re

import pytest

from helpers import costs, widgets


def _break_even(summary: str, pair: str) -> int:
    match = re.search(re.escape(pair) + r": break-even at <b>([\d,]+)</b>", summary)
    assert match, f"no break-even for {pair} in {summary!r}"
    return int(match.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def explorer():
    return widgets.cost_explorer()


def test_explorer_starts_at_the_guide_numbers(explorer):
    text = explorer.summary.value
    assert "At 1,000,000 calls a month" in text
    assert "RAG $670" in text and "FT self-hosted $450" in text and "FT hosted $550" in text
    assert _break_even(text, "RAG vs FT self-hosted") == 633_333
    assert explorer.plot.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_moving_a_slider_changes_the_break_even(explorer):
    before_png = explorer.plot.value
    explorer.controls["training_hours"].value = 8  # a retrain now costs 3.75 x 8 = $30
    text = explorer.summary.value
    # 70 + 0.0006 V = 30 + 300  ->  V = 260 / 0.0006
    assert _break_even(text, "RAG vs FT self-hosted") == 433_333
    assert explorer.plot.value != before_png
    explorer.controls["training_hours"].value = costs.PRICES.training_hours
    assert _break_even(explorer.summary.value, "RAG vs FT self-hosted") == 633_333


def test_frequency_dropdown_feeds_the_training_cost(explorer):
    explorer.controls["update_frequency"].value = "daily"
    assert _break_even(explorer.summary.value, "RAG vs FT self-hosted") == round(5330 / 0.0006)
    explorer.controls["update_frequency"].value = "monthly"


def test_volume_slider_changes_the_costs_shown(explorer):
    explorer.controls["volume"].value = 2_000_000
    assert "At 2,000,000 calls a month" in explorer.summary.value and "RAG $1,270" in explorer.summary.value
    explorer.controls["volume"].value = 1_000_000


def test_sliders_clamp_to_valid_ranges():
    explorer = widgets.cost_explorer()
    explorer.controls["rag_prompt_tokens"].value = -50
    assert explorer.controls["rag_prompt_tokens"].value == widgets.PROMPT_TOKENS[0]
    explorer.controls["gpu_hourly_usd"].value = 1e6
    assert explorer.controls["gpu_hourly_usd"].value == widgets.GPU_HOURLY[1]
    explorer.controls["retrieval_share"].value = 3.0
    assert explorer.controls["retrieval_share"].value == 1.0
    assert "break-even" in explorer.summary.value or "no break-even" in explorer.summary.value


def test_explorer_starts_from_measured_tokens_and_clamps_them():
    box = widgets.cost_explorer(rag_prompt_tokens=500, ft_prompt_tokens=50_000, volume=1e12)
    assert box.controls["rag_prompt_tokens"].value == 500
    assert box.controls["ft_prompt_tokens"].value == widgets.PROMPT_TOKENS[1]
    assert box.controls["volume"].value == pytest.approx(10 ** widgets.VOLUME_LOG10[1])


def test_explorer_rejects_bad_starting_values():
    with pytest.raises(ValueError, match="unknown update_frequency"):
        widgets.cost_explorer(update_frequency="hourly")
    with pytest.raises(ValueError, match="rag_prompt_tokens must be a positive"):
        widgets.cost_explorer(rag_prompt_tokens=0)


def test_decision_wizard_follows_recommend():
    wizard = widgets.decision_wizard()
    assert "Recommendation: RAG first, then consider FT" in wizard.summary.value
    wizard.controls["gap"].value = "behaviour"
    wizard.controls["update_frequency"].value = "static"
    assert wizard.result.recommendation == "fine-tune"
    assert "Recommendation: fine-tune" in wizard.summary.value
    wizard.controls["update_frequency"].value = "weekly"
    assert "FT+RAG (hybrid)" in wizard.summary.value


def test_decision_wizard_shrink_only_counts_when_measured():
    wizard = widgets.decision_wizard("knowledge", "static", 5_000_000)
    assert wizard.result.recommendation == "RAG" and wizard.controls["prompt_shrink"].disabled
    wizard.controls["shrink_measured"].value = True
    assert wizard.result.recommendation == "RAG first, then consider FT"
    wizard.controls["prompt_shrink"].value = 2.0  # clamped to the slider's maximum
    assert wizard.controls["prompt_shrink"].value == pytest.approx(0.95)
    wizard.controls["monthly_calls"].value = -5  # a log slider clamps to its minimum
    assert wizard.controls["monthly_calls"].value == pytest.approx(10 ** widgets.VOLUME_LOG10[0])
    assert wizard.result.recommendation == "RAG"  # 1,000 calls: below the scale rule


def test_decision_wizard_rejects_bad_starting_values():
    with pytest.raises(ValueError, match="unknown gap"):
        widgets.decision_wizard(gap="style")
