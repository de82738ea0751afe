"""Simulated CUDA cards for the CPU test suite: the GPU branches of the course run here under a fake card.

``simulate(monkeypatch, "t4")`` makes torch report that card: ``cuda.is_available``, ``device_count``,
``get_device_properties``, ``get_device_capability``, ``get_device_name`` and ``is_bf16_supported`` (with
torch's own rule: emulation counts by default, so a T4 says True unless ``including_emulation=False``).
Figures from the vendors' data sheets (total memory as torch reports it, GiB); checked 2026-12-06 against
torch 2.13's ``is_bf16_supported``.

The tier models' chat templates (``LLAMA3_TEMPLATE``, ``QWEN25_TEMPLATE``) are the published templates cut
to what the course uses (no tools), for ``tokenizer_with``: a small offline tokenizer carrying one of them.
"""

from __future__ import annotations

import types

CARDS = {
    "t4": {"name": "Tesla T4", "capability": (7, 5), "gib": 14.7},
    "l4": {"name": "NVIDIA L4", "capability": (8, 9), "gib": 22.0},
    "a100-40": {"name": "NVIDIA A100-SXM4-40GB", "capability": (8, 0), "gib": 39.4},
    "a100-80": {"name": "NVIDIA A100-SXM4-80GB", "capability": (8, 0), "gib": 79.2},
}

LLAMA3_TEMPLATE = (
    "{{- bos_token }}{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
QWEN25_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}{%- for message in messages %}{%- if message['role'] != 'system' %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def simulate(monkeypatch, card: str):
    """Make torch report the simulated `card` for the rest of the test; returns its properties."""
    import torch

    spec = CARDS[card]
    major, minor = spec["capability"]
    props = types.SimpleNamespace(name=spec["name"], total_memory=int(spec["gib"] * 1024**3), major=major, minor=minor,
                                  multi_processor_count=40)

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return True if including_emulation else major >= 8

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=0: props)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=0: (major, minor))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=0: spec["name"])
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    return props


def tokenizer_with(template: str, bos: str = ""):
    """A small offline tokenizer (word level, no download) that renders chats with `template`."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({"[UNK]": 0, bos or "<s>": 1}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", bos_token=bos or "<s>")
    tokenizer.chat_template = template
    return tokenizer
