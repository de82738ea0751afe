"""Versioned retrieval indexes on Chroma: build, list, diff, promote, roll back, search.

Each build is a new *version* (``v001``, ``v002``, ...): its own Chroma collection plus a manifest
(corpus version, chunking, embedder, counts, content hash, build time) and its chunks on disk (the
docstore BM25 needs). A version becomes live only by ``promote``, which can run a retrieval check
first; ``rollback`` returns to the previously promoted version. A build that stops half-way has no
manifest, is never listed or served, and is cleared by the next build.

By default Chroma runs embedded (``PersistentClient``) under the course workspace. Set
``COURSE_CHROMA_URL=http://127.0.0.1:8000`` to use a Chroma server (``chroma run``) instead: the
same code then shares one index across a team.

Example::

    from helpers import data, index, rag
    store = index.IndexStore("help-centre")
    chunks = rag.chunk_corpus(data.load_corpus(1))
    v = store.build(chunks, corpus_version=1, chunking={"strategy": "heading", "size": 180, "overlap": 30})
    store.promote(v["version"])
    store.open().search("How do I fix CFX-4091?", k=5)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlparse

from . import env, rag
from .rag import Chunk, Hit

MODES = ("vector", "bm25", "hybrid")


class VersionError(LookupError):
    """An index version that does not exist, or an index that cannot be used as asked."""


class EmbedderMismatch(ValueError):
    """The index was built with another embedder than the one asked to query it."""


class PromotionRefused(RuntimeError):
    """A version failed the retrieval check run before promotion."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def chroma_client(path: Path | None = None):
    """A Chroma client: HttpClient when COURSE_CHROMA_URL is set, else a PersistentClient at `path`."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    url = os.environ.get("COURSE_CHROMA_URL", "").strip()
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ValueError(f"COURSE_CHROMA_URL must look like http://127.0.0.1:8000, got {url!r}")
        return chromadb.HttpClient(host=parsed.hostname, port=parsed.port or 8000, ssl=parsed.scheme == "https",
                                   settings=settings)
    if path is None:
        raise ValueError("an embedded Chroma client needs a folder")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def _write_json(path: Path, payload) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    os.replace(tmp, path)


def content_hash(chunks: Sequence[Chunk]) -> str:
    """A hash of every chunk id and text: equal hashes mean identical indexes."""
    digest = hashlib.sha256()
    for chunk in sorted(chunks, key=lambda c: c.id):
        digest.update(f"{chunk.id}\t{chunk.hash}\n".encode())
    return digest.hexdigest()[:16]


class Index:
    """One built version: vector search in Chroma, BM25 over the same chunks, and their fusion."""

    def __init__(self, manifest: dict, collection, chunks: list[Chunk], embedding_function):
        self.manifest = manifest
        self.version = manifest["version"]
        self.collection = collection
        self.chunks = chunks
        self.by_id = {c.id: c for c in chunks}
        self.embed = embedding_function
        self.bm25 = rag.BM25Index(chunks)

    def vector_search(self, query: str, k: int = 10, where: dict | None = None) -> list[Hit]:
        """The `k` nearest chunks by cosine distance of the query embedding (filtered inside Chroma)."""
        query = rag.check_query(query)
        vector = self.embed([query])[0]
        result = self.collection.query(query_embeddings=[vector], n_results=k, where=where or None,
                                       include=["distances", "metadatas", "documents"])
        return [Hit(cid, meta["article_id"], 1.0 - dist, rank, doc, meta) for rank, (cid, dist, meta, doc) in
                enumerate(zip(result["ids"][0], result["distances"][0], result["metadatas"][0],
                              result["documents"][0], strict=True), start=1)]

    def bm25_search(self, query: str, k: int = 10, where: dict | None = None) -> list[Hit]:
        """The `k` best chunks by BM25 (filtered before ranking, like the vector side)."""
        return self.bm25.search(query, k=k, where=where)

    def hybrid_search(self, query: str, k: int = 10, where: dict | None = None, candidates: int = 20,
                      rrf_k: int = 60) -> list[Hit]:
        """Reciprocal rank fusion of the top `candidates` of vector and BM25 search."""
        vector = self.vector_search(query, candidates, where)
        keyword = self.bm25_search(query, candidates, where)
        fused = rag.reciprocal_rank_fusion([[h.chunk_id for h in vector], [h.chunk_id for h in keyword]], k=rrf_k)
        hits = []
        for rank, (cid, score) in enumerate(fused[:k], start=1):
            chunk = self.by_id[cid]
            hits.append(Hit(cid, chunk.article_id, score, rank, chunk.text, chunk.metadata()))
        return hits

    def search(self, query: str, k: int = 10, mode: str = "hybrid", where: dict | None = None) -> list[Hit]:
        """Search by `mode`: 'vector', 'bm25' or 'hybrid'."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; choose one of {list(MODES)}")
        return {"vector": self.vector_search, "bm25": self.bm25_search, "hybrid": self.hybrid_search}[mode](
            query, k=k, where=where)

    def count(self) -> int:
        """Chunks stored in the Chroma collection."""
        return self.collection.count()


