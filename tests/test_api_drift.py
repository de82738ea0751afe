"""API drift: the parts of TRL, PEFT, transformers, llama-index and chromadb that the helpers rely on.

Each test checks a signature (``inspect.signature``, dataclass fields) and, where it is cheap, makes a
tiny real call. After a version bump a failure names the library, what changed, and where the course
uses it, so the fix starts in the right file. These tests never skip: a missing library fails too.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import warnings
from collections.abc import Mapping
from importlib.metadata import version

import pytest

# Where the course uses each library (named in every failure message).
FINETUNE = "helpers/finetune.py (notebooks 05_lora_finetune, 06_hybrid_stack)"
MODELS = "helpers/models.py (the embedded model's conversion and loading, every notebook)"
GENERATE = "helpers/generate.py and helpers/finetune.py (prompts for generation and training)"
PIPELINE = "helpers/pipeline.py (RagPipeline, notebook 04_rag_pipeline)"
INDEX = "helpers/index.py and helpers/models.chroma_embedding_function (notebooks 02-04)"

MESSAGES = [{"role": "system", "content": "You answer in one word."}, {"role": "user", "content": "Capital of France?"}]
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load(module: str, package: str):
    """Import `module`, failing (not skipping) with the install hint when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{package} is not importable ({exc}); the course needs it: `make setup` installs requirements.txt")


def drift(package: str, what: str, where: str) -> str:
    """The failure message: which library (and version) changed what, and where the course uses it."""
    return f"{package} {version(package)} changed: {what}. The course relies on it in {where}."


def missing_parameters(func, names) -> list[str]:
    """Names that `func` does not take as keywords (a **kwargs catch-all does not count)."""
    params = inspect.signature(func).parameters
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [n for n in names if n not in params or params[n].kind not in kinds]


def test_missing_parameters_sees_through_kwargs():
    def f(a, *, b=1, **kwargs):
        return a, b, kwargs

    assert missing_parameters(f, ["a", "b", "c"]) == ["c"]


# ---------------------------------------------------------------------------------------------
# TRL
# ---------------------------------------------------------------------------------------------

SFT_FIELDS = ["max_steps", "per_device_train_batch_size", "learning_rate", "bf16", "fp16", "gradient_checkpointing",
              "use_cpu", "completion_only_loss", "max_length", "packing", "logging_steps", "output_dir", "report_to",
              "optim", "seed",
              # also set by helpers/finetune._sft_config today
              "gradient_accumulation_steps", "warmup_steps", "lr_scheduler_type", "save_strategy", "data_seed",
              "dataloader_num_workers", "disable_tqdm", "dataset_text_field",
              # micro-batches read in step order (helpers/finetune.step_order); without it steps are shuffled again
              "train_sampling_strategy"]


def test_trl_sft_config_fields():
    trl = load("trl", "trl")
    fields = {f.name for f in dataclasses.fields(trl.SFTConfig)}
    gone = [name for name in SFT_FIELDS if name not in fields]
    assert not gone, drift("trl", f"SFTConfig has no field {gone}", FINETUNE)


# Deprecations of settings the course passes, known and accepted; any other one fails the test below.
KNOWN_DEPRECATIONS = {
    # transformers >= 5.2x renamed it activation_checkpointing (removal in v6). The GPU stack's transformers
    # 5.17 (capped by Unsloth) has no such field, so the helpers keep the old name until both stacks move.
    "gradient_checkpointing": "activation_checkpointing",
}


