"""Fine-tuning: chat data, masking, recipe checks, backend choice (Unsloth faked), save/reload/merge equality."""

import importlib.util
import json
import os
import sys
import types

import pytest

from helpers import env, finetune, generate, models, tasks


def test_chat_records_have_the_guides_shape():
    records = finetune.chat_records({"json_extraction": 5, "tone": 5, "sql": 5, "qa_static": 5})
    assert len(records) == 20 and {r["task"] for r in records} == {"json_extraction", "tone", "sql", "qa_static"}
    for record in records:
        assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
    item = next(r for r in records if r["task"] == "json_extraction")
    assert set(json.loads(item["messages"][2]["content"])) == set(tasks.JSON_KEYS)
    dataset = finetune.chat_dataset({"tone": 3})
    assert dataset.column_names == ["task", "id", "messages"] and len(dataset) == 3


@pytest.mark.parametrize(
    ("record", "message"),
    [({"messages": [{"role": "user", "content": "hi"}]}, "at least a user and an assistant"),
     ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]}, "empty content"),
     ({"messages": [{"content": "hi"}, {"role": "assistant", "content": "ok"}]}, "no user message"),
     ({"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "ok"}]}, "must be the assistant"),
     ({"text": "hi"}, "needs a 'messages' list")],
)
def test_bad_training_records_are_named(record, message):
    with pytest.raises(ValueError, match=message):
        finetune.to_prompt_completion([{"id": "r1"} | record])


def test_bad_record_error_names_the_record():
    records = finetune.chat_records({"tone": 2})
    records[1]["messages"][2]["content"] = ""
    with pytest.raises(ValueError, match=r"training record 1 \(tone-train-\d+\)"):
        finetune.to_prompt_completion(records)


@pytest.mark.parametrize(("field", "value"), [("r", 0), ("max_steps", -1), ("learning_rate", 2.0), ("lora_dropout", 1.0),
                                              ("precision", "fp16"), ("bf16_mode", "amp"), ("micro_batch_size", 0)])
def test_recipe_checks(field, value):
    with pytest.raises(ValueError, match=f"Recipe.{field}"):
        finetune.Recipe(**{field: value}).check()


def test_micro_batch_larger_than_the_batch_is_refused():
    with pytest.raises(ValueError, match=r"micro_batch_size \(16\) is larger than Recipe.batch_size \(8\)"):
        finetune.Recipe(batch_size=8, micro_batch_size=16).check()
    with pytest.raises(ValueError, match="must divide"):
        finetune.Recipe(batch_size=8, micro_batch_size=3).check()


def test_micro_batch_defaults():
    assert finetune.Recipe(batch_size=8).micro_batch(on_gpu=False) == finetune.CPU_MICRO_BATCH
    assert finetune.Recipe(batch_size=8).micro_batch(on_gpu=True) == 8
    assert finetune.Recipe(batch_size=1).micro_batch() == 1
    assert finetune.Recipe(batch_size=9).micro_batch() in (1, 3) and 9 % finetune.Recipe(batch_size=9).micro_batch() == 0
    assert finetune.Recipe(batch_size=8, micro_batch_size=4).micro_batch(on_gpu=True) == 4


def test_step_order_keeps_each_step_and_sorts_inside_it():
    records = [{"id": i} for i in range(10)]
    lengths = [5, 50, 7, 30, 2, 90, 11, 40, 3, 60]
    recipe = finetune.Recipe(max_steps=4, batch_size=4)
    plain = finetune.step_order(records, lengths, finetune.Recipe(max_steps=4, batch_size=4, group_by_length=False))
    grouped = finetune.step_order(records, lengths, recipe)
    assert len(grouped) == 16
    for step in range(4):
        a, b = plain[step * 4:(step + 1) * 4], grouped[step * 4:(step + 1) * 4]
        assert sorted(a) == sorted(b), "sorting never moves a record to another step"
        assert [lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True)
    assert sorted(plain[:10]) == list(range(10)), "the first pass sees every record once"
    assert finetune.step_order(records, lengths, recipe) == grouped, "seeded"
    with pytest.raises(ValueError, match="one length per record"):
        finetune.step_order(records, lengths[:3], recipe)