class IndexStore:
    """All versions of one named index, under ``<workspace>/indexes/<name>``."""

    def __init__(self, name: str = "help-centre", root: Path | None = None, embedder=None):
        if not name.replace("-", "").replace("_", "").isalnum() or len(name) < 3:
            raise ValueError(f"index name {name!r}: use 3+ letters, digits, '-' or '_'")
        self.name = name
        self.root = Path(root) if root else env.workspace_dir() / "indexes" / name
        (self.root / "versions").mkdir(parents=True, exist_ok=True)
        self._embedder = embedder
        self._client = None
        self._embed_fn = None

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = chroma_client(self.root / "chroma")
        return self._client

    @property
    def embedding_function(self):
        if self._embed_fn is None:
            from . import models

            self._embed_fn = models.chroma_embedding_function(self._embedder)
        return self._embed_fn

    def _collection_name(self, version: str) -> str:
        return f"{self.name}-{version}"

    def _manifest_path(self, version: str) -> Path:
        return self.root / "versions" / f"{version}.json"

    def _chunks_path(self, version: str) -> Path:
        return self.root / "versions" / f"{version}.chunks.jsonl"

    def _state(self) -> dict:
        path = self.root / "state.json"
        return json.loads(path.read_text()) if path.is_file() else {"current": None, "history": []}

    # -- listing ----------------------------------------------------------------------------
    def versions(self) -> list[dict]:
        """Manifests of every complete version, oldest first, each marked ``current`` or not."""
        current = self._state()["current"]
        out = []
        for path in sorted((self.root / "versions").glob("v[0-9][0-9][0-9].json")):
            manifest = json.loads(path.read_text())
            manifest["current"] = manifest["version"] == current
            out.append(manifest)
        return out

    def manifest(self, version: str) -> dict:
        """The manifest of `version`, or an error listing the versions that exist."""
        path = self._manifest_path(version)
        if not path.is_file():
            known = [m["version"] for m in self.versions()]
            raise VersionError(f"index {self.name!r} has no version {version!r}; it has {known or 'none yet'}")
        return json.loads(path.read_text())

    def current(self) -> str | None:
        """The promoted version serving queries, or None before the first promotion."""
        return self._state()["current"]

    # -- building ---------------------------------------------------------------------------
    def build(self, chunks: Sequence[Chunk], corpus_version: int, chunking: dict, batch_size: int = 64,
              progress: bool = True) -> dict:
        """Build a new version from `chunks` (or return the existing one with identical content).

        The collection is filled first and the manifest written last, so an interrupted build
        leaves no version behind; its collection is removed by the next build.
        """
        from .progress import bar

        chunks = list(chunks)
        if not chunks:
            raise ValueError("refusing to build an index from zero chunks (is the corpus folder empty?)")
        ids = [c.id for c in chunks]
        if len(set(ids)) != len(ids):
            raise ValueError("chunk ids are not unique; chunk each article once")
        digest = content_hash(chunks)
        for existing in self.versions():
            if existing["content_hash"] == digest and existing["embedder"]["id"] == env.embedder_id():
                return existing  # idempotent: the same content is not indexed twice
        self._clear_incomplete()
        version = f"v{len(list((self.root / 'versions').glob('v[0-9][0-9][0-9].json'))) + 1:03d}"
        while self._manifest_path(version).exists():
            version = f"v{int(version[1:]) + 1:03d}"
        start = time.perf_counter()
        collection = self.client.create_collection(self._collection_name(version), embedding_function=None,
                                                   metadata={"hnsw:space": "cosine"})
        dim = None
        for lo in bar(range(0, len(chunks), batch_size), desc=f"indexing {version}", unit="batch",
                       disable=not progress):
            batch = chunks[lo : lo + batch_size]
            vectors = self.embedding_function([c.text for c in batch])
            dim = len(vectors[0])
            collection.upsert(ids=[c.id for c in batch], documents=[c.text for c in batch],
                              metadatas=[c.metadata() for c in batch], embeddings=vectors)
        seconds = time.perf_counter() - start
        with open(self._chunks_path(version), "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(asdict(chunk), sort_keys=True, ensure_ascii=False) + "\n")
        manifest = {
            "name": self.name, "version": version, "corpus_version": corpus_version, "chunking": chunking,
            "embedder": {"id": env.embedder_id(), "dim": dim},
            "counts": {"chunks": len(chunks), "articles": len({c.article_id for c in chunks})},
            "content_hash": digest, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "build_seconds": round(seconds, 2),
        }
        _write_json(self._manifest_path(version), manifest)
        return manifest

    def _clear_incomplete(self) -> list[str]:
        """Remove collections and chunk files of builds that never wrote their manifest."""
        complete = {self._collection_name(m["version"]) for m in self.versions()}
        removed = []
        for collection in self.client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            if name.startswith(f"{self.name}-v") and name not in complete:
                self.client.delete_collection(name)
                removed.append(name)
        for path in (self.root / "versions").glob("v*.chunks.jsonl"):
            if not self._manifest_path(path.name.split(".")[0]).exists():
                path.unlink()
        return removed

    # -- serving ----------------------------------------------------------------------------
    def open(self, version: str | None = None) -> Index:
        """Open `version` (default: the current one) for search, checking the embedder matches."""
        version = version or self.current()
        if version is None:
            raise VersionError(f"index {self.name!r} has no promoted version yet; build one and promote it")
        manifest = self.manifest(version)
        wanted = env.embedder_id()
        if manifest["embedder"]["id"] != wanted:
            raise EmbedderMismatch(
                f"{self.name} {version} was built with {manifest['embedder']['id']!r} but queries would be embedded "
                f"with {wanted!r}; set COURSE_EMBEDDER to the index's embedder or build a new version")
        dim = len(self.embedding_function(["dimension probe"])[0])
        if dim != manifest["embedder"]["dim"]:
            raise EmbedderMismatch(f"{self.name} {version} holds {manifest['embedder']['dim']}-d vectors but the "
                                   f"embedder makes {dim}-d ones; build a new version with this embedder")
        with open(self._chunks_path(version), encoding="utf-8") as handle:
            chunks = [Chunk(**json.loads(line)) for line in handle]
        collection = self.client.get_collection(self._collection_name(version))
        return Index(manifest, collection, chunks, self.embedding_function)

    def diff(self, old: str, new: str) -> dict[str, list[str]]:
        """Chunk ids added, changed (same id, other text) and removed between two versions."""
        def hashes(version: str) -> dict[str, str]:
            self.manifest(version)
            with open(self._chunks_path(version), encoding="utf-8") as handle:
                return {c["id"]: Chunk(**c).hash for c in map(json.loads, handle)}

        a, b = hashes(old), hashes(new)
        return {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)),
                "changed": sorted(i for i in set(a) & set(b) if a[i] != b[i])}

    def promote(self, version: str, check: Callable[[Index], dict] | None = None) -> dict:
        """Make `version` current. `check(index)` must return a dict with ``ok``; if not ok, nothing changes."""
        manifest = self.manifest(version)
        if check is not None:
            report = check(self.open(version))
            if not report.get("ok"):
                raise PromotionRefused(f"{self.name} {version} failed its retrieval check: {report}", report)
        state = self._state()
        if state["current"] != version:
            state["history"].append(version)
        state["current"] = version
        _write_json(self.root / "state.json", state)
        return manifest

    def rollback(self, to: str | None = None) -> str:
        """Serve the previously promoted version again (or `to`, which must exist). Returns the version now current."""
        state = self._state()
        if to is None:
            earlier = [v for v in state["history"][:-1] if v != state["current"]]
            if not earlier:
                raise VersionError(f"index {self.name!r} has no earlier promoted version to roll back to")
            to = earlier[-1]
        self.manifest(to)  # raises with the list of versions when `to` does not exist
        state["history"].append(to)
        state["current"] = to
        _write_json(self.root / "state.json", state)
        return to


