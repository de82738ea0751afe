"""The cost model: the guide's totals, every formula against hand-computed cases, break-even, bad input."""

import math

import numpy as np
import pytest

from helpers import costs

# One A10G serves 1,000 tokens/s x 730 h x 3,600 s = 2,628,000,000 tokens a month.
GPU_TOKENS_A_MONTH = 2_628_000_000


# ------------------------------------------------------------------ the guide's two totals

def test_guide_rag_total_670_at_1m_calls():
    parts = costs.rag_breakdown(1_000_000)
    # 70 flat + 1,000,000 / 1,000 x 0.10 + 1,000,000 x (1,500 x 0.10 + 350 x 1.00) / 1,000,000
    assert parts == pytest.approx({"vector DB": 70.0, "embeddings": 100.0, "LLM calls": 500.0})
    assert costs.rag_monthly(1_000_000) == pytest.approx(670.0)


def test_guide_fine_tuned_totals_450_and_550_at_1m_calls():
    self_hosted = costs.ft_breakdown(1_000_000, hosting="self-hosted")
    hosted = costs.ft_breakdown(1_000_000, hosting="hosted")
    assert self_hosted == pytest.approx({"training": 150.0, "serving (self-hosted)": 300.0})
    # hosted: 1,000,000 x (500 x 0.10 + 350 x 1.00) / 1,000,000 = 400
    assert hosted == pytest.approx({"training": 150.0, "serving (hosted)": 400.0})
    totals = costs.monthly_costs(costs.GUIDE_VOLUME)
    for name, guide in costs.GUIDE_TOTALS.items():
        assert totals[name] == pytest.approx(guide)


def test_guide_assumed_prompts_shrink_two_thirds():
    assert costs.Workload().prompt_shrink == pytest.approx(2 / 3)
    assert 0.60 <= costs.Workload().prompt_shrink <= 0.70  # the guide's "60-70% shorter prompts"


# ------------------------------------------------------------------ building blocks

def test_llm_call_price():
    # (1,000 x 0.10 + 200 x 1.00) / 1e6 = 0.0003 dollars
    assert costs.llm_call_usd(1000, 200) == pytest.approx(0.0003)
    prices = costs.Prices(llm_input_usd_per_mtok=2.0, llm_output_usd_per_mtok=8.0)
    # (1,000 x 2 + 200 x 8) / 1e6 x 1.5 = 0.0054
    assert costs.llm_call_usd(1000, 200, prices, multiplier=1.5) == pytest.approx(0.0054)


def test_embedding_cost_is_linear_in_volume():
    assert costs.embedding_usd(250_000) == pytest.approx(25.0)
    assert costs.embedding_usd(250_000, costs.Prices(embedding_usd_per_1k_queries=0.02)) == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [("daily", 4500.0), ("weekly", 650.0), ("monthly", 150.0), ("quarterly", 50.0), ("yearly", 12.5),
     ("static", 6.25)],
)
def test_training_per_month_by_update_frequency(frequency, expected):
    # $3.75 x 40 h = $150 a retrain; weekly = 52 / 12 retrains; static = one run over 24 months
    assert costs.training_monthly_usd(frequency) == pytest.approx(expected)


def test_training_uses_gpu_price_and_hours():
    prices = costs.Prices(gpu_hourly_usd=2.0, training_hours=10)
    assert costs.training_monthly_usd("monthly", prices) == pytest.approx(20.0)
    assert costs.training_monthly_usd("quarterly", prices) == pytest.approx(20 / 3)


def test_gpus_needed_steps_at_capacity():
    assert costs.gpus_needed(1, 850) == 1  # a server is on even for one call
    assert costs.gpus_needed(2_628_000, 1000) == 1  # exactly one GPU's month
    assert costs.gpus_needed(2_628_001, 1000) == 2
    assert costs.gpus_needed(10_000_000, 850) == 4  # 8.5e9 / 2.628e9 = 3.23 -> 4
    assert costs.gpus_needed(10_000_000, 850, costs.Prices(a10g_tokens_per_second=4000)) == 1


def test_rag_with_other_prompt_sizes():
    # 70 + 2,000 x 0.10 + 2,000,000 x (800 x 0.10 + 200 x 1.00) / 1e6 = 70 + 200 + 560
    assert costs.rag_monthly(2_000_000, prompt_tokens=800, output_tokens=200) == pytest.approx(830.0)


