"""Retrieval: chunking, BM25, vector search, reciprocal rank fusion, prompt assembly.

The pieces of the knowledge-first stack, small enough to read. Indexes themselves (Chroma
collections with versions, promote and rollback) live in ``helpers.index``.

Example::

    from helpers import data, rag
    chunks = rag.chunk_corpus(data.load_corpus(1), strategy="heading", size=180)
    bm25 = rag.BM25Index(chunks)
    bm25.search("CFX-4091", k=5)                       # -> [Hit(chunk_id, article_id, score, ...)]
    rag.reciprocal_rank_fusion([["a", "b"], ["b", "c"]])   # -> [("b", ...), ("a", ...), ("c", ...)]
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_QUERY_CHARS = 2000
STRATEGIES = ("heading", "size")
TOKEN = re.compile(r"[a-z0-9]+(?:[._\-/][a-z0-9]+)*")
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its my of on or our that the "
    "this to was what when where which who why will with you your".split()
)


@dataclass(frozen=True)
class Chunk:
    """A piece of an article with the metadata retrieval and citation need."""

    id: str
    text: str
    article_id: str
    title: str
    section: str
    version: int
    audience: str = "public"
    heading: str = ""

    @property
    def hash(self) -> str:
        """A short content hash: two versions of a chunk differ exactly when their hashes do."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def metadata(self) -> dict:
        """Flat metadata for Chroma (strings and numbers only)."""
        return {"article_id": self.article_id, "title": self.title, "section": self.section,
                "version": self.version, "audience": self.audience, "heading": self.heading, "hash": self.hash}


@dataclass
class Hit:
    """One retrieved chunk with its score and rank (rank 1 is the best)."""

    chunk_id: str
    article_id: str
    score: float
    rank: int
    text: str = ""
    metadata: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Chunking
# ---------------------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    """Words with the whitespace that follows each, so a window joined back keeps its line breaks."""
    return re.findall(r"\S+\s*", text.strip())


def _split_sections(text: str) -> list[tuple[str, str]]:
    """Split markdown into (heading, body) pairs at level-2 and level-3 headings."""
    sections, heading, lines = [], "", []
    for line in text.splitlines():
        if re.match(r"^#{2,3} ", line):
            if any(x.strip() for x in lines):
                sections.append((heading, "\n".join(lines).strip()))
            heading, lines = line.lstrip("#").strip(), []
        elif not re.match(r"^# ", line):  # the title line is carried in the metadata and the prefix
            lines.append(line)
    if any(x.strip() for x in lines):
        sections.append((heading, "\n".join(lines).strip()))
    return sections


def _windows(words: list[str], size: int, overlap: int) -> list[list[str]]:
    if len(words) <= size:
        return [words]
    step = size - overlap
    out = [words[i : i + size] for i in range(0, len(words) - overlap, step)]
    return [w for w in out if w]


