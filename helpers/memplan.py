"""What each notebook holds in GPU memory, step by step, on each tier: the models alive, their bytes, the peak.

A T4 has 15 GB and an A100 40GB has 40; the a100 tier's Qwen2.5-7B is 14.2 GiB in bf16, so two copies and a
training run already fill most of the larger card. Every notebook's steps are written down here (``PLANS``:
what is alive at each step, in the order the notebook holds it), sized from the tier model's architecture
(``sizes``: the model built on PyTorch's meta device, so a 7B model is counted without a byte of weights), and
set against the card (``peak``, ``check``). The tests run every plan on every tier; the notebooks release a model
(``env.release_memory`` also empties the CUDA cache) where their plan says it is gone.

Figures and what they rest on:

* weights: parameters x 2 bytes (bf16/fp16), x 4 (fp32); 4-bit (bitsandbytes NF4 with double quantisation,
  Dettmers et al. 2023, QLoRA, arXiv:2305.14314): 4.127 bits for each weight of a decoder layer's linear layers,
  the embeddings and norms in 16 bits;
* LoRA training: each trainable parameter 16 bytes (fp32 weight, gradient and two Adam moments), the inputs of
  every layer kept for gradient checkpointing (2 bytes a value), one layer recomputed at a time, and the logits
  of a micro-batch in fp32 with their gradient (an upper bound: Unsloth computes the loss in chunks);
* generation: the key-value cache of a full batch (``env.TIERS[tier]["eval_batch_tokens"]`` prompt tokens)
  and one MLP activation at prefill; a step that trains and generates (a quiz between training steps) does one
  after the other, so the larger of the two counts;
* ``OVERHEAD_GIB``: the CUDA context, cuBLAS workspaces and the caching allocator's slack, an allowance.

Example::

    from helpers import memplan
    memplan.peak("08_benchmark", "a100")          # (step, GiB): the largest step against the card
    memplan.check("05_lora_finetune", "t4")       # raises MemoryPlanError naming the step, the need, the tier that fits
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from . import env

GIB = 1024**3
CARD_GIB = {"t4": 14.7, "a100": 39.4}  # what torch reports for a Tesla T4 and an A100 40GB (tests/gpu_sim.CARDS)
OVERHEAD_GIB = 1.0
NF4_BYTES = 4.127 / 8  # 4-bit weights with double-quantised block constants (QLoRA, section 3)
EMBEDDER_GIB = 22.7e6 * 4 / GIB  # all-MiniLM-L6-v2: 22.7M parameters in fp32

# The tier models' config.json, as published on the Hugging Face hub (read 2026-12-06).
ARCH = {
    "unsloth/Qwen2.5-7B-Instruct": {
        "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
        "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064, "tie_word_embeddings": False},
    "unsloth/Llama-3.2-1B-Instruct": {
        "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": True,
        "head_dim": 64},
    env.EMBEDDED_GENERATOR: {
        "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152, "tie_word_embeddings": True,
        "head_dim": 64},
}


class MemoryPlanError(RuntimeError):
    """A notebook's plan does not fit the card: says which step, how much it needs, and which tier fits."""


@dataclass(frozen=True)
class Sizes:
    """A model's counts, from its architecture: every parameter, the decoder layers' linear weights (what 4-bit
    quantises), LoRA's trainable parameters at r=16 on the seven projections, and the shapes memory follows."""

    parameters: int
    linear: int
    lora_r16: int
    hidden: int
    intermediate: int
    layers: int
    vocab: int
    kv_values_per_token: int  # keys and values stored per token, all layers


def config_for(model_id: str):
    """The transformers config of `model_id`: from ``ARCH`` (no download), else from the hub."""
    from transformers import AutoConfig

    if model_id in ARCH:
        spec = dict(ARCH[model_id])
        return AutoConfig.for_model(spec.pop("model_type"), **spec)
    return AutoConfig.from_pretrained(model_id)


@cache
def model_sizes(model_id: str) -> Sizes:
    """`sizes` of a model id's published configuration (``config_for``), counted once."""
    return sizes(config_for(model_id))


def sizes(config) -> Sizes:
    """Count a model built from `config` on the meta device (shapes only, no memory)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    parameters = sum(p.numel() for p in model.parameters())
    linear = lora = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and ".layers." in name:
            linear += module.weight.numel()
            lora += 16 * (module.in_features + module.out_features)
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv = 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim
    return Sizes(parameters, linear, lora, config.hidden_size, config.intermediate_size, config.num_hidden_layers,
                 config.vocab_size, kv)


# --- the bytes of each thing a notebook can hold ------------------------------------------------------------------

def weights_gib(s: Sizes, tier: str, dtype: str | None = None) -> float:
    """The model's weights on `tier` (its dtype and 4-bit setting), or in `dtype` ('fp32', 'bf16', 'fp16')."""
    if dtype is None and env.TIERS[tier]["load_in_4bit"]:
        return (s.linear * NF4_BYTES + (s.parameters - s.linear) * 2) / GIB
    width = {"fp32": 4, "float32": 4}.get(dtype or env.TIERS[tier]["dtype"], 2)
    return s.parameters * width / GIB


