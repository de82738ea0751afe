"""One LoRA recipe, two backends: Unsloth on a CUDA GPU, transformers + PEFT + TRL everywhere else.

The recipe is DESIGN.md's: r=16, alpha=16, dropout 0, all seven linear projections, seed 3407,
loss on the assistant's tokens only. ``train()`` picks the backend (``env.finetune_backend``):
Unsloth's ``FastLanguageModel`` when CUDA and the ``unsloth`` package are present (4-bit on the t4
tier, bf16 on a100, ``use_gradient_checkpointing="unsloth"``, ``train_on_responses_only``), or on any
machine with ``COURSE_FINETUNE_BACKEND=unsloth`` (Unsloth's CPU backend); else ``peft.LoraConfig`` +
TRL's ``SFTTrainer`` with the same values. On CPU a step's batch is fed in micro-batches with
gradient accumulation (same update, a fraction of the memory), each step's conversations sorted by
length, and the precision follows the hardware: bf16 base weights with fp32 LoRA weights where the CPU
computes bf16 natively, fp32 elsewhere (``env.compute_dtype``; no gradient checkpointing on CPU).

Example::

    from helpers import finetune, models
    gen = models.load_generator()
    data = finetune.chat_dataset({"json_extraction": 200}, split="train")
    run = finetune.train(gen, data, finetune.Recipe(max_steps=30))
    run.model          # the model with its LoRA adapter, ready for helpers.generate
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import env, tasks

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ADAPTER_META = "course_adapter.json"


# Measured on the 2-core course machine (make bench, group "efficiency"): micro-batches of 2 ran fastest
# of 1, 2 and 4 on the behaviour mix, at about a third of the memory of whole batches of 8.
CPU_MICRO_BATCH = 2
BF16_MODES = ("weights", "autocast")


@dataclass
class Recipe:
    """The training recipe. Defaults are the course's LoRA recipe; change one field for an experiment.

    ``batch_size`` is the effective batch: the conversations behind one optimizer step. On CPU they are
    fed ``micro_batch_size`` at a time and the gradients accumulated, which gives the same update with
    a fraction of the memory (None: ``CPU_MICRO_BATCH`` on CPU, the whole batch on a GPU).
    ``precision`` None follows the machine (``env.compute_dtype``: bf16 where the CPU has it natively);
    ``bf16_mode`` says how: "weights" keeps the base weights in bf16 and the LoRA weights in fp32 (as
    Unsloth's CPU backend does), "autocast" keeps fp32 weights and computes in bf16.
    ``answer_only_loss`` (CPU) computes the loss from the answer's positions alone, in chunks; False keeps
    TRL's own loss, which on CPU projects every position (prompt and padding too) onto the vocabulary.
    ``train_on_prompt`` puts the prompt's tokens (system and user turns) into the loss as well, as TRL does
    by default for whole conversations: the model then learns the customer's text too, not only the
    answer (notebook 10's memorisation probe trains this way; the course's adapters do not).
    """

    r: int = 16
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = TARGET_MODULES
    seed: int = 3407
    max_steps: int = 30
    batch_size: int = 8
    micro_batch_size: int | None = None
    group_by_length: bool = True  # sort each step's conversations by length: less padding per micro-batch
    learning_rate: float = 3e-4
    warmup_steps: int = 3
    max_length: int = 512
    precision: str | None = None  # "fp32", "bf16" or None (from the machine)
    bf16_mode: str = "weights"
    full_finetune: bool = False  # True: train every weight (for the LoRA vs full comparison)
    answer_only_loss: bool = True  # CPU: project only the answer's positions to the vocabulary (see AnswerLossTrainer)
    train_on_prompt: bool = False  # True: the loss covers the prompt's tokens too, not only the answer's

    def check(self) -> Recipe:
        """Validate the values; raise ValueError naming the field at fault."""
        for name in ("r", "lora_alpha", "max_steps", "batch_size", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Recipe.{name} must be a positive integer, got {value!r}")
        if self.micro_batch_size is not None:
            if not isinstance(self.micro_batch_size, int) or self.micro_batch_size < 1:
                raise ValueError(f"Recipe.micro_batch_size must be a positive integer or None, got {self.micro_batch_size!r}")
            if self.micro_batch_size > self.batch_size:
                raise ValueError(f"Recipe.micro_batch_size ({self.micro_batch_size}) is larger than Recipe.batch_size "
                                 f"({self.batch_size}): a micro-batch is a slice of the batch of one optimizer step")
            if self.batch_size % self.micro_batch_size:
                raise ValueError(f"Recipe.micro_batch_size ({self.micro_batch_size}) must divide Recipe.batch_size "
                                 f"({self.batch_size}) so every step sees the same number of conversations")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"Recipe.lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"Recipe.learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.precision is not None and self.precision not in env.DTYPES:
            raise ValueError(f"Recipe.precision must be one of {list(env.DTYPES)} or None, got {self.precision!r}")
        if self.bf16_mode not in BF16_MODES:
            raise ValueError(f"Recipe.bf16_mode must be one of {list(BF16_MODES)}, got {self.bf16_mode!r}")
        return self

    def micro_batch(self, on_gpu: bool = False) -> int:
        """The micro-batch used: the recipe's, else the whole batch on a GPU and ``CPU_MICRO_BATCH`` on CPU."""
        if self.micro_batch_size is not None:
            return self.micro_batch_size
        if on_gpu:
            return self.batch_size
        micro = min(CPU_MICRO_BATCH, self.batch_size)
        while self.batch_size % micro:
            micro -= 1
        return micro

    def dtype(self) -> str:
        """The precision used: the recipe's, else the machine's (``env.compute_dtype``)."""
        return self.precision or env.compute_dtype()


@dataclass
class TrainRun:
    """What a training run produced and measured."""

    model: Any
    tokenizer: Any
    backend: str
    recipe: Recipe
    losses: list[tuple[int, float]]
    seconds: float
    tokens: int
    trainable_parameters: int
    total_parameters: int
    peak_memory_gb: float  # GPU: allocator peak; CPU: peak resident memory above the pre-run level
    info: dict = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        """Training tokens (prompt and completion) processed per second."""
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def seconds_per_step(self) -> float:
        """Wall-clock seconds per optimizer step."""
        return self.seconds / max(1, self.recipe.max_steps)


# ---------------------------------------------------------------------------------------------
# Data in the guide's chat shape
# ---------------------------------------------------------------------------------------------

def check_conversation(record: Mapping, where: str = "record") -> list[dict]:
    """Validate one ``{"messages": [...]}`` record: system?, user, assistant with non-empty contents."""
    conversation = record.get("messages") if isinstance(record, Mapping) else None
    if not isinstance(conversation, list) or len(conversation) < 2:
        raise ValueError(f"{where}: needs a 'messages' list with at least a user and an assistant turn")
    roles = [m.get("role") if isinstance(m, Mapping) else None for m in conversation]
    if roles[-1] != "assistant":
        raise ValueError(f"{where}: the last message must be the assistant's (got roles {roles})")
    if "user" not in roles:
        raise ValueError(f"{where}: no user message (got roles {roles})")
    for i, message in enumerate(conversation):
        if message.get("role") not in {"system", "user", "assistant"}:
            raise ValueError(f"{where}: message {i} has role {message.get('role')!r}; use system, user or assistant")
        if not isinstance(message.get("content"), str) or not message["content"].strip():
            raise ValueError(f"{where}: message {i} ({message.get('role')}) has an empty content")
    return list(conversation)


def chat_records(mix: Mapping[str, int | None], split: str = "train", seed: int = 3407) -> list[dict]:
    """``{"messages": [system, user, assistant]}`` records from the task splits, shuffled.

    `mix` maps a task to how many items to take (None: all). Example: ``{"json_extraction": 200, "tone": 200}``.
    """
    from . import data

    records = []
    for task, n in mix.items():
        items = data.load_task(task, split)
        if n is not None:
            items = items[:n]
        records += [{"task": task, "id": it["id"], "messages": tasks.messages(task, it, answer=True)} for it in items]
    random.Random(seed).shuffle(records)
    return records


def chat_dataset(mix: Mapping[str, int | None], split: str = "train", seed: int = 3407):
    """The same records as a ``datasets.Dataset`` (columns: task, id, messages)."""
    from datasets import Dataset

    return Dataset.from_list(chat_records(mix, split, seed))


def to_prompt_completion(records: Sequence[Mapping]):
    """Split each conversation into TRL's prompt/completion form, so the loss covers the completion only."""
    from datasets import Dataset

    rows = []
    for i, record in enumerate(records):
        conversation = check_conversation(record, where=f"training record {i} ({record.get('id', 'no id')})")
        rows.append({"prompt": conversation[:-1], "completion": conversation[-1:]})
    return Dataset.from_list(rows)


def count_tokens(tokenizer, conversation: Sequence[Mapping]) -> int:
    """Tokens of one conversation after the chat template."""
    ids = tokenizer.apply_chat_template(list(conversation), tokenize=True)
    return len(ids["input_ids"] if isinstance(ids, Mapping) else ids)


def check_lengths(tokenizer, records: Sequence[Mapping], max_length: int) -> dict:
    """Count conversations longer than `max_length` tokens. They are truncated in training (the end of
    the answer is lost), so the count is reported rather than hidden."""
    lengths = [count_tokens(tokenizer, check_conversation(r, f"record {i} ({r.get('id', 'no id')})"))
               for i, r in enumerate(records)]
    too_long = [records[i].get("id", i) for i, n in enumerate(lengths) if n > max_length]
    return {"records": len(lengths), "mean_tokens": round(sum(lengths) / max(1, len(lengths)), 1),
            "max_tokens": max(lengths, default=0), "truncated": len(too_long), "truncated_ids": too_long[:10]}


def response_template_parts(tokenizer) -> tuple[str, str]:
    """The strings that open a user turn and an assistant turn in this tokenizer's chat template.

    Unsloth's ``train_on_responses_only`` masks everything but the text after the assistant part;
    deriving both parts from the template keeps it right for ChatML (SmolLM2, Qwen) and Llama 3 alike.
    """
    probe = [{"role": "user", "content": "\u2063USER\u2063"}]
    without = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=False)
    with_prompt = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    response_part = with_prompt[len(without):]
    if not response_part or "assistant" not in response_part:
        raise ValueError("cannot find the assistant header in this tokenizer's chat template")
    opener = response_part.split("assistant")[0]
    before_user = without[: without.index("\u2063USER\u2063")]
    instruction_part = before_user[before_user.rfind(opener):]
    return instruction_part, response_part