def chunk_article(article: dict, strategy: str = "heading", size: int = 180, overlap: int = 30) -> list[Chunk]:
    """Cut one article into chunks.

    ``heading``: one chunk per ``##``/``###`` section, long sections cut into windows of `size` words.
    ``size``: fixed windows of `size` words with `overlap` words shared between neighbours.
    Every chunk starts with the article title (and the section heading) so it reads on its own.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown chunking strategy {strategy!r}; choose one of {list(STRATEGIES)}")
    if size < 20:
        raise ValueError(f"chunk size {size} words is too small to carry a fact; use at least 20")
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be between 0 and size-1 ({size - 1}), got {overlap}")
    for key in ("id", "title", "text"):
        if not isinstance(article.get(key), str):
            raise ValueError(f"an article needs a string {key!r}; got {type(article.get(key)).__name__} "
                             f"in article {article.get('id', '?')!r}")
    if strategy == "heading":
        pieces = [(h, w) for h, body in _split_sections(article["text"]) for w in _windows(_words(body), size, overlap)]
    else:
        body = "\n".join(x for x in article["text"].splitlines() if not x.startswith("# "))
        pieces = [("", w) for w in _windows(_words(body), size, overlap)]
    chunks = []
    for n, (heading, words) in enumerate(pieces):
        prefix = article["title"] + (f" > {heading}" if heading else "")
        chunks.append(Chunk(
            id=f"{article['id']}#{n:03d}", text=f"{prefix}\n{''.join(words).strip()}", article_id=article["id"],
            title=article["title"], section=str(article.get("section", "")), version=int(article.get("version", 1)),
            audience=str(article.get("audience", "public")), heading=heading,
        ))
    return chunks


def chunk_corpus(articles: Iterable[dict], strategy: str = "heading", size: int = 180, overlap: int = 30) -> list[Chunk]:
    """Chunk every article; chunk ids are stable (article id + position), so re-chunking gives the same ids."""
    chunks = [c for a in articles for c in chunk_article(a, strategy, size, overlap)]
    if not chunks:
        raise ValueError("the corpus produced no chunks: is the corpus folder empty?")
    return chunks


# ---------------------------------------------------------------------------------------------
# Queries, BM25, fusion
# ---------------------------------------------------------------------------------------------

def check_query(query: str) -> str:
    """Validate a query: a non-empty string; longer than MAX_QUERY_CHARS is cut there with a warning."""
    if not isinstance(query, str):
        raise TypeError(f"a query is a string, got {type(query).__name__}")
    query = query.strip()
    if not query:
        raise ValueError("the query is empty: ask a question or give keywords")
    if len(query) > MAX_QUERY_CHARS:
        warnings.warn(f"query of {len(query)} characters cut to {MAX_QUERY_CHARS} (MAX_QUERY_CHARS)", stacklevel=2)
        query = query[:MAX_QUERY_CHARS]
    return query


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens for BM25; codes like ``cfx-4091`` and ``retry.backoff_ms`` stay whole, and their parts count too."""
    tokens = []
    for token in TOKEN.findall(text.lower()):
        if token in STOPWORDS:
            continue
        tokens.append(token)
        parts = re.split(r"[._\-/]", token)
        if len(parts) > 1:
            tokens.extend(p for p in parts if p and p not in STOPWORDS)
    return tokens


_OPERATORS = {
    "$eq": lambda actual, value: actual == value,
    "$ne": lambda actual, value: actual != value,
    "$in": lambda actual, value: actual in value,
    "$nin": lambda actual, value: actual not in value,
    "$gt": lambda actual, value: actual is not None and actual > value,
    "$gte": lambda actual, value: actual is not None and actual >= value,
    "$lt": lambda actual, value: actual is not None and actual < value,
    "$lte": lambda actual, value: actual is not None and actual <= value,
}


def matches(metadata: dict, where: dict | None) -> bool:
    """Evaluate a Chroma-style ``where`` filter on one metadata dict (``$eq $ne $in $nin $gt.. $and $or``)."""
    if not where:
        return True
    if not isinstance(where, dict):
        raise TypeError(f"a where filter is a dict, got {type(where).__name__}")
    for key, cond in where.items():
        if key == "$and":
            ok = all(matches(metadata, c) for c in cond)
        elif key == "$or":
            ok = any(matches(metadata, c) for c in cond)
        elif isinstance(cond, dict):
            if len(cond) != 1 or next(iter(cond)) not in _OPERATORS:
                raise ValueError(f"unsupported condition {cond!r} in where filter; use one of {sorted(_OPERATORS)}")
            (op, value), = cond.items()
            ok = _OPERATORS[op](metadata.get(key), value)
        else:
            ok = metadata.get(key) == cond
        if not ok:
            return False
    return True