def adapter_gib(s: Sizes) -> float:
    """A LoRA adapter (r=16, seven projections) held beside the weights in fp32."""
    return s.lora_r16 * 4 / GIB


def training_gib(s: Sizes, micro_batch: int, seq: int, full: bool = False) -> float:
    """What a training run adds to the loaded weights: optimizer state and gradients, activations, logits."""
    trainable = s.parameters if full else s.lora_r16
    state = trainable * (12 if full else 16)  # full: grad + two Adam moments (fp32); LoRA: its fp32 weight too
    tokens = micro_batch * seq
    checkpoints = s.layers * tokens * s.hidden * 2
    one_layer = tokens * (6 * s.hidden + 3 * s.intermediate) * 2
    logits = 2 * tokens * s.vocab * 4
    return (state + checkpoints + one_layer + logits) / GIB


def generation_gib(s: Sizes, tier: str) -> float:
    """A full generation batch: its key-value cache (16-bit) and one MLP activation at prefill."""
    tokens = env.TIERS[tier]["eval_batch_tokens"]
    return (tokens * s.kv_values_per_token * 2 + tokens * s.intermediate * 2 * 2) / GIB


# --- the plans ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One step of a notebook: what it does and what is alive in GPU memory meanwhile.

    ``models``: the tier model's copies, each 'tier' (the tier's dtype), 'fp32' or 'bf16'; ``adapters``: LoRA
    adapters beside them; ``train``: (micro-batch, sequence length) of a LoRA run, or with ``full`` of a full
    fine-tune; ``generate``: a generation batch runs; ``embedder``: the sentence embedder is on the card."""

    what: str
    models: tuple[str, ...] = ("tier",)
    adapters: int = 0
    train: tuple[int, int] | None = None
    full: bool = False
    generate: bool = False
    embedder: bool = False


# Padded sequence lengths of a GPU batch, which is padded to its longest conversation: the longest behaviour
# conversation (tone, JSON, SQL) and the longest fact question of the course's training splits, counted with the
# embedded model's tokenizer and rounded up (tests/test_memplan.py counts them again: the plan must stay above);
# the tier models' larger vocabularies write the same text in fewer tokens.
BEHAVIOUR_PADDED = 384
FACT_PADDED = 128
# The two small runs whose batch is written in a notebook, not in a recipe (tests/test_memplan.py reads them there):
# 05's written-out Unsloth cell (``per_device_train_batch_size``) and 10's memorisation probe (``batch``).
BY_HAND_BATCH = 2
PROBE_BATCH = 2


def train_shape(run: str) -> tuple[int, int]:
    """(micro-batch, padded sequence) of one of the course's training runs on a GPU. A GPU takes a recipe's whole
    batch at once (``systems._on_cpu``), so the micro-batch is the recipe's ``batch_size``, read from the recipe
    itself (``systems.behaviour_recipe``, ``knowledge_recipe``, ``raft_recipe``; a learner's case trains with
    the behaviour recipe); RAFT and a case are padded to their recipe's ``max_length``."""
    from . import systems

    if run == "behaviour":
        return systems.behaviour_recipe().batch_size, BEHAVIOUR_PADDED
    if run == "knowledge":
        return systems.knowledge_recipe(n_records=1).batch_size, FACT_PADDED
    if run == "raft":
        recipe = systems.raft_recipe()
        return recipe.batch_size, recipe.max_length
    if run == "case":
        recipe = systems.behaviour_recipe()
        return recipe.batch_size, recipe.max_length
    if run == "by-hand":
        return BY_HAND_BATCH, BEHAVIOUR_PADDED
    if run == "probe":
        return PROBE_BATCH, BEHAVIOUR_PADDED
    raise KeyError(f"no training run {run!r}; the runs are behaviour, knowledge, raft, case, by-hand and probe")