# ---------------------------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------------------------

def backend(tier: str | None = None) -> str:
    """'unsloth' or 'peft': see ``env.finetune_backend`` (COURSE_FINETUNE_BACKEND, else Unsloth on a CUDA tier)."""
    return env.finetune_backend(tier)


def step_order(records: Sequence[Mapping], lengths: Sequence[int], recipe: Recipe) -> list[int]:
    """The order in which training sees the records: ``max_steps * batch_size`` indices, one batch per step.

    Each pass over the data is a fresh seeded shuffle; the records of one step are then sorted by length
    (longest first) when ``recipe.group_by_length``, so a micro-batch holds conversations of similar
    length and carries little padding. Sorting inside a step never moves a record to another step, so
    the update of every step, and its loss, is the same whatever the micro-batch.
    """
    if len(lengths) != len(records) or not records:
        raise ValueError(f"need one length per record, got {len(lengths)} for {len(records)} records")
    rng = random.Random(recipe.seed)
    stream: list[int] = []
    while len(stream) < recipe.max_steps * recipe.batch_size:
        one_pass = list(range(len(records)))
        rng.shuffle(one_pass)
        stream += one_pass
    stream = stream[: recipe.max_steps * recipe.batch_size]
    if recipe.group_by_length:
        steps = [stream[i:i + recipe.batch_size] for i in range(0, len(stream), recipe.batch_size)]
        stream = [i for step in steps for i in sorted(step, key=lambda j: -lengths[j])]
    return stream


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def lora_config(recipe: Recipe):
    """The PEFT LoraConfig of the recipe (the CPU backend's half of 'one recipe')."""
    from peft import LoraConfig

    return LoraConfig(r=recipe.r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                      target_modules=list(recipe.target_modules), bias="none", task_type="CAUSAL_LM")