def test_self_hosted_ft_adds_a_gpu_per_capacity():
    # 10M calls x 850 tokens -> 4 GPUs: 150 + 4 x 300
    assert costs.ft_monthly(10_000_000) == pytest.approx(1350.0)
    assert costs.ft_monthly(10_000_000, update_frequency="quarterly") == pytest.approx(1250.0)


def test_hosted_ft_multiplier():
    prices = costs.Prices(hosted_ft_multiplier=2.0)
    assert costs.ft_monthly(1_000_000, hosting="hosted", prices=prices) == pytest.approx(150 + 2 * 400)


def test_hybrid_is_rag_retrieval_plus_a_fine_tuned_model_reading_the_rag_prompt():
    parts = costs.hybrid_breakdown(1_000_000)
    # 1e6 x 1,850 tokens = 1.85e9 < 2.628e9: one GPU
    assert parts == pytest.approx({"vector DB": 70.0, "embeddings": 100.0, "training": 150.0,
                                   "serving (self-hosted)": 300.0})
    # hosted: the fine-tuned model is billed for the 1,500-token prompt: 150 + 70 + 100 + 500
    assert costs.hybrid_monthly(1_000_000, hosting="hosted") == pytest.approx(820.0)


@pytest.mark.parametrize(("share", "expected"), [(0.0, 520.0), (0.3, 700.0), (1.0, 1120.0)])
def test_gated_stack_is_ft_plus_a_share_of_rag_calls(share, expected):
    # 150 training + 300 GPU + 70 vector DB + share x (100 embeddings + 500 LLM)
    assert costs.gated_monthly(1_000_000, retrieval_share=share) == pytest.approx(expected)


def test_cost_table_rows_and_columns():
    table = costs.cost_table([1_000_000, 2_000_000])
    assert list(table.columns) == list(costs.STRATEGIES)
    assert table.index.name == "calls / month"
    assert table.loc[1_000_000, "RAG"] == pytest.approx(670.0)
    assert table.loc[2_000_000, "RAG"] == pytest.approx(70 + 2 * 600)
    assert table.loc[2_000_000, "FT self-hosted"] == pytest.approx(450.0)  # 1.7e9 tokens: still one GPU


def test_cost_table_takes_workload_overrides():
    table = costs.cost_table([1_000_000], rag_prompt_tokens=500)
    assert table.loc[1_000_000, "RAG"] == pytest.approx(70 + 100 + 50 + 350)


def test_log_volumes():
    volumes = costs.log_volumes(1e4, 1e8, points=5)
    assert volumes == pytest.approx([1e4, 1e5, 1e6, 1e7, 1e8])
    with pytest.raises(ValueError, match="low < high"):
        costs.log_volumes(1e8, 1e4)


def test_price_table_names_a_source_for_every_price():
    rows = costs.Prices().table()
    assert {r["price"] for r in rows} == set(costs.PRICE_SOURCES)
    assert all(r["source"] for r in rows)


# ------------------------------------------------------------------ break-even

def test_break_even_rag_vs_self_hosted_ft():
    # 70 + 0.0006 V = 450  ->  V = 380 / 0.0006
    result = costs.break_even_volume("RAG", "FT self-hosted")
    assert result.volume == pytest.approx(633_333.333, rel=1e-9)
    assert (result.cheaper_below, result.cheaper_above) == ("RAG", "FT self-hosted")
    costs_there = costs.monthly_costs(result.volume)
    assert costs_there["RAG"] == pytest.approx(costs_there["FT self-hosted"])


def test_break_even_rag_vs_hosted_ft():
    # 70 + 0.0006 V = 150 + 0.0004 V  ->  V = 80 / 0.0002
    assert costs.break_even_volume("RAG", "FT hosted").volume == pytest.approx(400_000)


def test_break_even_is_symmetric():
    ab, ba = costs.break_even_volume("RAG", "gated"), costs.break_even_volume("gated", "RAG")
    assert ab.volume == pytest.approx(ba.volume)
    assert ab.cheaper_below == ba.cheaper_below == "RAG"
    # 70 + 0.0006 V = 520 + 0.00018 V  ->  V = 450 / 0.00042
    assert ab.volume == pytest.approx(450 / 0.00042)