@pytest.mark.slow
def test_lengths_are_counted(generator):
    records = finetune.chat_records({"json_extraction": 10})
    report = finetune.check_lengths(generator.tokenizer, records, max_length=100)
    assert report["records"] == 10 and report["truncated"] == 10 and report["max_tokens"] > 100
    assert finetune.check_lengths(generator.tokenizer, records, max_length=2048)["truncated"] == 0


@pytest.mark.slow
def test_template_parts_for_chatml(generator):
    assert finetune.response_template_parts(generator.tokenizer) == ("<|im_start|>user\n", "<|im_start|>assistant\n")


@pytest.mark.slow
def test_loss_covers_the_assistant_tokens_only(tmp_path):
    """Decode the tokens that carry a label: they must be exactly the assistant's reply (and its end-of-turn)."""
    gen = models.load_generator(tier="cpu")
    records = finetune.chat_records({"json_extraction": 2, "tone": 2})
    trainer = finetune.peft_trainer(gen, records, finetune.Recipe(max_steps=1, batch_size=2), tmp_path)
    example = trainer.train_dataset[0]
    batch = trainer.data_collator([example])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    learned = gen.tokenizer.decode(ids[labels != -100])
    full = gen.tokenizer.decode(ids)
    replies = [r["messages"][2]["content"] for r in records]
    reply = next(r for r in replies if r in full)
    assert learned.replace("<|im_end|>", "").strip() == reply
    assert "<|im_start|>user" not in learned and "Extract the support ticket" not in learned


@pytest.mark.slow
def test_train_on_prompt_puts_the_ticket_in_the_loss(tmp_path):
    """Recipe(train_on_prompt=True): the labelled tokens are the whole conversation, the user's ticket included."""
    gen = models.load_generator(tier="cpu")
    records = finetune.chat_records({"json_extraction": 2})
    trainer = finetune.peft_trainer(gen, records, finetune.Recipe(max_steps=1, batch_size=2, train_on_prompt=True),
                                    tmp_path)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    learned = gen.tokenizer.decode(ids[labels != -100])
    ticket = next(r["messages"][1]["content"] for r in records if r["messages"][1]["content"][:40] in learned)
    assert ticket[-40:] in learned and "<|im_start|>assistant" in learned
    assert trainer.course_loss == "every token (chunked)"