def test_trl_sft_config_keeps_the_cpu_settings(tmp_path):
    trl = load("trl", "trl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = trl.SFTConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, fp16=False,
                               gradient_checkpointing=False, max_steps=2, per_device_train_batch_size=2,
                               learning_rate=3e-4, logging_steps=1, seed=3, completion_only_loss=True, max_length=128,
                               packing=False, report_to="none", optim="adamw_torch", gradient_accumulation_steps=1,
                               warmup_steps=0, lr_scheduler_type="linear", save_strategy="no", data_seed=3,
                               dataloader_num_workers=0, disable_tqdm=False, dataset_text_field="text")
    deprecated = {name for w in caught if issubclass(w.category, (DeprecationWarning, FutureWarning))
                  for name in SFT_FIELDS if f"`{name}`" in str(w.message) or f"'{name}'" in str(w.message)}
    new = sorted(deprecated - set(KNOWN_DEPRECATIONS))
    assert not new, drift("trl", f"SFTConfig deprecates {new} (warnings: {[str(w.message) for w in caught]})", FINETUNE)
    got = {name: getattr(config, name) for name in ("bf16", "fp16", "gradient_checkpointing", "completion_only_loss",
                                                     "max_length", "packing", "max_steps", "seed")}
    assert got == {"bf16": False, "fp16": False, "gradient_checkpointing": False, "completion_only_loss": True,
                   "max_length": 128, "packing": False, "max_steps": 2, "seed": 3}, \
        drift("trl", f"SFTConfig overrides explicit settings after __init__: {got}", FINETUNE)
    assert str(getattr(config.optim, "value", config.optim)) == "adamw_torch", drift("trl", "optim names", FINETUNE)
    assert config.report_to in ([], "none", ["none"]), drift("trl", f"report_to='none' became {config.report_to}",
                                                             FINETUNE)


def test_trl_cpu_defaults_are_still_the_trap_the_course_explains(tmp_path):
    """DESIGN.md and helpers/finetune.py say TRL turns bf16 and gradient checkpointing on even with use_cpu=True
    (halving CPU speed), which is why the recipe sets both. If TRL changes that, the explanation is stale."""
    trl = load("trl", "trl")
    config = trl.SFTConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    assert config.bf16 is True and config.gradient_checkpointing is True, drift(
        "trl", f"SFTConfig(use_cpu=True) defaults are now bf16={config.bf16}, gradient_checkpointing="
        f"{config.gradient_checkpointing}; update the CPU-defaults explanation", FINETUNE)


def test_trl_sft_trainer_init():
    trl = load("trl", "trl")
    gone = missing_parameters(trl.SFTTrainer.__init__, ["model", "args", "train_dataset", "eval_dataset",
                                                        "processing_class", "peft_config", "callbacks"])
    assert not gone, drift("trl", f"SFTTrainer.__init__ no longer takes {gone}", FINETUNE)


def test_trl_reads_prompt_completion_chats():
    """finetune.to_prompt_completion gives TRL conversational prompt/completion rows (loss on the completion)."""
    data_utils = load("trl.data_utils", "trl")
    row = {"prompt": MESSAGES, "completion": [{"role": "assistant", "content": "Paris"}]}
    assert data_utils.is_conversational(row), drift("trl", "prompt/completion chat rows are not conversational",
                                                    FINETUNE)


# ---------------------------------------------------------------------------------------------
# PEFT
# ---------------------------------------------------------------------------------------------

def tiny_llama(dtype=None):
    """A random two-layer Llama (the architecture of SmolLM2) small enough to build in milliseconds."""
    transformers = load("transformers", "transformers")
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return transformers.AutoModelForCausalLM.from_config(config, **({"dtype": dtype} if dtype else {}))


def test_peft_lora_config_fields():
    peft = load("peft", "peft")
    fields = {f.name for f in dataclasses.fields(peft.LoraConfig)}
    gone = [n for n in ("r", "lora_alpha", "lora_dropout", "target_modules", "task_type", "bias") if n not in fields]
    assert not gone, drift("peft", f"LoraConfig has no field {gone}", FINETUNE)


