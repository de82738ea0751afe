"""The GPU branches under simulated cards (tests/gpu_sim.py): tier, bf16 and the trainer's precision flags, and
the turn markers of the tier models' chat templates (issue 41, defects 1 and 2)."""

import json
from pathlib import Path

import pytest

from helpers import env, finetune
from tests import gpu_sim

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("card", "tier", "bf16"), [
    ("t4", "t4", False), ("l4", "t4", True), ("a100-40", "a100", True), ("a100-80", "a100", True)])
def test_each_card_gets_its_tier_and_bf16_only_where_native(monkeypatch, clean_env, card, tier, bf16):
    import torch

    gpu_sim.simulate(monkeypatch, card)
    assert torch.cuda.is_bf16_supported(), "torch's default counts emulation: True on every card, the T4 too"
    runtime = env.detect_runtime()
    assert runtime.cuda and runtime.gpu_name == gpu_sim.CARDS[card]["name"]
    assert runtime.bf16 is bf16 and env.cuda_bf16() is bf16 and finetune._cuda_bf16() is bf16
    assert env.pick_tier(runtime) == tier


@pytest.mark.parametrize(("card", "bf16", "fp16"), [("t4", False, True), ("a100-40", True, False)])
def test_the_trainer_gets_fp16_on_a_t4_and_bf16_on_an_a100(monkeypatch, tmp_path, card, bf16, fp16):
    import trl

    gpu_sim.simulate(monkeypatch, card)
    # no real device behind the fake card: keep TrainingArguments from setting one up, keep every flag it gets
    monkeypatch.setattr(trl.SFTConfig, "__post_init__", lambda self: None)
    config = finetune._sft_config(finetune.Recipe(max_steps=1, batch_size=2), tmp_path, on_gpu=True,
                                  bf16=finetune._cuda_bf16())
    assert (config.bf16, config.fp16) == (bf16, fp16)


@pytest.mark.parametrize(("template", "user", "assistant"), [
    (gpu_sim.LLAMA3_TEMPLATE, "<|start_header_id|>user<|end_header_id|>\n\n",
     "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    (gpu_sim.QWEN25_TEMPLATE, "<|im_start|>user\n", "<|im_start|>assistant\n"),
])
def test_markers_come_from_the_template_and_keep_exactly_the_reply(template, user, assistant):
    tokenizer = gpu_sim.tokenizer_with(template, bos="<|begin_of_text|>" if "bos_token" in template else "")
    assert finetune.response_template_parts(tokenizer) == (user, assistant)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Refund window?"},
            {"role": "assistant", "content": "30 days [KB-110]"}]
    text = tokenizer.apply_chat_template(chat, tokenize=False)
    # what train_on_responses_only keeps: from the last assistant marker to the next user marker (or the end)
    kept = text[text.rindex(assistant) + len(assistant):]
    kept = kept.split(user)[0]
    for end in ("<|eot_id|>", "<|im_end|>\n"):
        kept = kept.removesuffix(end)
    assert kept == "30 days [KB-110]"
    assert "<|im_start|>" not in text or template is gpu_sim.QWEN25_TEMPLATE  # Llama 3 has no ChatML markers


def test_05s_written_out_recipe_takes_markers_and_bf16_as_the_packaged_path_does():
    cells = ["".join(c["source"]) for c in json.loads((ROOT / "notebooks" / "05_lora_finetune.ipynb").read_text())["cells"]]
    recipe = next(c for c in cells if "FastLanguageModel.from_pretrained" in c and "train_on_responses_only(" in c)
    assert "<|im_start|>" not in recipe, "05's Unsloth cell hard-codes ChatML markers (Llama 3 has none)"
    assert "finetune.response_template_parts(tokenizer)" in recipe
    assert "is_bf16_supported(including_emulation=False)" in recipe
    for path in ("helpers/env.py", "helpers/finetune.py", "scripts/gpu_finetune_bench.py"):
        source = (ROOT / path).read_text()
        assert "is_bf16_supported()" not in source, f"{path} counts emulated bf16 (True on a T4)"


def test_a_tier_too_big_for_the_card_is_refused_before_any_download(monkeypatch, clean_env):
    gpu_sim.simulate(monkeypatch, "t4")
    monkeypatch.setenv("COURSE_TIER", "a100")
    with pytest.raises(ValueError, match=r"needs a GPU with at least 38 GiB; this Tesla T4 has 14.7 GiB\. Use COURSE_TIER=t4"):
        env.pick_tier()
    monkeypatch.setenv("COURSE_TIER", "t4")
    assert env.pick_tier() == "t4"


@pytest.mark.parametrize(("card", "rate"), [("t4", 2e-4), ("a100-80", 2e-4)])
def test_learning_rate_follows_the_tier(monkeypatch, clean_env, card, rate):
    from helpers import systems

    assert env.learning_rate("cpu") == 1e-3
    gpu_sim.simulate(monkeypatch, card)
    assert env.learning_rate() == rate
    assert {systems.behaviour_recipe().learning_rate, systems.raft_recipe().learning_rate} == {rate}