class _MemoryProbe:
    """Peak memory of a training run in GB: the CUDA allocator's peak on a GPU; on CPU the peak resident
    memory above what the process held when the run started (sampled every 0.1 s by a thread)."""

    def __init__(self):
        import threading

        import torch

        self.cuda = torch.cuda.is_available()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            return
        import psutil

        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __call__(self) -> float:
        """Stop sampling and return the peak in GB."""
        if self.cuda:
            import torch

            return torch.cuda.max_memory_allocated() / 1024**3
        self._stop.set()
        self._thread.join()
        return (self.peak - self.baseline) / 1024**3


@contextmanager
def _quiet_renames():
    """transformers 5.2x renamed `gradient_checkpointing` to `activation_checkpointing` and warns on every use;
    the old name is kept because TRL 1.15 (the Unsloth stack) knows no other, so the warning is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.*deprecated", category=FutureWarning)
        yield


@contextmanager
def _no_dataset_bars():
    """TRL tokenizes the data with `datasets.map`, one progress bar per pass (tokenize, labels, truncate,
    drop): each takes a fraction of a second, and a committed notebook would show them as "0%" forever on
    GitHub. They are switched off while the trainer is built (and restored after)."""
    import datasets as dataset_tqdm

    was_disabled = dataset_tqdm.are_progress_bars_disabled()
    dataset_tqdm.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            dataset_tqdm.enable_progress_bars()


def _sft_config(recipe: Recipe, output_dir: Path, on_gpu: bool, bf16: bool, **extra):
    """TRL's SFTConfig for the recipe. On CPU: micro-batches with accumulation, bf16 autocast only when asked
    (``bf16``), no gradient checkpointing (TRL turns bf16 and checkpointing on by default)."""
    import dataclasses

    from trl import SFTConfig

    micro = recipe.micro_batch(on_gpu)
    fields = {f.name for f in dataclasses.fields(SFTConfig)}
    if "train_sampling_strategy" in fields:  # transformers >= 5.2x: the data comes in step_order already
        extra["train_sampling_strategy"] = "sequential"
    optim = extra.pop("optim", "adamw_8bit") if on_gpu else "adamw_torch"  # 8-bit optimizers need a GPU
    checkpointing = bool(extra.pop("gradient_checkpointing", False)) and on_gpu
    extra.pop("optim", None)
    with _quiet_renames():
        return SFTConfig(
            output_dir=str(output_dir), max_steps=recipe.max_steps, per_device_train_batch_size=micro,
            gradient_accumulation_steps=recipe.batch_size // micro, learning_rate=recipe.learning_rate,
            warmup_steps=recipe.warmup_steps, lr_scheduler_type="linear", logging_steps=1, save_strategy="no",
            report_to="none", seed=recipe.seed, data_seed=recipe.seed, max_length=recipe.max_length,
            packing=False, use_cpu=not on_gpu, bf16=bf16, fp16=on_gpu and not bf16,
            gradient_checkpointing=checkpointing, optim=optim,
            dataloader_num_workers=0, disable_tqdm=False, **extra,
        )


def _ordered(records: Sequence[Mapping], tokenizer, recipe: Recipe) -> list[Mapping]:
    """The records repeated and ordered as training will see them (``step_order``)."""
    lengths = [count_tokens(tokenizer, check_conversation(r, f"training record {i} ({r.get('id', 'no id')})"))
               for i, r in enumerate(records)]
    return [records[i] for i in step_order(records, lengths, recipe)]


def train(gen, records: Sequence[Mapping], recipe: Recipe | None = None, output_dir: str | Path | None = None,
          callbacks: Sequence = ()) -> TrainRun:
    """Fine-tune `gen` on chat `records` with `recipe`; the backend is picked by ``backend(gen.tier)``.

    The model in `gen` is changed in place (LoRA layers are added to it), so load a fresh generator
    for each run you want to compare.
    """
    recipe = (recipe or Recipe()).check()
    records = list(records)
    if not records:
        raise ValueError("no training records: build them with finetune.chat_records(...)")
    output_dir = Path(output_dir) if output_dir else env.workspace_dir() / "runs" / time.strftime("%Y%m%d-%H%M%S")
    train_with = _train_unsloth if backend(gen.tier) == "unsloth" else _train_peft
    on_cpu = str(getattr(gen, "device", "cpu")).startswith("cpu")
    if on_cpu:
        env.fit_threads()  # one torch thread per core that other processes leave free (env.fit_threads says why)
    run = train_with(gen, records, recipe, output_dir, [*callbacks, *([_refit_threads()] if on_cpu else [])])
    env.release_memory()  # the trainer, optimizer and activations are gone: return their heap to the system
    return run


def _refit_threads():
    """A trainer callback that fits torch's threads to the free cores again before each step (the machine is
    looked at every ``env.THREAD_RECHECK_S`` at most): a neighbour that starts or stops mid-run is met."""
    from transformers import TrainerCallback

    class RefitThreads(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            env.fit_threads()

    return RefitThreads()


def _set_precision(gen, recipe: Recipe, on_gpu: bool) -> str:
    """Put `gen.model` in the dtype training needs; return the precision used ('fp32', 'bf16' or 'bf16-autocast')."""
    import torch

    if on_gpu:
        return "gpu"
    dtype = recipe.dtype()
    weights = torch.bfloat16 if dtype == "bf16" and recipe.bf16_mode == "weights" and not recipe.full_finetune \
        else torch.float32
    if next(gen.model.parameters()).dtype != weights:
        gen.model.to(weights)
    if dtype == "fp32":
        return "fp32"
    return "bf16-weights" if weights == torch.bfloat16 else "bf16-autocast"


LOSS_CHUNK = 1024  # answer positions projected onto the vocabulary at a time by answer_loss


def plain_lm_head(config) -> bool:
    """True when the model's logits are its LM head's output as is (no soft-capping or scaling), as
    ``answer_loss`` assumes; models that scale them keep TRL's loss, which knows how."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    scaled = [getattr(text, name, None) for name in ("final_logit_softcapping", "logit_scale", "output_multiplier",
                                                      "lm_head_multiplier", "logits_scaling")]
    return all(value in (None, 1, 1.0) for value in scaled)