def test_peft_lora_on_every_llama_projection(tmp_path):
    """The recipe's seven target modules still exist in transformers' Llama, and PEFT wraps, saves, reloads
    and merges them."""
    peft = load("peft", "peft")
    torch = load("torch", "torch")
    config = peft.LoraConfig(r=4, lora_alpha=4, lora_dropout=0.0, target_modules=LORA_TARGETS, bias="none",
                             task_type="CAUSAL_LM")
    model = peft.get_peft_model(tiny_llama(), config)
    wrapped = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if hasattr(module, "lora_A")}
    assert wrapped == set(LORA_TARGETS), drift("transformers", f"Llama's linear layers are now {sorted(wrapped)}, "
                                               f"LoRA targets {LORA_TARGETS}", FINETUNE)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 0 < trainable < sum(p.numel() for p in model.parameters()), drift("peft", "trainable parameters", FINETUNE)
    model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").is_file(), drift("peft", "save_pretrained layout", FINETUNE)
    reloaded = peft.PeftModel.from_pretrained(tiny_llama(), str(tmp_path / "adapter"))
    merged = reloaded.merge_and_unload()
    assert not any("lora" in name for name, _ in merged.named_parameters()), drift("peft", "merge_and_unload",
                                                                                  FINETUNE)
    assert merged(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 64)


# ---------------------------------------------------------------------------------------------
# transformers
# ---------------------------------------------------------------------------------------------

def test_transformers_loads_gguf_files():
    """models._convert_gguf loads the embedded GGUF with from_pretrained(folder, gguf_file=...)."""
    transformers = load("transformers", "transformers")
    from helpers import models

    source = inspect.getsource(transformers.PreTrainedModel.from_pretrained)
    assert "gguf_file" in source, drift("transformers", "PreTrainedModel.from_pretrained no longer reads gguf_file",
                                        MODELS)
    gguf = models.embedded_gguf_path()
    config = transformers.AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    assert config.model_type == "llama" and config.num_hidden_layers == 30, drift(
        "transformers", f"a GGUF SmolLM2 reads as {config.model_type} with {config.num_hidden_layers} layers", MODELS)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template, drift(
        "transformers", "the tokenizer read from GGUF has no ChatML chat template", MODELS)


def test_transformers_dtype_keyword(tmp_path):
    """transformers 5 takes `dtype=` (not `torch_dtype=`) in from_config and from_pretrained."""
    torch = load("torch", "torch")
    transformers = load("transformers", "transformers")
    model = tiny_llama(dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16, drift("transformers", "from_config ignores dtype=", MODELS)
    model.save_pretrained(tmp_path / "m")
    again = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "m", dtype=torch.float32)
    assert again.dtype == torch.float32, drift("transformers", "from_pretrained ignores dtype=", MODELS)


@pytest.fixture(scope="module")
def tokenizer():
    transformers = load("transformers", "transformers")
    from helpers import models

    return transformers.AutoTokenizer.from_pretrained(models.embedded_generator_dir(progress=None))


def test_apply_chat_template_signature(tokenizer):
    gone = missing_parameters(type(tokenizer).apply_chat_template,
                              ["add_generation_prompt", "tokenize", "return_dict", "return_tensors"])
    assert not gone, drift("transformers", f"apply_chat_template no longer takes {gone}", GENERATE)


def test_apply_chat_template_text_and_tensors(tokenizer):
    text = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert isinstance(text, str) and text.endswith("<|im_start|>assistant\n"), drift(
        "transformers", f"apply_chat_template(tokenize=False) gave {text!r}", GENERATE)
    inputs = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert isinstance(inputs, Mapping) and {"input_ids", "attention_mask"} <= set(inputs), drift(
        "transformers", f"apply_chat_template(return_tensors='pt', return_dict=True) gave {type(inputs).__name__}",
        GENERATE)
    assert inputs["input_ids"].shape[0] == 1 and inputs["input_ids"].dtype.is_floating_point is False
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert inputs["input_ids"][0].tolist() == ids, drift(
        "transformers", "the template's own token ids differ from tokenising its text (add_special_tokens=False)",
        GENERATE)


# ---------------------------------------------------------------------------------------------
# llama-index
# ---------------------------------------------------------------------------------------------

def nodes():
    schema = load("llama_index.core.schema", "llama-index-core")
    texts = {"c1": "Annual plans are refunded within 30 days.", "c2": "Error CFX-4091 means a step timed out.",
             "c3": "Admins add seats from the Members page."}
    return [schema.TextNode(id_=cid, text=text, metadata={"article_id": cid.upper()}) for cid, text in texts.items()]