def test_backend_choice(monkeypatch):
    monkeypatch.setattr(env, "detect_runtime", lambda: env.Runtime())
    assert finetune.backend("cpu") == "peft" and finetune.backend("t4") == "peft"
    monkeypatch.setattr(env, "detect_runtime", lambda: env.Runtime(cuda=True, gpu_name="Tesla T4", vram_gb=15))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "unsloth" else real(name))
    assert finetune.backend("t4") == "peft", "no unsloth installed: the PEFT path"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "unsloth" else real(name))
    assert finetune.backend("t4") == "unsloth" and finetune.backend("cpu") == "peft"


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_unsloth_path_uses_the_same_recipe(monkeypatch, tmp_path, device):
    """With a fake unsloth, the GPU path calls FastLanguageModel and train_on_responses_only with the recipe;
    on CPU (Unsloth's CPU backend) it asks for no 4-bit, no 8-bit optimizer and the machine's precision."""
    calls = {}
    tokenizer = types.SimpleNamespace(apply_chat_template=lambda conv, tokenize=False, add_generation_prompt=False:
                                      "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in conv)
                                      + ("<|im_start|>assistant\n" if add_generation_prompt else ""))

    class FastLanguageModel:
        @staticmethod
        def from_pretrained(**kwargs):
            calls["from_pretrained"] = kwargs
            return types.SimpleNamespace(parameters=lambda: [], eval=lambda: None), tokenizer

        @staticmethod
        def get_peft_model(model, **kwargs):
            calls["get_peft_model"] = kwargs
            return model

        @staticmethod
        def for_inference(model):
            calls["for_inference"] = True

    def train_on_responses_only(trainer, instruction_part, response_part):
        calls["parts"] = (instruction_part, response_part)
        return trainer

    unsloth = types.ModuleType("unsloth")
    unsloth.FastLanguageModel = FastLanguageModel
    chat_templates = types.ModuleType("unsloth.chat_templates")
    chat_templates.train_on_responses_only = train_on_responses_only
    monkeypatch.setitem(sys.modules, "unsloth", unsloth)
    monkeypatch.setitem(sys.modules, "unsloth.chat_templates", chat_templates)

    class FakeTrainer:
        def __init__(self, **kwargs):
            calls["trainer"] = kwargs
            self.model = kwargs["model"]

    import trl

    monkeypatch.setattr(trl, "SFTTrainer", FakeTrainer)
    monkeypatch.setattr(finetune, "_sft_config", lambda recipe, out, on_gpu, bf16, **extra: {"on_gpu": on_gpu, **extra})
    monkeypatch.setattr(finetune, "_MemoryProbe", lambda: (lambda: 0.0))
    monkeypatch.setattr(finetune, "_run", lambda trainer, gen, model, recipe, name, peak, tokenizer=None: name)
    monkeypatch.setattr(finetune, "backend", lambda tier=None: "unsloth")
    gen = types.SimpleNamespace(tier="t4", model_id="unsloth/Llama-3.2-1B-Instruct", device=device)
    recipe = finetune.Recipe(precision="fp32", max_steps=2, batch_size=2)
    assert finetune.train(gen, finetune.chat_records({"tone": 4}), recipe, tmp_path) == "unsloth"
    assert calls["from_pretrained"]["load_in_4bit"] is (device == "cuda")
    assert calls["from_pretrained"]["model_name"] == "unsloth/Llama-3.2-1B-Instruct"
    assert calls["get_peft_model"] == {"r": 16, "lora_alpha": 16, "lora_dropout": 0.0,
                                       "target_modules": list(finetune.TARGET_MODULES),
                                       "use_gradient_checkpointing": "unsloth", "random_state": 3407}
    assert calls["parts"] == ("<|im_start|>user\n", "<|im_start|>assistant\n") and calls["for_inference"]
    assert len(calls["trainer"]["train_dataset"]) == 4, "max_steps x batch_size conversations, in step order"
    assert calls["trainer"]["args"]["optim"] == ("adamw_8bit" if device == "cuda" else "adamw_torch")
    if device == "cpu":
        import torch

        assert calls["from_pretrained"]["dtype"] == torch.float32 and os.environ["UNSLOTH_CPU_BF16"] == "0"


@pytest.mark.train
@pytest.mark.slow
def test_save_reload_merge_give_identical_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("COURSE_DTYPE", "fp32")
    gen = models.load_generator(tier="cpu")
    run = finetune.train(gen, finetune.chat_records({"json_extraction": 8}),
                         finetune.Recipe(max_steps=2, batch_size=2, learning_rate=1e-3), tmp_path / "run")
    assert run.losses and 0.01 < run.trainable_parameters / run.total_parameters < 0.1
    prompts = [tasks.messages("json_extraction", it) for it in
               __import__("helpers").data.load_task("json_extraction", "test")[:2]]
    trained = generate.generate(gen, prompts, max_new_tokens=20, batch_size=2, progress=False).texts
    path = finetune.save_adapter(run, "test-adapter")
    fresh = finetune.load_adapter(models.load_generator(tier="cpu"), "test-adapter")
    assert generate.generate(fresh, prompts, max_new_tokens=20, batch_size=2, progress=False).texts == trained
    merged = finetune.merge(fresh)
    assert not hasattr(merged.model, "merge_and_unload")
    assert generate.generate(merged, prompts, max_new_tokens=20, batch_size=2, progress=False).texts == trained
    meta = json.loads((path / finetune.ADAPTER_META).read_text())
    meta["base_model"] = "Qwen/Qwen2.5-0.5B-Instruct"
    (path / finetune.ADAPTER_META).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="trained on 'Qwen/Qwen2.5-0.5B-Instruct'"):
        finetune.load_adapter(models.load_generator(tier="cpu"), "test-adapter")
    with pytest.raises(FileNotFoundError, match="no adapter"):
        finetune.load_adapter(models.load_generator(tier="cpu"), "missing-adapter")