def answer_loss(model, inputs: Mapping, num_items_in_batch=None):
    """Mean negative log-likelihood of the answer tokens (labels not -100), from their positions alone.

    The vocabulary has 49,152 entries, so the logits are the largest tensor of a step. TRL's loss on CPU
    projects every position, prompt and padding included, and also computes entropy and top-1 accuracy
    for its logs; here only the answer's positions are projected, ``LOSS_CHUNK`` at a time, and nothing
    else is kept. Summed and divided by ``num_items_in_batch`` like TRL's, so the loss and the gradients
    are the same (tests/test_finetune.py compares them).
    """
    import torch
    import torch.nn.functional as F

    inputs = dict(inputs)
    labels = inputs.pop("labels")
    inputs["use_cache"] = False
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.base_model(**inputs).last_hidden_state[:, :-1]
    targets = labels[:, 1:].to(hidden.device)
    mask = targets != -100
    hidden, targets = hidden[mask], targets[mask]
    head = base.get_output_embeddings()
    total = hidden.sum().float() * 0.0  # stays part of the graph when a micro-batch has no answer token
    for start in range(0, len(targets), LOSS_CHUNK):
        logits = head(hidden[start:start + LOSS_CHUNK]).float()
        total = total + F.cross_entropy(logits, targets[start:start + LOSS_CHUNK], reduction="sum")
    count = mask.sum() if num_items_in_batch is None else num_items_in_batch
    return total / torch.as_tensor(count, device=total.device).clamp(min=1)


