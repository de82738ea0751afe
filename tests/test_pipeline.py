"""The llama-index pipeline: fused retrieval over Chroma + a BM25 docstore, the local LLM, failure attribution."""

import pytest

from helpers import pipeline


@pytest.mark.slow
def test_fused_retrieval_uses_both_retrievers(small_index, generator):
    pipe = pipeline.RagPipeline(small_index, generator, k=2, candidates=3)
    assert len(pipe.docstore.docs) == len(small_index.chunks), "BM25 needs the chunks in the docstore (#20601)"
    bm25 = [n.node.metadata["article_id"] for n in pipe.bm25_retriever.retrieve("CFX-4091")]
    assert bm25[0] == "KB-002"
    hits = pipe.retrieve("What does error CFX-4091 mean?")
    assert len(hits) == 2 and "KB-002" in [h.article_id for h in hits]
    assert all(h.rank == i for i, h in enumerate(hits, start=1))
    # both retrievers rank KB-002 first: its fused score is the sum 1/60 + 1/60, so the copies were merged
    assert hits[0].article_id == "KB-002" and hits[0].score == pytest.approx(2 / 60)
    assert len({h.chunk_id for h in hits}) == len(hits)
    with pytest.raises(ValueError, match="empty"):
        pipe.retrieve(" ")


@pytest.mark.slow
def test_answer_and_llm(small_index, generator):
    pipe = pipeline.RagPipeline(small_index, generator, k=2, candidates=3, max_new_tokens=16)
    out = pipe.answer("How long do I have to ask for a refund of an annual plan?")
    assert out["answer"] and out["retrieved"][0] == "KB-001" and out["prompt_tokens"] > 20
    messages = pipe.messages("q?", out["hits"])
    assert messages[0]["role"] == "system" and "[KB-001]" in messages[0]["content"]
    assert pipe.llm.complete("Say hello.").text.strip()
    assert pipe.llm.metadata.is_chat_model


def test_attribute_failures():
    items = [{"id": "a", "answer": "$49", "aliases": [], "sources": ["KB-1"]},
             {"id": "b", "answer": "$49", "aliases": [], "sources": ["KB-1"]},
             {"id": "c", "answer": "$49", "aliases": [], "sources": ["KB-1"]},
             {"id": "d", "question": "q", "answer_v1": "10", "aliases_v1": [], "sources_v1": ["KB-3"],
              "answer_v2": "20", "aliases_v2": [], "sources_v2": ["KB-3"]}]
    outputs = [{"answer": "It costs $49.", "retrieved": ["KB-9"]},
               {"answer": "It costs $59.", "retrieved": ["KB-9"]},
               {"answer": "It costs $59.", "retrieved": ["KB-2", "KB-1"]},
               {"answer": "The limit is 20.", "retrieved": ["KB-3"]}]
    labels = [x["label"] for x in pipeline.attribute_failures(items, outputs, version=2)]
    assert labels == ["correct", "retrieval failure", "generation failure", "correct"]
    assert pipeline.attribute_failures(items[3:], outputs[3:], version=1)[0]["label"] == "generation failure"


def hand_built(course_index, gen, k=2, candidates=3):
    """Notebook 04's section 1: the llama-index parts written out, as a learner writes them."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.chroma import ChromaVectorStore

    vector_store = ChromaVectorStore(chroma_collection=course_index.collection)
    vector_index = VectorStoreIndex.from_vector_store(vector_store, embed_model=pipeline.course_embedding(),
                                                      storage_context=StorageContext.from_defaults(vector_store=vector_store))
    docstore = SimpleDocumentStore()
    docstore.add_documents([TextNode(id_=c.id, text=c.text, metadata=c.metadata()) for c in course_index.chunks])
    vector = vector_index.as_retriever(similarity_top_k=candidates)
    bm25 = BM25Retriever.from_defaults(docstore=docstore, similarity_top_k=candidates)
    llm = pipeline.course_llm(gen, max_new_tokens=16)
    fusion_args = dict(llm=llm, mode="reciprocal_rerank", similarity_top_k=k, num_queries=1, use_async=False)
    return vector, bm25, fusion_args


@pytest.mark.slow
def test_the_parts_built_by_hand_retrieve_what_rag_pipeline_retrieves(small_index, generator):
    from llama_index.core.retrievers import QueryFusionRetriever

    vector, bm25, args = hand_built(small_index, generator)
    fusion = QueryFusionRetriever([pipeline.canonical_retriever(vector), pipeline.canonical_retriever(bm25)], **args)
    pipe = pipeline.RagPipeline(small_index, generator, k=2, candidates=3)
    for question in ("What does error CFX-4091 mean?", "refund of an annual plan", "who adds seats"):
        assert [n.node.node_id for n in fusion.retrieve(question)] == [h.chunk_id for h in pipe.retrieve(question)]


@pytest.mark.slow
def test_check_fusion(small_index, generator, capsys):
    from llama_index.core.retrievers import QueryFusionRetriever

    from helpers import check

    vector, bm25, args = hand_built(small_index, generator)
    canonical = [pipeline.canonical_retriever(r) for r in (vector, bm25)]
    _, third, _ = hand_built(small_index, generator, candidates=2)
    assert check.fusion(QueryFusionRetriever([*canonical, pipeline.canonical_retriever(third)], **args)) is True
    wrong = {
        "fuses 2 retrievers": QueryFusionRetriever(canonical, **args),
        "same retriever object": QueryFusionRetriever([*canonical, canonical[0]], **args),
        "retriever object appears twice": QueryFusionRetriever([*canonical, pipeline.canonical_retriever(vector)], **args),
        "mode=": QueryFusionRetriever([*canonical, pipeline.canonical_retriever(third)], **{**args, "mode": "simple"}),
        "different hashes": QueryFusionRetriever([vector, bm25, third], **args),
    }
    for needle, retriever in wrong.items():
        capsys.readouterr()
        assert check.fusion(retriever) is False, needle
        out = capsys.readouterr().out
        assert out.startswith(check.NOT_YET) and needle in out, out
    with pytest.raises(TypeError, match="QueryFusionRetriever"):
        check.fusion(vector)
