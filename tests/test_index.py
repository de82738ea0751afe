"""Versioned Chroma indexes: build, idempotence, promote with a check, rollback, diff, interruption, mismatch, server."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import index, rag

ARTICLES = [
    {"id": "KB-001", "title": "Refunds", "section": "billing", "version": 1, "audience": "public",
     "text": "# Refunds\n## Policy\nAnnual plans are refunded in full within 30 days of purchase."},
    {"id": "KB-002", "title": "Timeouts", "section": "errors", "version": 1, "audience": "public",
     "text": "# Timeouts\n## CFX-4091\nA step that runs longer than 300 seconds stops with error CFX-4091."},
    {"id": "KB-003", "title": "Seats", "section": "plans", "version": 1, "audience": "internal",
     "text": "# Seats\n## Adding seats\nAdmins add seats from Settings > Members; each seat is billed monthly."},
]
CHUNKING = {"strategy": "heading", "size": 180, "overlap": 30}
PROBES = [{"question": "how long do I have to get my money back", "sources": ["KB-001"]},
          {"question": "CFX-4091", "sources": ["KB-002"]}]


def chunks(articles=ARTICLES):
    return rag.chunk_corpus(articles, **CHUNKING)


@pytest.fixture
def store(tmp_path, embedder, monkeypatch):
    monkeypatch.delenv("COURSE_CHROMA_URL", raising=False)
    return index.IndexStore("test-index", root=tmp_path / "idx", embedder=embedder)


def test_build_search_and_idempotence(store):
    first = store.build(chunks(), corpus_version=1, chunking=CHUNKING, progress=False)
    assert first["version"] == "v001" and first["counts"] == {"chunks": 3, "articles": 3}
    assert first["embedder"]["dim"] == 384
    again = store.build(chunks(), corpus_version=1, chunking=CHUNKING, progress=False)
    assert again["version"] == "v001" and len(store.versions()) == 1, "same content must not be indexed twice"
    opened = store.open("v001")
    assert opened.count() == 3
    assert opened.search("money back", k=1, mode="vector")[0].article_id == "KB-001"
    assert opened.search("CFX-4091", k=1, mode="bm25")[0].article_id == "KB-002"
    assert opened.search("CFX-4091", k=3, mode="hybrid")[0].article_id == "KB-002"
    assert {h.article_id for h in opened.search("seats", k=3, mode="vector", where={"audience": "public"})} \
        <= {"KB-001", "KB-002"}
    with pytest.raises(ValueError, match="unknown search mode"):
        opened.search("x", mode="magic")


def test_promote_rollback_diff(store):
    v1 = store.build(chunks(), 1, CHUNKING, progress=False)["version"]
    store.promote(v1, check=index.retrieval_check(PROBES, k=1, min_recall=1.0))
    changed = [dict(ARTICLES[0], text=ARTICLES[0]["text"].replace("30 days", "14 days"))] + ARTICLES[1:2] + [
        {"id": "KB-004", "title": "SSO", "section": "security", "version": 2, "audience": "public",
         "text": "# SSO\n## Setup\nSingle sign-on uses SAML."}]
    v2 = store.build(chunks(changed), 2, CHUNKING, progress=False)["version"]
    assert store.diff(v1, v2) == {"added": ["KB-004#000"], "changed": ["KB-001#000"], "removed": ["KB-003#000"]}
    store.promote(v2)
    assert store.current() == "v002"
    assert store.rollback() == "v001" and store.current() == "v001"
    assert [m["current"] for m in store.versions()] == [True, False]
    with pytest.raises(index.VersionError, match=r"no version 'v009'.*\['v001', 'v002'\]"):
        store.rollback("v009")
    assert store.current() == "v001"


def test_failed_check_does_not_promote(store):
    good = store.build(chunks(), 1, CHUNKING, progress=False)["version"]
    store.promote(good)
    broken = [dict(a, text=f"# {a['title']}\n## x\nlorem ipsum dolor sit amet") for a in ARTICLES]
    bad = store.build(chunks(broken), 1, CHUNKING, progress=False)["version"]
    with pytest.raises(index.PromotionRefused, match="failed its retrieval check") as refused:
        store.promote(bad, check=index.retrieval_check(PROBES, k=1, min_recall=1.0))
    assert refused.value.report["recall"] < 1.0
    assert store.current() == good


def test_answer_rate_catches_content_loss(store):
    """Titles alone still point at the right articles; only the answer-text test notices the bodies are gone."""
    probes = [dict(PROBES[0], answer="30 days"), dict(PROBES[1], question="timeouts CFX-4091", answer="300 seconds")]
    titles_only = [dict(a, text=f"# {a['title']}\n## {a['title']}\n{a['title']} {a['section']}") for a in ARTICLES]
    version = store.build(chunks(titles_only), 1, CHUNKING, progress=False)["version"]
    lenient = index.retrieval_check(probes, k=2, min_recall=0.5)
    strict = index.retrieval_check(probes, k=2, min_recall=0.5, min_answer_rate=0.5)
    assert lenient(store.open(version))["ok"]
    report = strict(store.open(version))
    assert not report["ok"] and report["answer_rate"] == 0 and report["answered_each"] == [0, 0]
    full = store.build(chunks(), 1, CHUNKING, progress=False)["version"]
    good = strict(store.open(full))
    assert good["ok"] and len(good["found_each"]) == 2 and sum(good["answered_each"]) / 2 == good["answer_rate"]
    with pytest.raises(ValueError, match="needs an 'answer'"):
        index.retrieval_check(PROBES, min_answer_rate=0.5)


def test_interrupted_build_leaves_no_version(store, monkeypatch):
    calls = {"n": 0}
    real = store.embedding_function

    def flaky(texts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(texts)

    monkeypatch.setattr(store, "_embed_fn", flaky)
    with pytest.raises(KeyboardInterrupt):
        store.build(chunks(), 1, CHUNKING, batch_size=1, progress=False)
    assert store.versions() == []
    monkeypatch.setattr(store, "_embed_fn", real)
    manifest = store.build(chunks(), 1, CHUNKING, progress=False)
    assert manifest["version"] == "v001" and store.open("v001").count() == 3
    names = [c if isinstance(c, str) else c.name for c in store.client.list_collections()]
    assert names == ["test-index-v001"], "the half-built collection must be gone"


def test_embedder_mismatch_is_detected(store):
    version = store.build(chunks(), 1, CHUNKING, progress=False)["version"]
    path = store._manifest_path(version)
    manifest = json.loads(path.read_text())
    manifest["embedder"]["dim"] = 768
    path.write_text(json.dumps(manifest))
    with pytest.raises(index.EmbedderMismatch, match="768-d vectors"):
        store.open(version)
    manifest["embedder"]["id"] = "BAAI/bge-base-en-v1.5"
    path.write_text(json.dumps(manifest))
    with pytest.raises(index.EmbedderMismatch, match="built with 'BAAI/bge-base-en-v1.5'"):
        store.open(version)


def test_no_promoted_version_and_empty_build(store):
    with pytest.raises(index.VersionError, match="no promoted version"):
        store.open()
    with pytest.raises(ValueError, match="zero chunks"):
        store.build([], 1, CHUNKING)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_same_code_against_a_chroma_server(tmp_path, embedder, monkeypatch):
    chroma = Path(sys.executable).with_name("chroma")
    port = _free_port()
    server = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        monkeypatch.setenv("COURSE_CHROMA_URL", f"http://127.0.0.1:{port}")
        store = index.IndexStore("server-index", root=tmp_path / "meta", embedder=embedder)
        version = store.build(chunks(), 1, CHUNKING, progress=False)["version"]
        store.promote(version)
        assert store.open().search("CFX-4091", k=1)[0].article_id == "KB-002"
        assert not (tmp_path / "meta" / "chroma").exists(), "the server, not a local folder, holds the vectors"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_bad_server_url(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CHROMA_URL", "127.0.0.1:8000")
    with pytest.raises(ValueError, match="must look like http"):
        index.chroma_client(tmp_path)


def test_chroma_by_hand_and_the_index_store_return_the_same_chunks(tmp_path, embedder, small_index):
    """Notebook 02 writes the chromadb calls by hand, then hands over to IndexStore as "the same, plus
    versions": the same question (with or without a compound filter) gives the same chunk ids in the same order."""
    import chromadb

    from helpers import models

    client = chromadb.PersistentClient(path=str(tmp_path / "by-hand"))
    collection = client.get_or_create_collection("by-hand", embedding_function=models.chroma_embedding_function(embedder),
                                                 metadata={"hnsw:space": "cosine"})
    chunks = small_index.chunks
    for _ in range(2):  # the notebook's cell, run twice: only ids not yet there are added
        have = set(collection.get(ids=[c.id for c in chunks], include=[])["ids"])
        new = [c for c in chunks if c.id not in have]
        if new:
            collection.add(ids=[c.id for c in new], documents=[c.text for c in new], metadatas=[c.metadata() for c in new])
    assert collection.count() == len(chunks)
    compound = {"$and": [{"section": {"$in": ["billing", "plans"]}}, {"audience": "public"}]}
    for question, where in (("how long do I have to get my money back", None), ("CFX-4091", None),
                            ("who pays for a seat", None), ("refund or seats", compound)):
        by_hand = collection.query(query_texts=[question], n_results=3, where=where)["ids"][0]
        packaged = [h.chunk_id for h in small_index.search(question, k=3, mode="vector", where=where)]
        assert by_hand == packaged, (question, by_hand, packaged)
    assert {i.split("#")[0] for i in collection.query(query_texts=["seats"], n_results=3, where=compound)["ids"][0]} == {
        "KB-001"}, "the compound filter keeps public billing/plans chunks only (KB-003 is internal)"