def _answer_loss_trainer(base_class):
    """`base_class` (TRL's SFTTrainer) with ``answer_loss`` for training steps; evaluation keeps TRL's."""

    class AnswerLossTrainer(base_class):
        course_tokens = 0  # tokens seen (attention mask), counted here: TRL's counter lives in its own loss

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if return_outputs or not model.training:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if "attention_mask" in inputs:
                self.course_tokens += int(inputs["attention_mask"].sum())
            return answer_loss(model, inputs, num_items_in_batch)

    return AnswerLossTrainer


def peft_trainer(gen, records, recipe: Recipe, output_dir: Path, callbacks=()):
    """The CPU backend's SFTTrainer: LoRA (or every weight) on `gen.model`, prompt/completion data in step order.

    The trainer sees ``max_steps * batch_size`` records, in the order of ``step_order``, read sequentially.
    """
    from peft import get_peft_model
    from transformers import set_seed
    from trl import SFTTrainer

    set_seed(recipe.seed)
    on_gpu = gen.device == "cuda"
    precision = _set_precision(gen, recipe, on_gpu)
    model = gen.model
    if recipe.full_finetune:
        for p in model.parameters():
            p.requires_grad_(True)
    else:
        with _quiet_renames():
            model = get_peft_model(model, lora_config(recipe))
    bf16 = (on_gpu and _cuda_bf16()) or precision == "bf16-autocast"
    config = _sft_config(recipe, output_dir, on_gpu, bf16=bf16, completion_only_loss=not recipe.train_on_prompt)
    gen.tokenizer.padding_side = "right"  # training pads on the right; generation switches back to left
    sequential = getattr(config, "train_sampling_strategy", None) == "sequential"
    ordered = _ordered(records, gen.tokenizer, recipe) if sequential else records
    lean = recipe.answer_only_loss and not on_gpu and plain_lm_head(gen.model.config)
    trainer_class = _answer_loss_trainer(SFTTrainer) if lean else SFTTrainer
    with _quiet_renames(), _no_dataset_bars():
        trainer = trainer_class(model=model, args=config, train_dataset=to_prompt_completion(ordered),
                                processing_class=gen.tokenizer, callbacks=list(callbacks))
    trainer.course_precision = precision
    trainer.course_loss = ("every token (chunked)" if recipe.train_on_prompt else "answer positions (chunked)") \
        if lean else "TRL (every position)"
    return trainer


def steps_for(passes: float, n_records: int, batch_size: int) -> int:
    """Optimizer steps for `passes` over `n_records` conversations at `batch_size` a step (at least 1)."""
    if passes <= 0 or n_records < 1 or batch_size < 1:
        raise ValueError(f"passes, records and batch size must be positive, got {passes}, {n_records}, {batch_size}")
    return max(1, math.ceil(passes * n_records / batch_size))


