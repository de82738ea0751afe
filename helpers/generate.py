"""Chat generation with the course's models: one conversation, or many in batches.

Example::

    from helpers import models, generate
    gen = models.load_generator()
    generate.chat(gen, "What is LoRA?")                        # -> str
    out = generate.generate(gen, [[{"role": "user", "content": q}] for q in questions], batch_size=8)
    out.texts, out.tokens_per_second
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import constrain, env

Messages = list[dict[str, str]]

# The evaluation batch: measured on 2-core course machines (make bench, group "efficiency") on 32 JSON
# prompts, sorted by length, bf16 weights: batch 8 gave 75 tokens/s, 16 gave 122 and 32 gave 174 (fp32
# at batch 8, the old setting: 50) on one with amx_bf16; 164, 218 and 241 (fp32 at batch 8: 74) on one
# with avx512_bf16 only (2026-12-02). The key-value cache of 32 short conversations is a few tens of MB.
EVAL_BATCH_SIZE = 32
# ... but long prompts make a batch of 32 costly in memory (prefill attention grows with batch x length^2)
# for no speed: on 32 RAG prompts of up to 613 tokens (bf16, 2026-12-02) batch 8 peaked 0.41 GB above the
# loaded model at 106 tokens/s, 16 at 1.02 GB and 106 tokens/s, 32 at 1.49 GB and 92 tokens/s. A batch
# therefore holds at most this many prompt tokens (its longest prompt x its size): 13 such prompts, and still
# 32 of the task prompts without context (37-212 tokens), where 32 is the fastest batch. Measured with the cap,
# asked for 32: 0.88 GB and 104 tokens/s (a cap of 4096, 6 prompts: 0.39 GB, 103 tokens/s, but JSON and SQL
# prompts alone would then run 20 at a time).
EVAL_BATCH_TOKENS = env.TIERS["cpu"]["eval_batch_tokens"]  # 8192; a GPU tier's own cap is in its row of env.TIERS


def batch_token_cap(gen, max_batch_tokens="tier") -> int | None:
    """The padded prompt tokens a batch may hold: `max_batch_tokens` as given (an int, or None: no cap), or with
    "tier" the cap of the generator's tier (``env.TIERS[tier]["eval_batch_tokens"]``: 8,192 on a CPU, where it
    was measured; larger on a GPU, where the CPU's cap would hold a batch of RAG prompts to about 13)."""
    if max_batch_tokens != "tier":
        return max_batch_tokens
    return env.TIERS[env.check_tier(getattr(gen, "tier", "cpu"))]["eval_batch_tokens"]


@dataclass
class GenerationResult:
    """Texts generated for a list of conversations, with the tokens and time it took."""

    texts: list[str]
    new_tokens: list[int]
    seconds: float
    batch_size: int
    prompt_tokens: list[int] = field(default_factory=list)
    logprobs: list[list[float]] = field(default_factory=list)  # per generated token, when asked for
    batch_sizes: list[int] = field(default_factory=list)  # the batches actually run, in order
    # per conversation, with a schema or grammar: True when max_new_tokens ended the answer before it was
    # complete (so it is not valid, whatever the constraint), False when complete, None for a free row
    truncated: list[bool | None] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        """Generated tokens per wall-clock second over the whole run."""
        return sum(self.new_tokens) / self.seconds if self.seconds > 0 else 0.0


def as_messages(conversation: str | Messages, system: str | None = None) -> Messages:
    """Turn a plain string into a one-turn conversation; check a message list's shape."""
    if isinstance(conversation, str):
        messages = [{"role": "user", "content": conversation}]
    elif isinstance(conversation, list) and all(isinstance(m, dict) for m in conversation):
        messages = list(conversation)
    else:
        raise TypeError(
            "a conversation is a string or a list of {'role': ..., 'content': ...} dicts, "
            f"got {type(conversation).__name__}"
        )
    for i, message in enumerate(messages):
        if message.get("role") not in {"system", "user", "assistant"} or not isinstance(message.get("content"), str):
            raise ValueError(
                f"message {i} must have role system/user/assistant and a string content, got {message!r}"
            )
    if system and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}] + messages
    return messages


