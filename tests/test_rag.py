"""Chunking, tokenisation, filters, BM25, reciprocal rank fusion and prompt assembly (hand-checked cases)."""

import pytest

from helpers import rag

ARTICLE = {
    "id": "KB-900", "title": "Retries", "section": "errors", "version": 1, "audience": "public",
    "text": "# Retries\n\nIntro words here.\n\n## Backoff\n" + " ".join(f"w{i}" for i in range(50))
    + "\n\n## Codes\nError CFX-4091 means the retry.backoff_ms setting is too low.",
}


def test_heading_chunks_keep_metadata_and_prefix():
    chunks = rag.chunk_article(ARTICLE, "heading", size=20, overlap=5)
    assert [c.heading for c in chunks] == ["", "Backoff", "Backoff", "Backoff", "Codes"]
    assert chunks[0].id == "KB-900#000" and chunks[-1].id == "KB-900#004"
    assert chunks[-1].text.startswith("Retries > Codes\n") and "CFX-4091" in chunks[-1].text
    assert {c.article_id for c in chunks} == {"KB-900"} and chunks[0].metadata()["section"] == "errors"


def test_size_windows_overlap():
    body = {**ARTICLE, "text": "# T\n" + " ".join(str(i) for i in range(100))}
    chunks = rag.chunk_article(body, "size", size=40, overlap=10)
    words = [c.text.split("\n", 1)[1].split() for c in chunks]
    assert [w[0] for w in words] == ["0", "30", "60"] and words[0][-10:] == words[1][:10]
    assert words[-1][-1] == "99"


def test_chunk_ids_are_stable():
    assert [c.id for c in rag.chunk_corpus([ARTICLE])] == [c.id for c in rag.chunk_corpus([ARTICLE])]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"strategy": "words"}, "unknown chunking strategy"), ({"size": 5}, "too small"),
     ({"size": 30, "overlap": 30}, "overlap must be")],
)
def test_bad_chunking_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rag.chunk_article(ARTICLE, **kwargs)


def test_empty_corpus_is_an_error():
    with pytest.raises(ValueError, match="corpus folder empty"):
        rag.chunk_corpus([])


def test_tokenize_keeps_codes_and_parts():
    assert rag.tokenize("Fix CFX-4091 via retry.backoff_ms!") == [
        "fix", "cfx-4091", "cfx", "4091", "via", "retry.backoff_ms", "retry", "backoff", "ms"]


def test_queries_are_checked():
    with pytest.raises(ValueError, match="empty"):
        rag.check_query("   ")
    with pytest.raises(TypeError):
        rag.check_query(None)
    with pytest.warns(UserWarning, match="cut to 2000"):
        assert len(rag.check_query("x" * 10_000)) == rag.MAX_QUERY_CHARS


def test_where_filters():
    meta = {"section": "errors", "version": 2, "audience": "public"}
    assert rag.matches(meta, {"section": "errors"})
    assert rag.matches(meta, {"$and": [{"version": {"$gte": 2}}, {"audience": {"$in": ["public", "internal"]}}]})
    assert not rag.matches(meta, {"$or": [{"section": "billing"}, {"version": {"$lt": 2}}]})
    with pytest.raises(ValueError, match="unsupported condition"):
        rag.matches(meta, {"version": {"$regex": "2"}})


def test_reciprocal_rank_fusion_by_hand():
    fused = dict(rag.reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["b"] == pytest.approx(1 / 62)
    assert [d for d, _ in rag.reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]])] == ["a", "c", "b"]
    with pytest.raises(ValueError):
        rag.reciprocal_rank_fusion([["a"]], k=0)


def test_bm25_finds_exact_code_and_respects_filters():
    other = {**ARTICLE, "id": "KB-901", "section": "billing", "text": "# Billing\nInvoices are sent monthly."}
    index = rag.BM25Index(rag.chunk_corpus([ARTICLE, other], size=20, overlap=5))
    hits = index.search("what does CFX-4091 mean", k=3)
    assert hits[0].article_id == "KB-900" and hits[0].rank == 1 and "CFX-4091" in hits[0].text
    assert index.search("CFX-4091", k=3, where={"section": "billing"}) == []
    assert index.search("invoices", k=3, where={"section": "billing"})[0].article_id == "KB-901"


def test_prompt_assembly_order_and_citations():
    hits = [rag.Hit("KB-900#004", "KB-900", 1.0, 1, "Retries > Codes\nError CFX-4091 ...")]
    messages = rag.assemble_messages("What is CFX-4091?", hits)
    assert [m["role"] for m in messages] == ["system", "user"]
    system = messages[0]["content"]
    assert system.index(rag.RAG_SYSTEM) < system.index("Context:") < system.index("[KB-900] Retries")
    assert messages[1]["content"] == "What is CFX-4091?"


def test_context_is_cut_at_max_words():
    hits = [rag.Hit(f"K#{i}", f"K{i}", 1.0, i, " ".join(["w"] * 100)) for i in range(5)]
    context = rag.format_context(hits, max_words=250)
    assert context.count("[K") == 2


def test_cited_ids():
    assert rag.cited_ids("Team costs $49 [KB-104], see [KB-107] and [KB-104].") == ["KB-104", "KB-107"]
    assert rag.cited_ids("no citation") == []


def test_retrieval_scores_by_hand():
    hits = {"q1": ["A", "B", "C"], "q2": ["C", "D", "A"]}

    def search(question, k):
        return [rag.Hit(f"{a}#0", a, 1.0, r) for r, a in enumerate(hits[question], 1)]

    items = [{"id": "1", "question": "q1", "sources": ["B"]}, {"id": "2", "question": "q2", "sources": ["A"]}]
    scores = rag.retrieval_scores(search, items, ks=(1, 3))
    assert scores["recall@1"] == 0 and scores["recall@3"] == 1
    assert scores["MRR"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    import math

    assert scores["nDCG@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 2)
    with pytest.raises(ValueError, match="no gold sources"):
        rag.retrieval_scores(search, [{"id": "x", "question": "q1", "sources": []}])


def test_context_has_answer():
    hits = [rag.Hit("K#0", "K", 1.0, 1, "Team costs $49 per month; Business costs $149.")]
    assert rag.context_has_answer(hits, "$149")
    assert rag.context_has_answer(hits, "forty-nine", aliases=["$49"])
    assert not rag.context_has_answer(hits, "$14")