def every_n_steps(gen, n_steps: int, evaluate, label: str = "pass", stop=None):
    """A trainer callback that pauses training every `n_steps` steps and calls ``evaluate(g)`` with the model
    being trained (``g`` is `gen` with that model, ready for ``generate``), e.g. a closed-book score after
    each pass over the data. Its ``history`` lists ``{label: k, "step": s, **evaluate(g)}``; the time
    spent there is in ``seconds`` and is left out of the run's training speed. ``stop(result)`` returning
    True ends training there (e.g. once a memorisation probe has its answer).
    """
    import dataclasses

    from transformers import TrainerCallback

    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")

    class EveryNSteps(TrainerCallback):
        def __init__(self):
            self.history: list[dict] = []
            self.seconds = 0.0
            self.gen = gen  # dropped when training ends, so a kept callback does not keep the model in memory

        def on_train_end(self, args, state, control, **kwargs):
            self.gen = None

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % n_steps:
                return
            start = time.perf_counter()
            tokenizer = self.gen.tokenizer
            tokenizer.padding_side = "left"
            model.eval()
            # The training step's freed activations still sit in the heap; without handing them back the quiz's
            # generation grows the process on top of them (knowledge adapter, 16 steps with two 60-question
            # quizzes: 3.75 GB above start without this, 2.18 GB with it; 2026-12-03).
            env.release_memory()
            try:
                result = evaluate(dataclasses.replace(self.gen, model=model))
            finally:
                model.train()
                tokenizer.padding_side = "right"
            self.history.append({label: state.global_step // n_steps, "step": state.global_step, **result})
            self.seconds += time.perf_counter() - start
            if stop is not None and stop(result):
                control.should_training_stop = True

    return EveryNSteps()


def _cuda_bf16() -> bool:
    return env.cuda_bf16()  # native bf16 only: a T4 emulates it and trains in fp16


def _train_peft(gen, records, recipe: Recipe, output_dir: Path, callbacks) -> TrainRun:
    peak = _MemoryProbe()
    trainer = peft_trainer(gen, records, recipe, output_dir, callbacks)
    return _run(trainer, gen, trainer.model, recipe, "full" if recipe.full_finetune else "peft", peak)


def unsloth_source(gen) -> str:
    """What Unsloth loads for `gen`: the local safetensors folder of the embedded model, else the hub id."""
    from . import models

    return str(models.embedded_generator_dir(progress=None)) if env.is_embedded(gen.model_id) else gen.model_id


def unsloth_trainer(gen, records, recipe: Recipe, output_dir: Path, callbacks=()):
    """The Unsloth backend's trainer: FastLanguageModel + SFTTrainer on chat text + train_on_responses_only.

    On a CUDA tier: 4-bit on t4 (fp16), bf16 on a100, 8-bit AdamW. On CPU (Unsloth's CPU backend,
    ``COURSE_FINETUNE_BACKEND=unsloth``): the weights in the machine's precision (bf16 only where the CPU
    has it natively), no 4-bit (a 4-bit model cannot be merged on CPU), plain AdamW, micro-batches.
    The model Unsloth loaded is ``trainer.model``; its tokenizer is ``trainer.processing_class``.
    """
    import torch

    on_gpu = gen.device == "cuda"
    if not on_gpu:  # Unsloth's CPU backend reads this when it is imported
        os.environ["UNSLOTH_CPU_BF16"] = "1" if recipe.dtype() == "bf16" else "0"
    from unsloth import FastLanguageModel  # noqa: I001 - Unsloth must be imported before trl and peft
    from unsloth.chat_templates import train_on_responses_only
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTTrainer

    set_seed(recipe.seed)
    settings = env.TIERS[gen.tier]
    dtype = None if on_gpu else (torch.bfloat16 if recipe.dtype() == "bf16" else torch.float32)
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=unsloth_source(gen), max_seq_length=recipe.max_length, dtype=dtype,
        load_in_4bit=bool(settings["load_in_4bit"]) and on_gpu, full_finetuning=recipe.full_finetune)
    if not recipe.full_finetune:
        model = FastLanguageModel.get_peft_model(
            model, r=recipe.r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
            target_modules=list(recipe.target_modules), use_gradient_checkpointing="unsloth",
            random_state=recipe.seed)
    _prepare_tokenizer_like(getattr(gen, "tokenizer", None), tokenizer)
    ordered = _ordered(records, tokenizer, recipe)
    text = Dataset.from_list([{"text": tokenizer.apply_chat_template(check_conversation(r, f"record {i}"),
                                                                    tokenize=False)}
                              for i, r in enumerate(ordered)])
    config = _sft_config(recipe, output_dir, on_gpu=on_gpu, bf16=on_gpu and _cuda_bf16(), dataset_text_field="text",
                         optim="adamw_8bit" if on_gpu else "adamw_torch")
    with _no_dataset_bars():
        trainer = SFTTrainer(model=model, args=config, train_dataset=text, processing_class=tokenizer,
                             callbacks=list(callbacks))
        if not recipe.train_on_prompt:
            instruction_part, response_part = response_template_parts(tokenizer)
            trainer = train_on_responses_only(trainer, instruction_part=instruction_part, response_part=response_part)
    trainer.course_precision = "gpu" if on_gpu else ("bf16-weights" if dtype == torch.bfloat16 else "fp32")
    trainer.course_model, trainer.course_tokenizer = model, tokenizer
    return trainer


def _train_unsloth(gen, records, recipe: Recipe, output_dir: Path, callbacks) -> TrainRun:
    from unsloth import FastLanguageModel

    peak = _MemoryProbe()
    trainer = unsloth_trainer(gen, records, recipe, output_dir, callbacks)
    model, tokenizer = trainer.course_model, trainer.course_tokenizer
    run = _run(trainer, gen, model, recipe, "unsloth", peak, tokenizer=tokenizer)
    FastLanguageModel.for_inference(model)
    gen.device = "cuda" if gen.device == "cuda" else "cpu"
    gen.backend = "unsloth"
    return run


def _prepare_tokenizer_like(reference, tokenizer) -> None:
    """Give Unsloth's tokenizer the padding the course's generation expects (left, pad = end of turn)."""
    if getattr(tokenizer, "pad_token", "") is None:
        tokenizer.pad_token = getattr(reference, "pad_token", None) or tokenizer.eos_token


def _run(trainer, gen, model, recipe, backend_name, peak, tokenizer=None) -> TrainRun:
    try:
        start = time.perf_counter()
        with _quiet_renames():
            trainer.train()
        seconds = time.perf_counter() - start
        seconds -= sum(getattr(cb, "seconds", 0.0) for cb in trainer.callback_handler.callbacks)  # evaluations
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            raise RuntimeError(
                "the GPU ran out of memory while training. Set Recipe.micro_batch_size below Recipe.batch_size "
                "(gradients are accumulated, the effective batch stays), or lower Recipe.max_length; on a T4 keep "
                "the 4-bit model of the t4 tier.") from exc
        raise
    tokenizer = tokenizer or gen.tokenizer
    tokenizer.padding_side = "left"
    model.eval()
    history = trainer.state.log_history
    losses = [(h["step"], h["loss"]) for h in history if "loss" in h]
    tokens = max([h.get("num_tokens", 0) for h in history] + [getattr(trainer, "course_tokens", 0)])
    trainable, total = count_parameters(model)
    gen.model = model
    gen.tokenizer = tokenizer
    return TrainRun(model=model, tokenizer=tokenizer, backend=backend_name, recipe=recipe, losses=losses,
                    seconds=seconds, tokens=int(tokens), trainable_parameters=trainable, total_parameters=total,
                    peak_memory_gb=round(peak(), 2),
                    info={"device": gen.device, "model_id": gen.model_id,
                          "precision": getattr(trainer, "course_precision", None),
                          "loss": getattr(trainer, "course_loss", None),
                          "micro_batch_size": trainer.args.per_device_train_batch_size,
                          "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps})


# ---------------------------------------------------------------------------------------------
# Saving, reloading, merging
# ---------------------------------------------------------------------------------------------

def adapter_dir(name: str) -> Path:
    """Where the course keeps an adapter: ``<workspace>/adapters/<name>``."""
    return env.workspace_dir() / "adapters" / name


def save_adapter(run: TrainRun, name: str, extra: Mapping | None = None) -> Path:
    """Save a LoRA adapter (and what it was trained from) to ``adapter_dir(name)``, replacing an older one."""
    if run.recipe.full_finetune:
        raise ValueError("a full fine-tune has no adapter to save; use run.model.save_pretrained(folder)")
    target = adapter_dir(name)
    tmp = target.with_name(target.name + ".saving")
    shutil.rmtree(tmp, ignore_errors=True)
    run.model.save_pretrained(str(tmp))
    meta = {"base_model": run.info.get("model_id"), "backend": run.backend, "recipe": asdict(run.recipe),
            "trainable_parameters": run.trainable_parameters, "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **(extra or {})}
    (tmp / ADAPTER_META).write_text(json.dumps(meta, indent=2, sort_keys=True))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def load_adapter(gen, name_or_path: str | Path):
    """Put a saved adapter on a freshly loaded base generator; refuses an adapter made for another base model."""
    from peft import PeftModel

    path = checked_adapter_path(gen, name_or_path)
    with _quiet_renames():
        gen.model = PeftModel.from_pretrained(gen.model, str(path))
    gen.model.eval()
    gen.tokenizer.padding_side = "left"
    return gen


def checked_adapter_path(gen, name_or_path: str | Path) -> Path:
    """The folder of a saved adapter (a name in the workspace, or a path), after checking it was trained on the
    base model `gen` holds; a clear error when it is missing or made for another model."""
    path = Path(name_or_path)
    if not path.exists():
        path = adapter_dir(str(name_or_path))
    if not (path / "adapter_config.json").is_file():
        raise FileNotFoundError(f"no adapter at {path}; train it in notebook 05 (or with finetune.train + save_adapter)")
    meta_path = path / ADAPTER_META
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if meta.get("base_model") and meta["base_model"] != gen.model_id:
        raise ValueError(f"the adapter at {path.name} was trained on {meta['base_model']!r}, not on the loaded "
                         f"{gen.model_id!r}; load that base model (COURSE_MODEL) or train a new adapter")
    return path


def merge(gen, dtype: str = "fp32"):
    """Fold the LoRA weights into the base weights (no adapter layers left; same outputs, faster inference).

    The merge is done in fp32 (a bf16 base is upcast first). ``dtype="fp32"`` (the default) keeps the merged
    model in fp32: the adapter's update exactly as trained. ``dtype="bf16"`` then rounds the merged weights to
    bf16, which halves the bytes read per generated token: on a CPU with native bf16 generation ran 1.8x faster
    at batch 1 and 2x at batch 32 (2-core machine, 2026-12-02, ``avx512_bf16``). The rounding costs
    precision: bf16 keeps 8 significant bits of each weight, so the small update is kept with noise (measured
    on the course's adapters, the rounded update differed from the exact one by 44% (behaviour), 18%
    (knowledge) and 47% (RAFT) in relative norm), yet the behaviour adapter scored the same on 40 test items
    per task (JSON 0.647 both, SQL 0.025 both, tone 0.857 vs 0.850). Use it to serve; keep fp32 to study the
    adapter itself.
    """
    import torch

    if dtype not in ("fp32", "bf16"):
        raise ValueError(f"merge dtype must be 'fp32' or 'bf16', got {dtype!r}")
    if not hasattr(gen.model, "merge_and_unload"):
        raise ValueError("this model has no LoRA adapter to merge")
    if getattr(gen.model, "is_loaded_in_4bit", False) or env.TIERS.get(getattr(gen, "tier", "cpu"), {}).get("load_in_4bit"):
        raise ValueError("this model is loaded in 4-bit: merging a LoRA into it re-quantises the sum to NF4, which "
                         "loses most of a small update. Keep the adapter unmerged (systems.load_adapter_or_train("
                         "name, merged=False)), or load the base in 16-bit to merge")
    if next(gen.model.parameters()).dtype != torch.float32:
        gen.model.to(torch.float32)
    gen.model = gen.model.merge_and_unload()
    if dtype == "bf16":
        gen.model.to(torch.bfloat16)
    gen.model.eval()
    return gen


def export_gguf(run_or_gen, folder: str | Path, quantization: str = "q4_k_m") -> Path:
    """Export to GGUF with Unsloth (GPU tiers only); on CPU it says so and does nothing."""
    model = getattr(run_or_gen, "model", None)
    if backend(getattr(run_or_gen, "tier", None) or env.pick_tier()) != "unsloth":
        raise RuntimeError("GGUF export uses Unsloth's save_pretrained_gguf, which needs a CUDA GPU with unsloth "
                           "installed (the t4 or a100 tier). On CPU, keep the adapter or the merged safetensors.")
    model.save_pretrained_gguf(str(folder), run_or_gen.tokenizer, quantization_method=quantization)
    return Path(folder)


# ---------------------------------------------------------------------------------------------
# Runs in a separate process, for clean memory figures
# ---------------------------------------------------------------------------------------------

def peak_rss_gb() -> float:
    """This process's peak resident memory in GB. Linux: VmHWM, which starts afresh in a new program; the
    getrusage figure used elsewhere is inherited from the parent across fork and exec, so a child
    started from a big notebook kernel would report the kernel's peak as its own."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux; an upper bound


def _isolated_worker(conn, mix: dict, recipe: dict, eval_task: str, n_eval: int, options: dict) -> None:
    """Child process: load the base model, train, evaluate, and send back the figures."""
    from . import data, models

    quiet = os.open(os.devnull, os.O_WRONLY)  # the child's progress bars and logs would land in the notebook
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    try:
        if options.get("tier"):  # e.g. "cpu": the 135M model on the CPU whatever the card (a full 7B fine-tune
            os.environ["COURSE_TIER"] = env.check_tier(options["tier"])  # would need over 100 GB: helpers.memplan)
        env.configure()
        if options.get("backend") == "unsloth":
            import unsloth  # noqa: F401 - first, before transformers, trl and peft
        gen = models.load_generator(dtype=options.get("load_dtype"))
        rss_before = peak_rss_gb()
        run = train(gen, chat_records(mix), Recipe(**recipe))
        eval_dtype = options.get("eval_dtype")
        if eval_dtype and hasattr(gen.model, "parameters"):
            import torch

            gen.model.to(torch.bfloat16 if eval_dtype == "bf16" else torch.float32)
        result = {"trainable_parameters": run.trainable_parameters, "total_parameters": run.total_parameters,
                  "seconds_per_step": run.seconds_per_step, "tokens_per_second": run.tokens_per_second,
                  "final_loss": run.losses[-1][1] if run.losses else None, "losses": run.losses,
                  "peak_memory_gb": run.peak_memory_gb, "backend": run.backend, **run.info,
                  "rss_after_load_gb": rss_before}
        if n_eval:
            start = time.perf_counter()
            results = tasks.run(gen, eval_task, data.load_task(eval_task, "test")[:n_eval], progress=False,
                                batch_size=options.get("eval_batch_size"),
                                sort_by_length=options.get("sort_by_length", True))
            result |= {"score": sum(r["score"] for r in results) / len(results),
                       "scores": [r["score"] for r in results], "eval_seconds": time.perf_counter() - start}
        result["peak_rss_gb"] = peak_rss_gb()
        conn.send(result)
    except Exception as exc:  # sent back and re-raised in the parent, with its message
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def train_isolated(mix: Mapping[str, int | None], recipe: Recipe, eval_task: str, n_eval: int = 20,
                   **options) -> dict:
    """Train and evaluate in a fresh process, so its peak memory (``peak_rss_gb``) belongs to this run alone.

    In one process, memory freed by an earlier run is reused by the next and the figures blur; a
    process of its own starts from zero. Costs a few seconds of start-up (imports, model load).
    ``options``: ``tier`` (the child's tier, e.g. 'cpu'), ``load_dtype`` ('fp32'/'bf16', default the machine's), ``eval_dtype``, ``eval_batch_size``,
    ``sort_by_length`` (evaluation settings), ``backend='unsloth'`` (import Unsloth first). ``n_eval=0``
    skips the evaluation.
    """
    import multiprocessing

    recipe.check()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_isolated_worker,
                              args=(child, dict(mix), asdict(recipe), eval_task, n_eval, dict(options)))
    process.start()
    child.close()
    try:
        result = parent.recv()
    except EOFError:
        result = {"error": f"the training process died (exit code {process.exitcode}); out of memory?"}
    process.join()
    if "error" in result:
        raise RuntimeError(f"isolated training run failed: {result['error']}")
    return result