def _chosen_logprobs_recorder():
    """A logits processor that keeps, per step, only the log-probability of the token picked at the step
    before (it reads that token from the sequence), then ``finish`` adds the last step's: the same numbers
    as ``compute_transition_scores(..., normalize_logits=True)`` for greedy decoding (to float rounding), in a fraction of the
    memory. Only for greedy decoding: it sees the scores before any sampling warper."""
    import torch
    from transformers import LogitsProcessor

    class ChosenLogprobs(LogitsProcessor):
        def __init__(self):
            self.previous = None
            self.picked: list = []

        def __call__(self, input_ids, scores):
            if self.previous is not None:
                self.picked.append(self.previous.gather(-1, input_ids[:, -1:]).squeeze(-1))
            self.previous = torch.log_softmax(scores.float(), dim=-1)
            return scores

        def finish(self, sequences):
            if self.previous is not None:
                self.picked.append(self.previous.gather(-1, sequences[:, -1:]).squeeze(-1))
                self.previous = None
            return torch.stack(self.picked, dim=1) if self.picked else sequences.new_zeros((len(sequences), 0),
                                                                                            dtype=torch.float32)

    return ChosenLogprobs()


def plan_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None) -> list[list[int]]:
    """Consecutive positions of `lengths` (prompt tokens, in the order they will run) grouped into batches of
    at most `batch_size`, each holding at most `max_batch_tokens` once padded to its longest prompt (None: no
    cap). A prompt longer than the cap runs alone."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_batch_tokens is not None and max_batch_tokens < 1:
        raise ValueError(f"max_batch_tokens must be >= 1 (or None: no cap), got {max_batch_tokens}")
    batches: list[list[int]] = []
    current: list[int] = []
    widest = 0
    for pos, length in enumerate(lengths):
        wider = max(widest, length)
        full = len(current) >= batch_size or (
            max_batch_tokens is not None and (len(current) + 1) * wider > max_batch_tokens)
        if current and full:
            batches.append(current)
            current, wider = [], length
        current.append(pos)
        widest = wider
    if current:
        batches.append(current)
    return batches


def generate(
    gen,
    conversations: Sequence[str | Messages],
    max_new_tokens: int = 64,
    batch_size: int = EVAL_BATCH_SIZE,
    system: str | None = None,
    progress: bool = True,
    logprobs: bool = False,
    temperature: float = 0.0,
    seed: int | None = None,
    sort_by_length: bool = True,
    continue_last: bool = False,
    max_batch_tokens: int | None | str = "tier",
    schema: dict | list | None = None,
    grammar: str | list | None = None,
) -> GenerationResult:
    """Generation for many conversations, in left-padded batches, with a progress bar.

    Greedy by default; ``temperature > 0`` samples (``seed`` makes it repeatable). With ``logprobs=True``
    the result also holds, per conversation, the log-probability the model gave each token it generated
    (the raw material of a confidence score, see ``helpers.speculative``). Prompts are batched by length
    (``sort_by_length``: less padding) and the results come back in the order given; a batch stops as soon
    as every sequence in it has ended (the end-of-turn token), not at ``max_new_tokens``. A batch holds at most
    ``max_batch_tokens`` prompt tokens once padded (``plan_batches``; None: ``batch_size`` prompts always), so
    long prompts run in smaller batches and the memory of a batch stays bounded; "tier" takes the cap of the
    generator's tier (``batch_token_cap``).

    ``schema`` (a JSON Schema dict) or ``grammar`` (Lark text) constrains the decoding (``helpers.constrain``):
    one for every conversation, or a list with one per conversation (None: that one is free). Both are
    checked before any generation; ``result.truncated`` then says which answers ran out of tokens.
    """
    import torch
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if seed is not None:
        torch.manual_seed(seed)
    if str(getattr(gen, "device", "cpu")).startswith("cpu"):
        env.fit_threads()  # one torch thread per free core: a busy neighbour slows generation by its share, not 2-4x
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0} if temperature > 0 else {
        "do_sample": False}
    token_logprobs: list[list[float]] = []
    chats = [as_messages(c, system) for c in conversations]
    constrained = schema is not None or grammar is not None
    grammars = constrain.row_grammars(len(chats), schema, grammar) if constrained else [None] * len(chats)
    tokenizer, model = gen.tokenizer, gen.model
    max_batch_tokens = batch_token_cap(gen, max_batch_tokens)
    template = {"continue_final_message": True} if continue_last else {"add_generation_prompt": True}
    all_prompts = [tokenizer.apply_chat_template(c, tokenize=False, **template) for c in chats]
    order = list(range(len(chats)))
    if sort_by_length and temperature == 0:  # sampling keeps the given order, so a seed replays the same draws
        order.sort(key=lambda i: -len(all_prompts[i]))
    if batch_size > 1 and len(chats) > 1 and max_batch_tokens is not None:
        lengths = [len(ids) for ids in tokenizer([all_prompts[i] for i in order], add_special_tokens=False)["input_ids"]]
        plan = plan_batches(lengths, batch_size, max_batch_tokens)
    else:
        plan = plan_batches([0] * len(chats), batch_size, None)
    texts, new_tokens, prompt_tokens, truncated = [], [], [], []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    configured = configured if isinstance(configured, list) else [configured]
    end_ids = sorted({t for t in [tokenizer.eos_token_id, *configured] if isinstance(t, int)})
    start = time.perf_counter()
    bar = tqdm(plan, desc="generating", unit="batch", disable=not progress or len(plan) < 2)
    for positions in bar:
        prompts = [all_prompts[order[p]] for p in positions]
        inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(gen.device)
        # greedy: the chosen tokens' log-probabilities are recorded step by step (_ChosenLogprobs), not kept as
        # every step's full scores (32 answers x 160 steps x 49,152 entries is 1 GB, and twice that stacked)
        recorder = _chosen_logprobs_recorder() if logprobs and temperature == 0 else None
        rows = [grammars[order[p]] for p in positions]
        guide = constrain.logits_processor(tokenizer, rows, _vocab_size(model, tokenizer), end_ids) if any(rows) else None
        processors = [p for p in (guide, recorder) if p is not None]  # the recorder sees the constrained scores
        with torch.inference_mode(), active_adapter(gen):
            output = model.generate(
                **inputs, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                eos_token_id=end_ids or None, return_dict_in_generate=True,
                output_scores=logprobs and recorder is None, logits_processor=processors or None,
                **sampling,
            )
            if guide is not None:
                truncated.extend(guide.finish(output.sequences))
            else:
                truncated.extend([None] * len(positions))
            if recorder is not None:
                chosen = recorder.finish(output.sequences)
            elif logprobs:  # log-softmax of the scores the tokens were picked from (temperature applied)
                chosen = model.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)
        generated = output.sequences[:, inputs["input_ids"].shape[1]:]
        for i, (row, mask) in enumerate(zip(generated, inputs["attention_mask"], strict=True)):
            keep = row[row != tokenizer.pad_token_id] if tokenizer.pad_token_id is not None else row
            # the first end-of-turn token counts as generated; padding after it does not
            n_new = min(int((row != tokenizer.pad_token_id).sum()) + (1 if len(keep) < len(row) else 0), len(row))
            new_tokens.append(n_new)
            if logprobs:
                token_logprobs.append([float(x) for x in chosen[i, :n_new]])
            prompt_tokens.append(int(mask.sum()))
            texts.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    seconds = time.perf_counter() - start
    bar.close()
    inputs = output = chosen = recorder = guide = None  # the last batch's tensors, freed before the heap is trimmed
    env.release_memory()
    if progress and len(plan) >= 2:  # a plain line that stays readable where the bar is not rendered (GitHub)
        print(f"generated {len(chats)} replies, {sum(new_tokens)} tokens in {seconds:.1f} s")
    pick = sorted(range(len(order)), key=order.__getitem__)  # where each conversation sits in the sorted run
    return GenerationResult([texts[j] for j in pick], [new_tokens[j] for j in pick], seconds, batch_size,
                            [prompt_tokens[j] for j in pick], [token_logprobs[j] for j in pick] if logprobs else [],
                            [len(positions) for positions in plan],
                            [truncated[j] for j in pick] if constrained else [])


@contextmanager
def active_adapter(gen):
    """While generating with a view of a shared model (``systems.load_generators`` on a GPU tier: one base model
    with every adapter beside it, ``gen.info["shared_adapter"]`` naming this view's), make that adapter the active
    one, or switch the adapters off for the base view. Any other generator is left as it is."""
    info = getattr(gen, "info", None) or {}
    if "shared_adapter" not in info:
        yield
        return
    name, model = info["shared_adapter"], gen.model
    if name is None:
        with model.disable_adapter():
            yield
        return
    model.set_adapter(name)
    yield


def _vocab_size(model, tokenizer) -> int:
    """Width of the model's scores (its output head), which can exceed the tokenizer's vocabulary (Qwen2.5-7B:
    152,064 scores for 151,665 tokens); a tokenizer with more tokens than the head is refused."""
    head = getattr(getattr(model, "config", None), "vocab_size", None)
    if head and len(tokenizer) > int(head):
        raise ValueError(f"the tokenizer has {len(tokenizer):,} tokens but the model scores only {int(head):,}: they do "
                         "not belong together (a tokenizer from another model, or tokens added without resizing the "
                         "model's embeddings); load the tokenizer saved with the model")
    return max(int(head or 0), len(tokenizer))


def completion_logprobs(gen, conversations: Sequence[str | Messages], completions: Sequence[str],
                        batch_size: int = 8, system: str | None = None) -> list[list[float]]:
    """The log-probability of each token of ``completions[i]`` as the reply to ``conversations[i]``.

    One forward pass per batch, no generation: how likely the model finds a given answer (a verifier's
    score). The completion is tokenised after the chat template's generation prompt, as the model would
    have written it.
    """
    import torch

    if len(conversations) != len(completions):
        raise ValueError(f"{len(conversations)} conversations but {len(completions)} completions")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    tokenizer, model = gen.tokenizer, gen.model
    results: list[list[float]] = []
    for lo in range(0, len(conversations), batch_size):
        rows = []
        for conv, completion in zip(conversations[lo:lo + batch_size], completions[lo:lo + batch_size], strict=True):
            if not isinstance(completion, str) or not completion.strip():
                raise ValueError(f"completion {lo + len(rows)} is empty: there is nothing to score")
            prompt = tokenizer.apply_chat_template(as_messages(conv, system), add_generation_prompt=True, tokenize=False)
            p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            c_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
            rows.append((p_ids, c_ids))
        width = max(len(p) + len(c) for p, c in rows)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (p, c) in enumerate(rows):  # left padding, like generation
            seq = p + c
            ids[r, width - len(seq):] = torch.tensor(seq)
            mask[r, width - len(seq):] = 1
        with torch.inference_mode(), active_adapter(gen):
            logits = model(input_ids=ids.to(gen.device), attention_mask=mask.to(gen.device)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        targets = ids[:, 1:].to(logp.device)
        picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        for r, (_, c) in enumerate(rows):
            results.append([float(x) for x in picked[r, width - 1 - len(c):]])
    return results


def chat(gen, conversation: str | Messages, max_new_tokens: int = 128, system: str | None = None) -> str:
    """One greedy reply to one conversation (a string or a list of messages)."""
    return generate(gen, [conversation], max_new_tokens=max_new_tokens, batch_size=1, system=system,
                    progress=False).texts[0]