@pytest.mark.train
@pytest.mark.slow
def test_merging_a_bf16_trained_adapter_keeps_its_update(tmp_path, monkeypatch):
    """Trained on bf16 base weights, the adapter merges in fp32: merged == unmerged on an fp32 base."""
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path))
    gen = models.load_generator(tier="cpu", dtype="bf16")
    run = finetune.train(gen, finetune.chat_records({"json_extraction": 8}),
                         finetune.Recipe(max_steps=2, batch_size=2, learning_rate=1e-3, precision="bf16"), tmp_path)
    finetune.save_adapter(run, "bf16-adapter")
    prompts = [tasks.messages("json_extraction", it) for it in
               __import__("helpers").data.load_task("json_extraction", "test")[:2]]
    unmerged = finetune.load_adapter(models.load_generator(tier="cpu", dtype="fp32"), "bf16-adapter")
    expected = generate.generate(unmerged, prompts, max_new_tokens=20, progress=False).texts
    merged = finetune.merge(finetune.load_adapter(models.load_generator(tier="cpu", dtype="bf16"), "bf16-adapter"))
    import torch

    assert next(merged.model.parameters()).dtype == torch.float32
    assert generate.generate(merged, prompts, max_new_tokens=20, progress=False).texts == expected
    served = finetune.merge(finetune.load_adapter(models.load_generator(tier="cpu", dtype="fp32"), "bf16-adapter"),
                            dtype="bf16")  # to serve: the fp32 merge, rounded to bf16 afterwards
    assert {p.dtype for p in served.model.parameters()} == {torch.bfloat16}
    reference = dict(finetune.merge(unmerged).model.named_parameters())  # the same fp32 base, merged in fp32
    for name, weight in served.model.named_parameters():  # what bf16 rounding of the fp32 merge gives, exactly
        assert torch.equal(weight, reference[name].to(torch.bfloat16)), name
    with pytest.raises(ValueError, match="'fp32' or 'bf16'"):
        finetune.merge(finetune.load_adapter(models.load_generator(tier="cpu"), "bf16-adapter"), dtype="fp16")


@pytest.mark.train
@pytest.mark.slow
def test_micro_batches_give_the_same_losses_in_fp32(tmp_path):
    """Accumulating 4 micro-batches of 1 (or 2 of 2) is the same update as one batch of 4: identical losses."""
    records = finetune.chat_records({"json_extraction": 6, "tone": 6})
    losses = {}
    for micro in (4, 2, 1):
        gen = models.load_generator(tier="cpu", dtype="fp32")
        run = finetune.train(gen, records, finetune.Recipe(max_steps=2, batch_size=4, micro_batch_size=micro,
                                                           precision="fp32", learning_rate=1e-3), tmp_path / str(micro))
        losses[micro] = [loss for _, loss in run.losses]
        assert run.info["micro_batch_size"] == micro and run.info["gradient_accumulation_steps"] == 4 // micro
    assert len(losses[4]) == 2
    assert losses[2] == pytest.approx(losses[4], abs=2e-4) and losses[1] == pytest.approx(losses[4], abs=2e-4)


@pytest.mark.train
@pytest.mark.slow
def test_bf16_training_keeps_lora_weights_in_fp32(tmp_path):
    gen = models.load_generator(tier="cpu", dtype="fp32")
    run = finetune.train(gen, finetune.chat_records({"tone": 4}),
                         finetune.Recipe(max_steps=1, batch_size=2, precision="bf16"), tmp_path)
    import torch

    lora = {p.dtype for n, p in run.model.named_parameters() if "lora_" in n}
    base = {p.dtype for n, p in run.model.named_parameters() if "lora_" not in n}
    assert lora == {torch.float32} and base == {torch.bfloat16} and run.info["precision"] == "bf16-weights"


