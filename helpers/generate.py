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
from dataclasses import dataclass, field

Messages = list[dict[str, str]]


@dataclass
class GenerationResult:
    """Texts generated for a list of conversations, with the tokens and time it took."""

    texts: list[str]
    new_tokens: list[int]
    seconds: float
    batch_size: int
    prompt_tokens: list[int] = field(default_factory=list)

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


def generate(
    gen,
    conversations: Sequence[str | Messages],
    max_new_tokens: int = 64,
    batch_size: int = 8,
    system: str | None = None,
    progress: bool = True,
) -> GenerationResult:
    """Greedy generation for many conversations, in left-padded batches, with a progress bar."""
    import torch
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chats = [as_messages(c, system) for c in conversations]
    tokenizer, model = gen.tokenizer, gen.model
    texts, new_tokens, prompt_tokens = [], [], []
    start = time.perf_counter()
    batches = range(0, len(chats), batch_size)
    for lo in tqdm(batches, desc="generating", unit="batch", disable=not progress or len(batches) < 2):
        batch = chats[lo : lo + batch_size]
        prompts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in batch]
        inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(gen.device)
        with torch.inference_mode():
            output = model.generate(
                **inputs, max_new_tokens=max_new_tokens, do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        generated = output[:, inputs["input_ids"].shape[1]:]
        for row, mask in zip(generated, inputs["attention_mask"], strict=True):
            keep = row[row != tokenizer.pad_token_id] if tokenizer.pad_token_id is not None else row
            # the first end-of-turn token counts as generated; padding after it does not
            n_new = int((row != tokenizer.pad_token_id).sum()) + (1 if len(keep) < len(row) else 0)
            new_tokens.append(min(n_new, len(row)))
            prompt_tokens.append(int(mask.sum()))
            texts.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return GenerationResult(texts, new_tokens, time.perf_counter() - start, batch_size, prompt_tokens)


def chat(gen, conversation: str | Messages, max_new_tokens: int = 128, system: str | None = None) -> str:
    """One greedy reply to one conversation (a string or a list of messages)."""
    return generate(gen, [conversation], max_new_tokens=max_new_tokens, batch_size=1, system=system,
                    progress=False).texts[0]