def test_release_memory_empties_the_cuda_cache(monkeypatch):
    import torch

    gpu_sim.simulate(monkeypatch, "a100-40")
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    env.release_memory()
    assert emptied == [True]


def test_a_4bit_model_is_not_merged(monkeypatch):
    import types

    gen = types.SimpleNamespace(tier="t4", model=types.SimpleNamespace(merge_and_unload=lambda: None,
                                                                      is_loaded_in_4bit=True))
    with pytest.raises(ValueError, match="re-quantises the sum to NF4"):
        finetune.merge(gen)


def test_threads_are_fitted_on_the_cpu_only(monkeypatch):
    import types

    from helpers import generate

    fitted = []
    monkeypatch.setattr(env, "fit_threads", lambda *a, **k: fitted.append(True))
    gen = types.SimpleNamespace(device="cuda:0", tokenizer=None, model=None)
    with pytest.raises(Exception):  # noqa: B017  (the fake model cannot generate; the threads are decided before)
        generate.generate(gen, ["hi"], progress=False)
    assert fitted == []


def test_05s_schema_processor_masks_logits_wider_than_the_tokenizer(generator):
    """Qwen2.5-7B has 152,064 logits for 151,665 tokenizer entries: 05's by-hand processor must widen its mask
    (the extra logits can never be allowed) and build it on the logits' device."""
    import llguidance
    import llguidance.hf
    import llguidance.torch
    import torch

    from helpers import data

    cells = ["".join(c["source"]) for c in json.loads((ROOT / "notebooks" / "05_lora_finetune.ipynb").read_text())["cells"]]
    cell = next(c for c in cells if "class FollowSchema" in c)
    source = cell[cell.index("class FollowSchema"):cell.index("ticket = data.heldout_tickets()")]
    ll_tokenizer = llguidance.hf.from_tokenizer(generator.tokenizer)
    grammar = llguidance.LLMatcher.grammar_from_json_schema(data.ticket_schema())
    namespace = {"llguidance": llguidance, "torch": torch, "ll_tokenizer": ll_tokenizer, "grammar": grammar,
                 "LogitsProcessor": object}
    exec(source, namespace)
    width = len(generator.tokenizer) + 399
    scores = torch.zeros(1, width)
    masked = namespace["FollowSchema"]()(torch.zeros(1, 3, dtype=torch.long), scores)
    assert masked.shape == (1, width)
    assert torch.isinf(masked[0, len(generator.tokenizer):]).all(), "logits beyond the tokenizer stay masked"
    assert not torch.isinf(masked[0]).all(), "the schema allows some token at the start"


# Qwen2.5-7B-Instruct's published config (config.json on the hub), for the a100 tier's exercise checks.
QWEN25_7B = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
             "num_key_value_heads": 4, "vocab_size": 152064, "model_type": "qwen2"}


def test_05s_lora_checks_judge_the_tier_model_not_smollm2():
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Qwen2Config

    from helpers import check

    config = Qwen2Config(**{k: v for k, v in QWEN25_7B.items() if k != "model_type"})
    # Unsloth prints 40,370,176 trainable parameters for Qwen2.5-7B with r=16 on the seven modules
    assert check.lora_parameters(40_370_176, r=16, config=config)
    assert not check.lora_parameters(4_884_480, r=16, config=config), "SmolLM2's count is wrong for the 7B model"
    with torch.device("meta"):  # as 05's exercise cell builds it: shapes only, no 28 GB of fp32 weights
        skeleton = AutoModelForCausalLM.from_config(config)
    model = get_peft_model(skeleton, LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    assert check.lora_model(model, r=8, target_modules=("q_proj", "v_proj"))
    cells = ["".join(c["source"]) for c in json.loads((ROOT / "notebooks" / "05_lora_finetune.ipynb").read_text())["cells"]]
    exercise = next(c for c in cells if "check.lora_model(your_model" in c)
    assert 'torch.device("meta")' in exercise and "from_pretrained(source)," not in exercise


def test_configure_imports_unsloth_before_anything_else_on_a_gpu(monkeypatch, clean_env):
    """02 and 10 load the embedder (sentence-transformers, so transformers) before any generator: configure,
    the first call of every notebook, must import Unsloth where it is the backend."""
    import importlib.util
    import sys
    import types

    gpu_sim.simulate(monkeypatch, "t4")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "unsloth" else real(name, *a))
    imported = []
    monkeypatch.setitem(sys.modules, "unsloth", types.ModuleType("unsloth"))
    monkeypatch.setattr(env, "import_backend", lambda tier=None: imported.append(env.finetune_backend(tier)) or "unsloth")
    env.configure()
    assert imported == ["unsloth"]