class BM25Index:
    """A BM25 (Lucene variant, via ``bm25s``) index over chunks, with the same filters as Chroma."""

    def __init__(self, chunks: Sequence[Chunk], k1: float = 1.5, b: float = 0.75):
        import bm25s

        if not chunks:
            raise ValueError("cannot build a BM25 index over zero chunks")
        self.chunks = list(chunks)
        self._model = bm25s.BM25(k1=k1, b=b)
        self._model.index([tokenize(c.text) or ["<empty>"] for c in self.chunks], show_progress=False)

    def search(self, query: str, k: int = 10, where: dict | None = None) -> list[Hit]:
        """The `k` best chunks for `query` among those matching `where` (filtered before ranking)."""
        import numpy as np

        query = check_query(query)
        tokens = tokenize(query)
        if not tokens:
            return []
        mask = np.array([matches(c.metadata(), where) for c in self.chunks], dtype=np.float32)
        n = int(mask.sum())
        if n == 0:
            return []
        scores = self._model.get_scores(tokens) * mask
        order = np.argsort(-scores, kind="stable")[: min(k, n)]
        return [Hit(self.chunks[i].id, self.chunks[i].article_id, float(scores[i]), r + 1, self.chunks[i].text,
                    self.chunks[i].metadata()) for r, i in enumerate(order) if scores[i] > 0 and mask[i] > 0]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(d) = sum over lists of 1 / (k + rank of d), rank starting at 1.

    Cormack, Clarke and Buettcher (SIGIR 2009) found k = 60 a robust default. Ties keep first-seen order.
    """
    if k <= 0:
        raise ValueError(f"the RRF constant k must be positive, got {k}")
    scores: dict[str, float] = {}
    for ranking in rankings:
        if isinstance(ranking, str):
            raise TypeError("each ranking is a list of ids, not a string")
        for rank, doc_id in enumerate(dict.fromkeys(ranking), start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def article_ranking(hits: Sequence[Hit]) -> list[str]:
    """Article ids in the order their first chunk appears (what retrieval metrics are computed on)."""
    return list(dict.fromkeys(h.article_id for h in hits))


# ---------------------------------------------------------------------------------------------
# Prompt assembly
# ---------------------------------------------------------------------------------------------

RAG_SYSTEM = (
    "You are the Corvasse support assistant. Answer the question in one short sentence, using only the context below. "
    "Cite the article id in square brackets, like [KB-101]. If the context does not contain the answer, say so."
)


CITATION = re.compile(r"\[(KB-\d+)\]")


def cited_ids(answer: str) -> list[str]:
    """Article ids an answer cites as ``[KB-123]``, in order, without repeats."""
    return list(dict.fromkeys(CITATION.findall(answer)))


def format_context(hits: Sequence[Hit], max_words: int = 600) -> str:
    """The retrieved chunks as numbered blocks headed by their article id, cut at `max_words` in total."""
    blocks, used = [], 0
    for hit in hits:
        words = _words(hit.text)
        if used + len(words) > max_words and blocks:
            break
        blocks.append(f"[{hit.article_id}] {''.join(words[: max_words - used]).strip()}")
        used += len(words)
    return "\n\n".join(blocks)


def assemble_messages(question: str, hits: Sequence[Hit], system: str = RAG_SYSTEM, max_words: int = 600) -> list[dict]:
    """The guide's prompt: [System] + [Retrieved context] + [User query], as chat messages."""
    question = check_query(question)
    context = format_context(hits, max_words=max_words)
    return [
        {"role": "system", "content": f"{system}\n\nContext:\n{context}" if context else system},
        {"role": "user", "content": question},
    ]


# ---------------------------------------------------------------------------------------------
# Retrieval quality, measured apart from generation
# ---------------------------------------------------------------------------------------------

def gold_sources(item: dict, version: int = 1) -> list[str]:
    """The gold article ids of a task item (``sources``, or ``sources_v1``/``sources_v2`` for live QA)."""
    sources = item.get("sources") or item.get(f"sources_v{version}")
    if not sources:
        raise ValueError(f"item {item.get('id', '?')!r} has no gold sources")
    return list(sources)


def retrieval_scores(search, items: Sequence[dict], ks: Sequence[int] = (1, 5, 10), version: int = 1,
                     depth: int = 30, progress: bool = False) -> dict[str, float]:
    """Mean recall@k (for each k), MRR and nDCG@10 of article rankings from `search(question, k)`.

    `search` returns chunk hits; they are collapsed to an article ranking (first occurrence wins)
    before scoring, since the gold answers name articles.
    """
    from . import evaluate
    from .progress import bar

    if not items:
        raise ValueError("no items to score retrieval on")
    totals = {f"recall@{k}": 0.0 for k in ks} | {"MRR": 0.0, "nDCG@10": 0.0}
    for item in bar(items, desc="retrieving", unit="question", disable=not progress):
        ranking = article_ranking(search(item["question"], depth))
        gold = gold_sources(item, version)
        for k in ks:
            totals[f"recall@{k}"] += evaluate.recall_at_k(ranking, gold, k)
        totals["MRR"] += evaluate.mrr(ranking, gold)
        totals["nDCG@10"] += evaluate.ndcg_at_k(ranking, gold, 10)
    return {name: value / len(items) for name, value in totals.items()}


def context_has_answer(hits: Sequence[Hit], answer: str, aliases: Sequence[str] = ()) -> bool:
    """True when the answer (or an alias) appears as a whole phrase in the retrieved text (normalised)."""
    from . import evaluate

    context = f" {evaluate.normalize(' '.join(h.text for h in hits))} "
    return any(f" {evaluate.normalize(a)} " in context for a in [answer, *aliases] if evaluate.normalize(a))