@pytest.mark.train
@pytest.mark.slow
def test_train_isolated_reports_its_own_figures():
    result = finetune.train_isolated({"json_extraction": 4}, finetune.Recipe(max_steps=1, batch_size=2),
                                     "json_extraction", n_eval=1)
    assert result["trainable_parameters"] < result["total_parameters"] and result["peak_rss_gb"] > 0.3
    assert 0 <= result["score"] <= 1 and result["seconds_per_step"] > 0
    with pytest.raises(RuntimeError, match="isolated training run failed: ValueError"):
        finetune.train_isolated({"no_such_task": 4}, finetune.Recipe(max_steps=1), "json_extraction", n_eval=1)


@pytest.mark.train
@pytest.mark.slow
def test_answer_loss_matches_trls_loss(tmp_path):
    """The answer-only chunked loss is the same training as TRL's loss over every position: same losses, same
    trained weights (fp32), and it counts the same tokens."""
    records = finetune.chat_records({"json_extraction": 4, "tone": 4})
    runs = {}
    for lean in (True, False):
        gen = models.load_generator(tier="cpu", dtype="fp32")
        runs[lean] = finetune.train(gen, records, finetune.Recipe(max_steps=2, batch_size=4, precision="fp32",
                                                                  learning_rate=1e-3, answer_only_loss=lean),
                                    tmp_path / str(lean))
    assert runs[True].info["loss"].startswith("answer") and runs[False].info["loss"].startswith("TRL")
    assert [x for _, x in runs[True].losses] == pytest.approx([x for _, x in runs[False].losses], abs=2e-4)
    assert runs[True].tokens == runs[False].tokens > 0
    weights = {lean: {n: p.detach() for n, p in run.model.named_parameters() if "lora_B" in n}
               for lean, run in runs.items()}
    assert all((weights[True][n] - weights[False][n]).abs().max() < 1e-4 for n in weights[True])


def test_answer_loss_of_a_batch_without_answers_is_a_connected_zero(generator_fp32):
    import torch

    ids = generator_fp32.tokenizer(["hello there", "a second line"], return_tensors="pt", padding=True)
    labels = torch.full_like(ids["input_ids"], -100)
    loss = finetune.answer_loss(generator_fp32.model, {**ids, "labels": labels})
    assert loss.item() == 0.0 and loss.requires_grad
    labels[:, 2:] = ids["input_ids"][:, 2:]
    labels[ids["attention_mask"] == 0] = -100
    full = generator_fp32.model(**ids, labels=labels).loss  # transformers' own loss over the same tokens
    assert finetune.answer_loss(generator_fp32.model, {**ids, "labels": labels}).item() == pytest.approx(
        full.item(), abs=1e-4)


def test_models_that_scale_their_logits_keep_trls_loss():
    import types as t

    assert finetune.plain_lm_head(t.SimpleNamespace(final_logit_softcapping=None))
    assert not finetune.plain_lm_head(t.SimpleNamespace(final_logit_softcapping=30.0))
    assert not finetune.plain_lm_head(t.SimpleNamespace(logits_scaling=8.0))


def test_steps_for():
    assert finetune.steps_for(3, 706, 16) == 133 and finetune.steps_for(1, 706, 16) == 45
    assert finetune.steps_for(0.1, 5, 16) == 1
    with pytest.raises(ValueError, match="positive"):
        finetune.steps_for(0, 10, 4)