@pytest.mark.parametrize(("card", "cap"), [("t4", 32768), ("l4", 32768), ("a100-40", 65536), ("a100-80", 65536)])
def test_a_gpu_batch_holds_more_prompt_tokens_than_the_cpus(monkeypatch, clean_env, card, cap):
    """Defect 10: the CPU's cap of 8,192 padded prompt tokens held GPU batches of RAG prompts to about 13."""
    import types

    from helpers import generate

    gpu_sim.simulate(monkeypatch, card)
    gen = types.SimpleNamespace(tier=env.pick_tier(), device="cuda:0")
    assert generate.batch_token_cap(gen) == cap
    assert generate.batch_token_cap(types.SimpleNamespace(tier="cpu")) == generate.EVAL_BATCH_TOKENS == 8192
    assert generate.batch_token_cap(gen, 100) == 100 and generate.batch_token_cap(gen, None) is None
    rag_prompts = [613] * 32  # the longest RAG prompts measured on the CPU (generate.EVAL_BATCH_TOKENS)
    assert [len(b) for b in generate.plan_batches(rag_prompts, 32, cap)] == [32]
    assert len(generate.plan_batches(rag_prompts, 32, 8192)[0]) == 13
    with pytest.raises(ValueError, match="unknown tier"):
        generate.batch_token_cap(types.SimpleNamespace(tier="h100"))


def _tiny_adapters(folders):
    """LoRA adapters on the embedded model, one per folder, each with its own random (non-zero) B matrices."""
    import torch
    from peft import LoraConfig, get_peft_model

    from helpers import models

    peft_model = get_peft_model(models.load_generator(tier="cpu", dtype="fp32").model,
                                LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    for seed, folder in enumerate(folders, 1):
        torch.manual_seed(seed)
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(param, std=0.5)
        peft_model.save_pretrained(str(folder))


@pytest.mark.slow  # loads the embedded model five times
def test_gpu_tiers_share_one_base_model_between_adapters(monkeypatch, tmp_path):
    """Defect 3: on a GPU tier the generators are views of one base model with every adapter beside it; each view
    generates exactly what its own separately loaded model does, and the base view with the adapters off."""
    from helpers import finetune, generate, models, systems

    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("COURSE_TIER", "cpu")
    _tiny_adapters([finetune.adapter_dir("behaviour"), finetune.adapter_dir("raft")])
    shared = systems.load_generators(["base", "behaviour", "raft"], dtype="fp32", shared=True)
    assert len({id(g.model) for g in shared.values()}) == 1, "one model in memory"
    prompts = [[{"role": "user", "content": "What is a workflow?"}]]

    def say(gen):
        return generate.generate(gen, prompts, max_new_tokens=12, progress=False).texts

    alone = {"base": models.load_generator(tier="cpu", dtype="fp32")}
    for name in ("behaviour", "raft"):
        alone[name] = finetune.load_adapter(models.load_generator(tier="cpu", dtype="fp32"), name)
    said = {name: say(gen) for name, gen in shared.items()}
    assert said == {name: say(gen) for name, gen in alone.items()}
    assert said["behaviour"] != said["base"] and said["raft"] != said["behaviour"], "the adapters change the replies"
    assert say(shared["base"]) == said["base"], "switching back and forth leaves no adapter on"


@pytest.mark.parametrize(("tier", "merges"), [("cpu", True), ("t4", False), ("a100", False)])
def test_adapters_are_merged_on_the_cpu_only(monkeypatch, tmp_path, tier, merges):
    """Defects 3 and 4: an fp32 merge doubles a 7B model's memory on an A100, and a 4-bit merge loses the update."""
    import types

    from helpers import systems

    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path))
    (finetune.adapter_dir("behaviour")).mkdir(parents=True)
    (finetune.adapter_dir("behaviour") / "adapter_config.json").write_text("{}")
    merged = []
    monkeypatch.setattr(finetune, "load_adapter", lambda gen, name: gen)
    monkeypatch.setattr(finetune, "merge", lambda gen, dtype="fp32": merged.append(dtype) or gen)
    systems.load_adapter_or_train("behaviour", gen=types.SimpleNamespace(tier=tier))
    assert bool(merged) is merges


def test_a_tokenizer_larger_than_the_models_scores_is_refused_before_generation():
    import types

    from helpers import generate

    model = types.SimpleNamespace(config=types.SimpleNamespace(vocab_size=10))
    with pytest.raises(ValueError, match="the tokenizer has 20 tokens but the model scores only 10"):
        generate._vocab_size(model, list(range(20)))
    assert generate._vocab_size(types.SimpleNamespace(config=types.SimpleNamespace(vocab_size=30)), list(range(20))) == 30


@pytest.mark.parametrize(("card", "shares"), [("t4", True), ("a100-40", True), (None, False)])
def test_a_gpu_card_gets_the_shared_base_model_and_a_cpu_does_not(monkeypatch, clean_env, card, shares):
    """The branch that picks the shared base model runs only under CUDA: here under a simulated card."""
    from helpers import models, systems

    if card:
        gpu_sim.simulate(monkeypatch, card)
    else:
        monkeypatch.setenv("COURSE_TIER", "cpu")
    called = []
    monkeypatch.setattr(systems, "shared_generators", lambda names, dtype=None: called.append(list(names)) or {})
    monkeypatch.setattr(models, "load_generator", lambda dtype=None: "BASE")
    out = systems.load_generators(["base", "base"])
    assert (called == [["base"]]) is shares
    assert shares or out == {"base": "BASE"}