def test_llama_index_query_fusion_retriever():
    retrievers = load("llama_index.core.retrievers", "llama-index-core")
    fusion = load("llama_index.core.retrievers.fusion_retriever", "llama-index-core")
    init = retrievers.QueryFusionRetriever.__init__
    gone = missing_parameters(init, ["retrievers", "mode", "similarity_top_k", "num_queries", "use_async", "llm"])
    assert not gone, drift("llama-index-core", f"QueryFusionRetriever no longer takes {gone}", PIPELINE)
    assert list(inspect.signature(init).parameters)[1] == "retrievers", drift(
        "llama-index-core", "QueryFusionRetriever's first argument is no longer the retrievers", PIPELINE)
    modes = {m.value for m in fusion.FUSION_MODES}
    assert "reciprocal_rerank" in modes, drift("llama-index-core", f"fusion modes are now {sorted(modes)}", PIPELINE)


def test_llama_index_bm25_and_fusion_run():
    bm25 = load("llama_index.retrievers.bm25", "llama-index-retrievers-bm25")
    retrievers = load("llama_index.core.retrievers", "llama-index-core")
    docstore_mod = load("llama_index.core.storage.docstore", "llama-index-core")
    llms = load("llama_index.core.llms", "llama-index-core")
    gone = missing_parameters(bm25.BM25Retriever.from_defaults, ["docstore", "similarity_top_k"])
    assert not gone, drift("llama-index-retrievers-bm25", f"BM25Retriever.from_defaults lost {gone}", PIPELINE)
    docstore = docstore_mod.SimpleDocumentStore()
    docstore.add_documents(nodes())
    keyword = bm25.BM25Retriever.from_defaults(docstore=docstore, similarity_top_k=2)
    assert keyword.retrieve("CFX-4091")[0].node.node_id == "c2", drift(
        "llama-index-retrievers-bm25", "BM25 over a docstore no longer finds an exact code", PIPELINE)
    fused = retrievers.QueryFusionRetriever([keyword, bm25.BM25Retriever.from_defaults(docstore=docstore,
                                                                                         similarity_top_k=2)],
                                            llm=llms.MockLLM(), mode="reciprocal_rerank", similarity_top_k=2,
                                            num_queries=1, use_async=False)
    hits = fused.retrieve("seats Members page")
    assert hits and hits[0].node.node_id == "c3", drift("llama-index-core", "reciprocal_rerank fusion result", PIPELINE)


def chroma_collection(tmp_path, name="drift-check", **kwargs):
    chromadb = load("chromadb", "chromadb")
    config = load("chromadb.config", "chromadb")
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=config.Settings(anonymized_telemetry=False))
    return client, client.create_collection(name, metadata={"hnsw:space": "cosine"}, **kwargs)


def test_llama_index_reads_a_collection_the_course_built(tmp_path):
    """helpers.index writes plain documents and metadata; ChromaVectorStore must read them back as nodes."""
    chroma = load("llama_index.vector_stores.chroma", "llama-index-vector-stores-chroma")
    types = load("llama_index.core.vector_stores.types", "llama-index-core")
    assert not missing_parameters(chroma.ChromaVectorStore.__init__, ["chroma_collection"]), drift(
        "llama-index-vector-stores-chroma", "ChromaVectorStore no longer takes chroma_collection=", PIPELINE)
    _, collection = chroma_collection(tmp_path, embedding_function=None)
    collection.upsert(ids=["c1", "c2"], documents=["refunds within 30 days", "error CFX-4091"],
                      metadatas=[{"article_id": "KB-1"}, {"article_id": "KB-2"}], embeddings=[[1, 0, 0], [0, 1, 0]])
    store = chroma.ChromaVectorStore(chroma_collection=collection)
    result = store.query(types.VectorStoreQuery(query_embedding=[0.1, 0.9, 0.0], similarity_top_k=1))
    node = result.nodes[0]
    assert (node.node_id, node.get_content(), node.metadata) == ("c2", "error CFX-4091", {"article_id": "KB-2"}), drift(
        "llama-index-vector-stores-chroma", "a collection written by helpers.index reads back differently", PIPELINE)