@pytest.mark.train
@pytest.mark.slow
def test_every_n_steps_quizzes_the_model_being_trained(tmp_path, monkeypatch):
    gen = models.load_generator(tier="cpu")
    seen, trims = [], []
    release = env.release_memory
    monkeypatch.setattr(env, "release_memory", lambda: trims.append(len(seen)) or release())

    def quiz(g):
        assert g.model is not gen.model or hasattr(g.model, "peft_config")  # the model under training, with LoRA
        assert g.tokenizer.padding_side == "left"
        seen.append(g.model.training)
        return {"words": len(generate.generate(g, [[{"role": "user", "content": "hi"}]], max_new_tokens=4,
                                               progress=False).texts[0])}

    callback = finetune.every_n_steps(gen, 2, quiz)
    run = finetune.train(gen, finetune.chat_records({"tone": 4}), finetune.Recipe(max_steps=4, batch_size=2),
                         tmp_path, callbacks=[callback])
    assert [h["step"] for h in callback.history] == [2, 4] and [h["pass"] for h in callback.history] == [1, 2]
    assert seen == [False, False] and run.model.training is False
    assert trims and trims[0] == 0  # the heap is handed back before the first quiz starts, not only after it
    assert callback.seconds > 0 and run.seconds > 0
    with pytest.raises(ValueError, match="n_steps"):
        finetune.every_n_steps(gen, 0, quiz)
    stopper = finetune.every_n_steps(gen := models.load_generator(tier="cpu"), 1, lambda g: {"x": 1},
                                     stop=lambda result: True)
    run = finetune.train(gen, finetune.chat_records({"tone": 4}), finetune.Recipe(max_steps=4, batch_size=2),
                         tmp_path / "stop", callbacks=[stopper])
    assert [h["step"] for h in stopper.history] == [1] and [s for s, _ in run.losses] == [1]


def test_dataset_bars_are_off_while_the_trainer_is_built_and_restored_after():
    import datasets as dataset_tqdm

    dataset_tqdm.enable_progress_bars()
    with finetune._no_dataset_bars():
        assert dataset_tqdm.are_progress_bars_disabled()
    assert not dataset_tqdm.are_progress_bars_disabled()
    dataset_tqdm.disable_progress_bars()
    with finetune._no_dataset_bars():
        pass
    assert dataset_tqdm.are_progress_bars_disabled(), "a caller's own choice is kept"
    dataset_tqdm.enable_progress_bars()


def recipe_written_out(records, output_dir, steps=1, batch=4):
    """Notebook 05's section 2, PEFT + TRL branch: the recipe as a learner writes it without helpers."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    source = finetune.unsloth_source(models.load_generator(tier="cpu"))
    chats = Dataset.from_list([{"messages": r["messages"]} for r in records])
    pairs = chats.map(lambda row: {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]},
                      remove_columns=["messages"])
    lora = dict(r=16, lora_alpha=16, lora_dropout=0.0,
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(source), processing_class=AutoTokenizer.from_pretrained(source),
                         train_dataset=pairs, peft_config=LoraConfig(**lora, task_type="CAUSAL_LM"),
                         args=SFTConfig(output_dir=str(output_dir), max_steps=steps, per_device_train_batch_size=batch,
                                        learning_rate=3e-4, warmup_steps=0, logging_steps=1, save_strategy="no",
                                        report_to="none", seed=3407, max_length=512, gradient_checkpointing=False,
                                        completion_only_loss=True, use_cpu=True, bf16=False, optim="adamw_torch"))
    trainer.train()
    return trainer


@pytest.mark.train
@pytest.mark.slow
def test_the_recipe_written_out_is_the_packaged_recipe(tmp_path):
    """Same LoRA configuration, and the same first-step loss on the same four conversations (one batch each)."""
    records = finetune.chat_records({"json_extraction": 2, "tone": 2})
    by_hand = recipe_written_out(records, tmp_path / "hand")
    packaged = finetune.train(models.load_generator(tier="cpu", dtype="fp32"), records,
                              finetune.Recipe(max_steps=1, batch_size=4, warmup_steps=0, precision="fp32"),
                              tmp_path / "packaged")
    written, recipe = by_hand.model.peft_config["default"], packaged.model.peft_config["default"]
    for field in ("r", "lora_alpha", "lora_dropout", "target_modules", "bias", "task_type"):
        assert getattr(written, field) == getattr(recipe, field), field
    hand_loss = [h["loss"] for h in by_hand.state.log_history if "loss" in h]
    assert len(hand_loss) == 1 and len(packaged.losses) == 1
    assert packaged.losses[0][1] == pytest.approx(hand_loss[0], rel=2e-3)
    assert finetune.count_parameters(by_hand.model)[0] == packaged.trainable_parameters