def test_break_even_past_gpu_steps():
    # daily retraining: 4,500 a month. With 3 GPUs (6.18M-9.28M calls): 70 + 0.0006 V = 4,500 + 900
    result = costs.break_even_volume("RAG", "FT self-hosted", update_frequency="daily")
    assert result.volume == pytest.approx(5330 / 0.0006)
    assert costs.gpus_needed(result.volume, 850) == 3


def test_break_even_at_a_gpu_step():
    # FT+RAG and gated have the same fixed cost; FT+RAG is cheaper until its second GPU switches on,
    # at 2,628,000,000 / 1,850 calls, where it jumps above the gated stack.
    result = costs.break_even_volume("FT+RAG", "gated")
    assert result.volume == pytest.approx(GPU_TOKENS_A_MONTH / 1850)
    assert (result.cheaper_below, result.cheaper_above) == ("FT+RAG", "gated")
    assert "GPU step" in result.reason


def test_no_break_even_returns_none_with_a_reason():
    result = costs.break_even_volume("RAG", "FT self-hosted", update_frequency="daily", max_volume=1_000_000)
    assert result.volume is None and result.cheaper_above is None
    assert result.cheaper_below == "RAG"
    assert "stays cheaper" in result.reason and "1,000,000" in result.reason


def test_numpy_numbers_are_accepted():
    # measured token counts arrive as numpy scalars (a pandas mean): same answers as plain floats
    workload = costs.Workload(rag_prompt_tokens=np.float64(1500), ft_prompt_tokens=np.int64(500))
    assert costs.monthly_costs(np.int64(1_000_000), workload)["RAG"] == pytest.approx(670.0)
    assert costs.break_even_volume(workload=workload).volume == pytest.approx(633_333.333, rel=1e-9)


def test_break_even_moves_with_prompt_size():
    # smaller RAG prompts make RAG cheaper per call, so fine-tuning pays off later:
    # 70 + (0.0001 + (500 x 0.1 + 350) / 1e6) V = 450  ->  V = 380 / 0.0005
    assert costs.break_even_volume(rag_prompt_tokens=500).volume == pytest.approx(760_000)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("volume", [0, -5, math.nan, math.inf, "1000", True, None])
def test_bad_volume(volume):
    with pytest.raises(ValueError, match="volume must be a positive"):
        costs.rag_monthly(volume)


@pytest.mark.parametrize("field", ["vector_db_monthly_usd", "llm_input_usd_per_mtok", "gpu_hourly_usd",
                                   "training_hours", "a10g_tokens_per_second"])
@pytest.mark.parametrize("value", [0, -1.0])
def test_bad_prices(field, value):
    with pytest.raises(ValueError, match=f"prices.{field} must be a positive"):
        costs.Prices(**{field: value})


@pytest.mark.parametrize(("kwargs", "name"), [({"prompt_tokens": 0}, "prompt_tokens"),
                                              ({"output_tokens": -3}, "output_tokens")])
def test_bad_token_counts(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be a positive"):
        costs.rag_monthly(1000, **kwargs)


def test_bad_workload_token_counts():
    with pytest.raises(ValueError, match="ft_prompt_tokens must be a positive"):
        costs.Workload(ft_prompt_tokens=0)


def test_unknown_update_frequency_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown update_frequency 'hourly'; choose one of \['daily'"):
        costs.training_monthly_usd("hourly")
    with pytest.raises(ValueError, match="unknown update_frequency"):
        costs.monthly_costs(1000, update_frequency="biweekly")


def test_other_bad_choices():
    with pytest.raises(ValueError, match="retrieval_share must be a number between 0 and 1"):
        costs.gated_monthly(1000, retrieval_share=1.5)
    with pytest.raises(ValueError, match="unknown hosting 'cloud'"):
        costs.ft_monthly(1000, hosting="cloud")
    with pytest.raises(ValueError, match="unknown strategy 'FT'"):
        costs.break_even_volume("RAG", "FT")
    with pytest.raises(ValueError, match="two different strategies"):
        costs.break_even_volume("RAG", "RAG")
    with pytest.raises(ValueError, match="volumes is empty"):
        costs.cost_table([])
    with pytest.raises(TypeError, match="costs.Prices"):
        costs.rag_monthly(1000, prices={"vector_db_monthly_usd": 70})