# ---------------------------------------------------------------------------------------------
# chromadb
# ---------------------------------------------------------------------------------------------

def test_chroma_clients():
    chromadb = load("chromadb", "chromadb")
    config = load("chromadb.config", "chromadb")
    for client, names in ((chromadb.PersistentClient, ["path", "settings"]),
                          (chromadb.HttpClient, ["host", "port", "ssl", "settings"])):
        gone = missing_parameters(client, names)
        assert not gone, drift("chromadb", f"{client.__name__} no longer takes {gone}", "helpers/index.chroma_client")
    assert config.Settings(anonymized_telemetry=False).anonymized_telemetry is False, drift(
        "chromadb", "Settings(anonymized_telemetry=...)", "helpers/index.chroma_client")


def test_chroma_collection_signatures():
    collection = load("chromadb.api.models.Collection", "chromadb").Collection
    client_api = load("chromadb.api", "chromadb").ClientAPI
    for method, names in ((collection.upsert, ["ids", "documents", "metadatas", "embeddings"]),
                          (collection.query, ["query_embeddings", "n_results", "where", "include"]),
                          (client_api.create_collection, ["name", "embedding_function", "metadata"])):
        gone = missing_parameters(method, names)
        assert not gone, drift("chromadb", f"{method.__qualname__} no longer takes {gone}", INDEX)


def test_chroma_upsert_and_filtered_cosine_query(tmp_path):
    _, collection = chroma_collection(tmp_path, embedding_function=None)
    collection.upsert(ids=["a", "b", "c"], documents=["one", "two", "three"], embeddings=[[1, 0], [0, 1], [1, 1]],
                      metadatas=[{"audience": "public"}, {"audience": "internal"}, {"audience": "public"}])
    collection.upsert(ids=["a"], documents=["one, again"], embeddings=[[1, 0]], metadatas=[{"audience": "public"}])
    result = collection.query(query_embeddings=[[1, 0]], n_results=3, where={"audience": "public"},
                              include=["distances", "metadatas", "documents"])
    assert result["ids"] == [["a", "c"]] and result["documents"][0][0] == "one, again", drift(
        "chromadb", f"upsert/query with where= returned {result['ids']}", INDEX)
    assert result["distances"][0][0] == pytest.approx(0.0, abs=1e-5), drift(
        "chromadb", "cosine distance (hnsw:space) of identical vectors is not 0; Index.vector_search scores 1 - distance",
        INDEX)
    assert collection.count() == 3


def test_chroma_accepts_the_course_embedding_function(tmp_path):
    """models.chroma_embedding_function subclasses chromadb's EmbeddingFunction protocol; Chroma must call it."""
    np = load("numpy", "numpy")
    chromadb = load("chromadb", "chromadb")
    from helpers import models

    class FakeEmbedder:  # stands in for the sentence-transformers model: same encode() call
        def encode(self, texts, normalize_embeddings, convert_to_numpy):
            return np.array([[len(t) % 3 + 1.0, t.count("e") + 1.0, 1.0] for t in texts], dtype=np.float32)

    function = models.chroma_embedding_function(FakeEmbedder())
    assert isinstance(function, chromadb.EmbeddingFunction), drift("chromadb", "the EmbeddingFunction protocol", INDEX)
    client, collection = chroma_collection(tmp_path, name="drift-ef", embedding_function=function)
    collection.upsert(ids=["x", "y"], documents=["seven", "a"])
    stored = collection.get(ids=["x"], include=["embeddings"])["embeddings"][0].tolist()
    assert stored == pytest.approx([3.0, 3.0, 1.0], rel=1e-5), drift(
        "chromadb", "a collection no longer embeds documents with its embedding function", INDEX)
    assert client.get_collection("drift-ef", embedding_function=function).query(
        query_texts=["seven"], n_results=1)["ids"] == [["x"]]