def retrieval_check(probes: Sequence[dict], k: int = 5, min_recall: float = 0.6, mode: str = "hybrid",
                    min_answer_rate: float | None = None) -> Callable[[Index], dict]:
    """A promotion check over `probes` ({"question", "sources"}, optionally "answer" and "aliases").

    Passes when recall@k of the gold articles reaches `min_recall` and, if `min_answer_rate` is
    given, the top-k chunks contain the probe's answer text for at least that share of probes.
    The second test catches builds that find the right articles but lost their content. The report also
    lists each probe's outcome (``found_each``, ``answered_each``: 0/1 in probe order) for paired comparisons.
    """
    if not probes:
        raise ValueError("a retrieval check needs at least one probe question with gold sources")
    if min_answer_rate is not None and not all("answer" in p for p in probes):
        raise ValueError("min_answer_rate needs an 'answer' in every probe")

    def check(index: Index) -> dict:
        found_each, answered_each = [], []
        for probe in probes:
            hits = index.search(probe["question"], k=k * 3, mode=mode)
            found_each.append(int(bool(set(rag.article_ranking(hits)[:k]) & set(probe["sources"]))))
            if min_answer_rate is not None:
                answered_each.append(int(rag.context_has_answer(hits[:k], probe["answer"], probe.get("aliases", ()))))
        found, answered = sum(found_each), sum(answered_each)
        report = {"recall": round(found / len(probes), 3), "k": k, "min_recall": min_recall, "probes": len(probes),
                  "found_each": found_each}
        if min_answer_rate is not None:
            report["answered_each"] = answered_each
        ok = report["recall"] >= min_recall
        if min_answer_rate is not None:
            report |= {"answer_rate": round(answered / len(probes), 3), "min_answer_rate": min_answer_rate}
            ok = ok and report["answer_rate"] >= min_answer_rate
        return {"ok": ok, **report}

    return check


# Chosen on the dev questions in 02_rag_chroma (best hybrid recall@5 of the settings compared there).
DEFAULT_CHUNKING = {"strategy": "size", "size": 200, "overlap": 40}


def course_index(corpus_version: int = 1, chunking: dict | None = None, name: str = "help-centre", embedder=None,
                 progress: bool = True) -> Index:
    """The course's index of the help centre for `corpus_version`: opened from the workspace if an earlier
    notebook built it, else built now (and promoted if the store has no current version yet)."""
    from . import data

    chunking = chunking or DEFAULT_CHUNKING
    store = IndexStore(name, embedder=embedder)
    for manifest in store.versions():
        if manifest["corpus_version"] == corpus_version and manifest["chunking"] == chunking \
                and manifest["embedder"]["id"] == env.embedder_id():
            return store.open(manifest["version"])
    if progress:
        print(f"Building the {name} index of corpus v{corpus_version} (first use; later notebooks reuse it).")
    chunks = rag.chunk_corpus(data.load_corpus(corpus_version), **chunking)
    manifest = store.build(chunks, corpus_version=corpus_version, chunking=chunking, progress=progress)
    if store.current() is None:
        store.promote(manifest["version"])
    return store.open(manifest["version"])
