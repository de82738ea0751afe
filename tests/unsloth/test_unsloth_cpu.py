"""The course's Unsloth path, executed for real through Unsloth's CPU backend (run in .venv-unsloth by `make test`).

Nothing here is faked: ``finetune.train`` goes through ``unsloth.FastLanguageModel`` (2026.10's CPU backend,
``FastCPUModel``) on the embedded SmolLM2. Adapters cross between this environment (TRL 1.15, transformers
5.17) and the main PEFT one (TRL 1.16, transformers 5.23) in both directions, as they do between Colab and a
laptop. What only a GPU can show (4-bit loading on a T4, fp16 training, GGUF export) stays covered by the
fake-module tests in tests/test_finetune.py.

These tests fail, never skip, when Unsloth is missing: this folder only runs where Unsloth must be.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

os.environ["COURSE_FINETUNE_BACKEND"] = "unsloth"
os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
import unsloth  # noqa: E402,F401 - Unsloth first, before transformers, trl and peft

from helpers import data, finetune, generate, models, tasks  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MAIN_PYTHON = Path(os.environ.get("COURSE_MAIN_PYTHON", ROOT / ".venv" / "bin" / "python"))
RECIPE = dict(max_steps=6, batch_size=4, learning_rate=1e-3, precision="fp32")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    path = tmp_path_factory.mktemp("unsloth-ws")
    os.environ["COURSE_WORKSPACE"] = str(path)
    os.environ["COURSE_CACHE_DIR"] = os.environ.get("COURSE_CACHE_DIR") or str(ROOT / ".course" / "models")
    return path


@pytest.fixture(scope="module")
def trained(workspace):
    """One short Unsloth run on JSON tickets (fp32 on both sides, so outputs can be compared exactly)."""
    spy = {}
    real = unsloth.FastLanguageModel.get_peft_model

    def get_peft_model(model, **kwargs):
        spy.update(kwargs)
        return real(model, **kwargs)

    unsloth.FastLanguageModel.get_peft_model = get_peft_model
    try:
        gen = models.load_generator(tier="cpu", dtype="fp32")
        run = finetune.train(gen, finetune.chat_records({"json_extraction": 32}), finetune.Recipe(**RECIPE),
                             workspace / "run")
    finally:
        unsloth.FastLanguageModel.get_peft_model = real
    return gen, run, spy


def prompts(n=3):
    return [tasks.messages("json_extraction", it) for it in data.load_task("json_extraction", "test")[:n]]


def test_unsloth_is_the_real_cpu_backend():
    from unsloth import FastLanguageModel

    assert finetune.backend("cpu") == "unsloth"
    assert any(c.__name__ == "FastCPUModel" for c in FastLanguageModel.__mro__), FastLanguageModel.__mro__


def test_training_through_unsloth_lowers_the_loss(trained):
    _, run, _ = trained
    losses = [loss for _, loss in run.losses]
    assert run.backend == "unsloth" and len(losses) == RECIPE["max_steps"]
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:2]) / 2, losses
    assert 0.01 < run.trainable_parameters / run.total_parameters < 0.1 and run.tokens > 0


def test_unsloth_received_the_recipe(trained):
    _, run, spy = trained
    assert spy == {"r": 16, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": list(finetune.TARGET_MODULES),
                   "use_gradient_checkpointing": "unsloth", "random_state": 3407}
    config = run.model.peft_config["default"]
    assert (config.r, config.lora_alpha, config.lora_dropout) == (16, 16, 0.0)
    assert set(config.target_modules) == set(finetune.TARGET_MODULES)


def test_labels_are_exactly_the_assistant_reply(workspace):
    gen = models.load_generator(tier="cpu", dtype="fp32")
    records = finetune.chat_records({"json_extraction": 2, "tone": 2})
    trainer = finetune.unsloth_trainer(gen, records, finetune.Recipe(max_steps=1, batch_size=2), workspace / "labels")
    tokenizer = trainer.processing_class
    for example in (trainer.train_dataset[0], trainer.train_dataset[1]):
        batch = trainer.data_collator([example])
        ids, labels = batch["input_ids"][0], batch["labels"][0]
        learned = tokenizer.decode(ids[labels != -100])
        full = tokenizer.decode(ids)
        reply = next(r["messages"][2]["content"] for r in records if r["messages"][2]["content"] in full)
        assert learned.replace("<|im_end|>", "").strip() == reply
        assert "<|im_start|>user" not in learned


def test_for_inference_then_generate_gives_text(trained):
    gen, _, _ = trained
    out = generate.generate(gen, prompts(2), max_new_tokens=40, progress=False)
    assert all(t.strip() for t in out.texts) and gen.backend == "unsloth"


def _main_env(code: str, **env_vars) -> dict:
    """Run `code` in the main (PEFT, TRL 1.16) environment; it prints one JSON line."""
    assert MAIN_PYTHON.is_file(), f"the main environment is missing ({MAIN_PYTHON}): run `make setup` first"
    env = {k: v for k, v in os.environ.items() if k != "COURSE_FINETUNE_BACKEND"} | env_vars
    done = subprocess.run([str(MAIN_PYTHON), "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_unsloth_adapter_loads_in_the_main_environment(trained, workspace):
    gen, run, _ = trained
    expected = generate.generate(gen, prompts(), max_new_tokens=32, progress=False).texts
    finetune.save_adapter(run, "from-unsloth")
    code = ("import json; from helpers import data, finetune, generate, models, tasks\n"
            "gen = finetune.load_adapter(models.load_generator(tier='cpu', dtype='fp32'), 'from-unsloth')\n"
            "ps = [tasks.messages('json_extraction', it) for it in data.load_task('json_extraction', 'test')[:3]]\n"
            "print(json.dumps({'texts': generate.generate(gen, ps, max_new_tokens=32, progress=False).texts, "
            "'peft': type(gen.model).__name__}))")
    other = _main_env(code)
    assert other["peft"] == "PeftModelForCausalLM" and other["texts"] == expected


def test_a_peft_adapter_from_the_main_environment_loads_here(workspace):
    code = ("import json; from helpers import data, finetune, generate, models, tasks\n"
            "gen = models.load_generator(tier='cpu', dtype='fp32')\n"
            "run = finetune.train(gen, finetune.chat_records({'json_extraction': 8}), finetune.Recipe(max_steps=2, "
            "batch_size=2, learning_rate=1e-3, precision='fp32'))\n"
            "finetune.save_adapter(run, 'from-peft')\n"
            "ps = [tasks.messages('json_extraction', it) for it in data.load_task('json_extraction', 'test')[:3]]\n"
            "print(json.dumps({'texts': generate.generate(gen, ps, max_new_tokens=32, progress=False).texts, "
            "'backend': run.backend}))")
    other = _main_env(code)
    assert other["backend"] == "peft"
    here = finetune.load_adapter(models.load_generator(tier="cpu", dtype="fp32"), "from-peft")
    assert generate.generate(here, prompts(), max_new_tokens=32, progress=False).texts == other["texts"]


def test_an_adapter_for_another_base_model_is_refused_here(trained, workspace):
    _, run, _ = trained
    path = finetune.save_adapter(run, "wrong-base")
    meta = json.loads((path / finetune.ADAPTER_META).read_text())
    meta["base_model"] = "unsloth/Llama-3.2-1B-Instruct"
    (path / finetune.ADAPTER_META).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="trained on 'unsloth/Llama-3.2-1B-Instruct'"):
        finetune.load_adapter(models.load_generator(tier="cpu", dtype="fp32"), "wrong-base")


def test_merge_and_unsloths_merged_save_match_the_unmerged_model(trained, workspace):
    import copy

    import torch
    from transformers import AutoModelForCausalLM

    gen, run, _ = trained
    expected = generate.generate(gen, prompts(), max_new_tokens=32, progress=False).texts
    merged = copy.copy(gen)
    merged.model = copy.deepcopy(run.model)
    finetune.merge(merged)
    assert generate.generate(merged, prompts(), max_new_tokens=32, progress=False).texts == expected
    # Unsloth's merged_16bit rounds the merged weights to 16 bits (bf16, or fp16 on a CPU without bf16):
    # reloaded, the greedy outputs must still match the unmerged model's on most prompts.
    folder = workspace / "merged16"
    run.model.save_pretrained_merged(str(folder), gen.tokenizer, save_method="merged_16bit")
    reloaded = copy.copy(gen)
    reloaded.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    texts = generate.generate(reloaded, prompts(), max_new_tokens=32, progress=False).texts
    agree = sum(a == b for a, b in zip(texts, expected, strict=True))
    assert agree >= 2, f"merged_16bit changed {3 - agree} of 3 greedy outputs: {texts} vs {expected}"