PLANS: dict[str, tuple[Step, ...]] = {
    "00_setup": (Step("the generator loaded, one chat", generate=True),
                 Step("the embedder beside it", embedder=True)),
    "01_decide": (Step("the base model on a mixed sample of the six tasks", generate=True),),
    "02_rag_chroma": (Step("indexing: the embedder alone", models=(), embedder=True),
                      Step("answers from retrieved chunks", generate=True, embedder=True)),
    "03_hybrid_retrieval": (Step("hybrid search: the embedder alone", models=(), embedder=True),),
    "04_rag_pipeline": (Step("the RAG pipeline answering, v1 and v2 indexes", generate=True, embedder=True),),
    "05_lora_finetune": (
        Step("section 2: Unsloth's recipe written out, a second copy of the model trained beside `gen`",
             models=("tier", "tier"), train=train_shape("by-hand")),
        Step("section 3: the base model on the test splits", generate=True),
        Step("section 4: the behaviour adapter trained on `gen`", train=train_shape("behaviour")),
        Step("section 6: the knowledge adapter trained on a second copy, quizzed as it learns",
             models=("tier", "tier"), adapters=1, train=train_shape("knowledge"), generate=True),
        Step("section 7: the knowledge copy released; the saved adapter reloaded beside `gen` and compared (a GPU "
             "tier does not merge: an fp32 merge would double a 7B model)", models=("tier", "tier"), adapters=2,
             generate=True),
        Step("section 8: LoRA vs full fine-tuning, in a child process on the CPU (the 135M model; full fine-tuning "
             "a 7B model needs over 100 GB): `gen` waits", adapters=1),
        Step("section 9: base+schema and FT+schema, a fresh base model beside `gen`", models=("tier", "tier"),
             adapters=1, generate=True)),
    "06_hybrid_stack": (
        Step("base and FT: one model with the behaviour adapter beside it", adapters=1, generate=True,
             embedder=True),
        Step("the RAFT adapter trained on a second copy", models=("tier", "tier"), adapters=1, train=train_shape("raft"),
             embedder=True),
        Step("the four systems compared", models=("tier", "tier"), adapters=2, generate=True, embedder=True)),
    "07_speculative_rag": (
        Step("base and FT: one model with the behaviour adapter beside it", adapters=1, generate=True, embedder=True),
        Step("RAFT added: a second model with its adapter", models=("tier", "tier"), adapters=2, generate=True,
             embedder=True)),
    "08_benchmark": (
        Step("few-shot k chosen on dev: the base model and the embedder", generate=True, embedder=True),
        Step("the benchmark, one model at a time (an adapter beside it)", adapters=1, generate=True,
             embedder=True)),
    "09_costs": (Step("prompts tokenised: the model is loaded for its tokenizer", embedder=True),),
    "10_security": (
        Step("the base model answering the attacks", generate=True, embedder=True),
        Step("the memorisation probe trained on a second copy", models=("tier", "tier"), train=train_shape("probe"),
             generate=True, embedder=True)),
    "11_your_case": (
        Step("your questions answered closed-book and with retrieval", generate=True, embedder=True),
        Step("an adapter trained on your examples, on a second copy (released after)", models=("tier", "tier"),
             train=train_shape("case"), generate=True, embedder=True)),
}


def step_gib(step: Step, tier: str, model_id: str | None = None) -> float:
    """The GiB `step` holds on `tier` (with the tier's model, or `model_id`), the overhead included."""
    s = model_sizes(model_id or env.TIERS[tier]["generator"])
    total = OVERHEAD_GIB + sum(weights_gib(s, tier, None if m == "tier" else m) for m in step.models)
    total += step.adapters * adapter_gib(s)
    # a step that trains and generates (a quiz between training steps) does one after the other: the larger counts
    total += max(training_gib(s, *step.train, full=step.full) if step.train else 0.0,
                 generation_gib(s, tier) if step.generate else 0.0)
    if step.embedder:
        total += EMBEDDER_GIB
    return total


def table(notebook: str, tier: str, model_id: str | None = None) -> list[dict]:
    """Every step of `notebook` on `tier`: what it does, GiB held, and the card's GiB."""
    if notebook not in PLANS:
        raise KeyError(f"no memory plan for {notebook!r}; the plans are {sorted(PLANS)}")
    env.check_tier(tier)
    if tier not in CARD_GIB:
        raise ValueError(f"{tier!r} is not a GPU tier; the GPU tiers are {sorted(CARD_GIB)}")
    return [{"step": st.what, "GiB": round(step_gib(st, tier, model_id), 2), "card GiB": CARD_GIB[tier]}
            for st in PLANS[notebook]]


def peak(notebook: str, tier: str, model_id: str | None = None) -> tuple[str, float]:
    """(the step, its GiB) of `notebook`'s largest step on `tier`."""
    top = max(table(notebook, tier, model_id), key=lambda row: row["GiB"])
    return top["step"], top["GiB"]


def check(notebook: str, tier: str, card_gib: float | None = None, model_id: str | None = None) -> float:
    """The peak of `notebook` on `tier`, or a MemoryPlanError when it exceeds the card (``card_gib``; default the
    tier's reference card) that names the step, the GiB it needs and a tier whose plan fits."""
    card = CARD_GIB[tier] if card_gib is None else card_gib
    where, need = peak(notebook, tier, model_id)
    if need > card:
        fits = [t for t in CARD_GIB if t != tier and peak(notebook, t)[1] <= card]
        hint = f"set COURSE_TIER={fits[0]} (its plan needs {peak(notebook, fits[0])[1]:.1f} GiB)" if fits else \
            "use a larger card"
        raise MemoryPlanError(f"{notebook} on the {tier} tier needs {need:.1f} GiB at '{where}', more than the "
                              f"{card:.1f} GiB of this card: {hint}")
    return need
