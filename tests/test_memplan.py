"""helpers.memplan: the tier models counted on the meta device, every notebook's plan against a 15 GB T4 and a
40 GB A100, and the notebooks doing what their plans say (issue 41, item 3)."""

import json
from pathlib import Path

import pytest

from helpers import env, memplan
from tests import gpu_sim

ROOT = Path(__file__).resolve().parents[1]
# Published parameter counts (the model cards) and configs (config.json on the hub), written in here.
PUBLISHED = {"unsloth/Qwen2.5-7B-Instruct": 7_615_616_512, "unsloth/Llama-3.2-1B-Instruct": 1_235_814_400,
             env.EMBEDDED_GENERATOR: 134_515_008}


def test_the_architectures_are_the_published_ones():
    from tests.test_gpu_sim import QWEN25_7B

    qwen = memplan.ARCH["unsloth/Qwen2.5-7B-Instruct"]
    for key, value in QWEN25_7B.items():
        assert qwen[key] == value, key


@pytest.mark.parametrize("model_id", list(PUBLISHED))
def test_meta_device_counts_match_the_published_sizes(model_id):
    s = memplan.sizes(memplan.config_for(model_id))
    assert s.parameters == PUBLISHED[model_id]
    assert 0.7 < s.linear / s.parameters < 0.9


def test_lora_count_agrees_with_the_exercise_checker():
    assert memplan.sizes(memplan.config_for("unsloth/Qwen2.5-7B-Instruct")).lora_r16 == 40_370_176


def test_weights_per_tier():
    qwen = memplan.sizes(memplan.config_for("unsloth/Qwen2.5-7B-Instruct"))
    llama = memplan.sizes(memplan.config_for("unsloth/Llama-3.2-1B-Instruct"))
    assert memplan.weights_gib(qwen, "a100") == pytest.approx(14.19, abs=0.01)  # bf16
    assert memplan.weights_gib(qwen, "a100", "fp32") == pytest.approx(28.37, abs=0.01)
    assert memplan.weights_gib(llama, "t4") == pytest.approx(0.96, abs=0.01)  # NF4 layers, 16-bit embeddings
    assert memplan.weights_gib(llama, "t4", "fp16") == pytest.approx(2.30, abs=0.01)


def test_every_notebook_has_a_plan():
    assert set(memplan.PLANS) == {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}


@pytest.mark.parametrize("tier", ["t4", "a100"])
@pytest.mark.parametrize("notebook", sorted(memplan.PLANS))
def test_every_notebook_fits_its_card(notebook, tier):
    """The a100 tier on a 40 GB A100 and the t4 tier on a 15 GB T4 (the cards of tests/gpu_sim)."""
    card = {"t4": gpu_sim.CARDS["t4"]["gib"], "a100": gpu_sim.CARDS["a100-40"]["gib"]}[tier]
    assert memplan.check(notebook, tier, card) <= card


def test_a_plan_that_holds_three_7b_copies_does_not_fit():
    """The arithmetic can fail: the old notebook 08 (base and three fp32-merged adapters) is far over."""
    old_08 = memplan.Step("four models", models=("tier", "fp32", "fp32", "fp32"), generate=True)
    assert memplan.step_gib(old_08, "a100") > 2 * memplan.CARD_GIB["a100"]
    three = memplan.Step("three copies", models=("tier", "tier", "tier"), generate=True)
    assert memplan.step_gib(three, "a100") > memplan.CARD_GIB["a100"]


def test_too_small_a_card_gets_an_error_that_names_the_need_and_the_tier_that_fits():
    with pytest.raises(memplan.MemoryPlanError, match=r"05_lora_finetune on the a100 tier needs 3\d\.\d GiB at "
                       r"'section .*', more than the 16\.0 GiB of this card: set COURSE_TIER=t4"):
        memplan.check("05_lora_finetune", "a100", card_gib=16.0)
    with pytest.raises(KeyError, match="no memory plan"):
        memplan.table("12_extra", "t4")
    with pytest.raises(ValueError, match="not a GPU tier"):
        memplan.table("08_benchmark", "cpu")


def _code(notebook):
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_the_notebooks_release_what_their_plans_release():
    nb05, nb08, nb10 = _code("05_lora_finetune"), _code("08_benchmark"), _code("10_security")
    # 05: the knowledge copy goes before the reloaded one comes; no GPU merge; section 8 on the CPU
    assert nb05.index("del knowledge_gen, knowledge_run") < nb05.index('load_adapter(models.load_generator(), "behaviour")')
    assert 'if gen.tier == "cpu":' in nb05 and 'tier="cpu")' in nb05
    # 08: one model at a time
    assert "benchmark.run(systems.load_model," in nb08 and "del gen" in nb08
    # 10: each probe copy released before the next
    assert "del probe_gen" in nb10


def test_a_kept_probe_callback_does_not_keep_its_model():
    from helpers import finetune

    callback = finetune.every_n_steps(object(), 1, lambda g: {})
    assert callback.gen is not None
    callback.on_train_end(None, None, None)
    assert callback.gen is None


def test_training_shapes_come_from_the_recipes_a_gpu_runs(monkeypatch):
    """On a GPU a recipe's whole batch goes at once: the plan's micro-batch is the recipe's batch, read from it."""
    from helpers import finetune, systems

    monkeypatch.setattr(systems, "_on_cpu", lambda micro: None)  # what a CUDA runtime gives
    for run, recipe in [("behaviour", systems.behaviour_recipe()), ("knowledge", systems.knowledge_recipe(1)),
                        ("raft", systems.raft_recipe())]:
        assert memplan.train_shape(run)[0] == recipe.micro_batch(on_gpu=True) == recipe.batch_size, run
    assert memplan.train_shape("raft")[1] == systems.raft_recipe().max_length
    assert memplan.train_shape("case") == (systems.behaviour_recipe().batch_size, finetune.Recipe().max_length)
    with pytest.raises(KeyError, match="the runs are"):
        memplan.train_shape("dpo")


def test_the_notebook_batches_in_the_plan_are_the_notebooks():
    assert f"per_device_train_batch_size={memplan.BY_HAND_BATCH}," in _code("05_lora_finetune")
    assert f"batch = {memplan.PROBE_BATCH}  #" in _code("10_security")


def test_the_padded_lengths_hold_every_training_conversation():
    """The plan pads a behaviour batch to BEHAVIOUR_PADDED tokens and a fact batch to FACT_PADDED: counted again
    here on every training conversation with the embedded tokenizer, the longest must fit."""
    from transformers import AutoTokenizer

    from helpers import finetune, models

    tokenizer = AutoTokenizer.from_pretrained(models.embedded_generator_dir(progress=None))
    behaviour = finetune.chat_records({"json_extraction": None, "tone": None, "sql": None})
    facts = finetune.chat_records({"qa_static": None, "qa_live": None})
    longest_behaviour = finetune.check_lengths(tokenizer, behaviour, memplan.BEHAVIOUR_PADDED)
    longest_fact = finetune.check_lengths(tokenizer, facts, memplan.FACT_PADDED)
    assert longest_behaviour["truncated"] == 0 and longest_fact["truncated"] == 0
    # and the rounding is close: a plan padded far beyond the data would overstate the peak
    assert longest_behaviour["max_tokens"] > memplan.BEHAVIOUR_PADDED * 0.6
    assert longest_fact["max_tokens"] > memplan.FACT_PADDED * 0.4
