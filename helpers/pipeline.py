"""The RAG pipeline with llama-index: Chroma vector retrieval + BM25, fused, answered by a local model.

The same index that ``helpers.index`` builds is used through llama-index's own classes:
``ChromaVectorStore`` for vectors, ``BM25Retriever`` over a docstore that holds the same chunks
(when Chroma stores the text, llama-index's docstore is empty and BM25 would see nothing:
llama_index issue #20601), and ``QueryFusionRetriever`` with reciprocal rank fusion. The LLM is
``CourseLLM``, a llama-index LLM backed by ``helpers.models``.

Example::

    from helpers import index, models, pipeline
    rag_pipe = pipeline.RagPipeline(index.course_index(1), models.load_generator())
    rag_pipe.answer("What does the Team plan cost per month?")     # dict: answer, cited, retrieved, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import generate, models, rag


def course_llm(gen, max_new_tokens: int = 64):
    """A llama-index LLM that answers with the course's generator (greedy, chat template applied)."""
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from pydantic import PrivateAttr

    class CourseLLM(CustomLLM):
        """llama-index's view of ``helpers.models.Generator``."""

        max_new_tokens: int = 64
        model_name: str = "course-generator"
        _gen: Any = PrivateAttr()

        def __init__(self, generator, **kwargs):
            super().__init__(**kwargs)
            self._gen = generator

        @property
        def metadata(self) -> LLMMetadata:
            window = getattr(self._gen.model.config, "max_position_embeddings", 2048)
            return LLMMetadata(context_window=window, num_output=self.max_new_tokens, is_chat_model=True,
                               model_name=self.model_name)

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
            return CompletionResponse(text=generate.chat(self._gen, prompt, max_new_tokens=self.max_new_tokens))

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
            text = self.complete(prompt).text
            yield CompletionResponse(text=text, delta=text)

        @llm_chat_callback()
        def chat(self, messages: Sequence[ChatMessage], **kwargs) -> ChatResponse:
            conversation = [{"role": m.role.value, "content": m.content or ""} for m in messages]
            text = generate.chat(self._gen, conversation, max_new_tokens=self.max_new_tokens)
            return ChatResponse(message=ChatMessage(role="assistant", content=text))

    return CourseLLM(gen, max_new_tokens=max_new_tokens, model_name=gen.model_id)


def course_embedding(device: str | None = None):
    """llama-index's HuggingFaceEmbedding over the course's local embedder (the model the index was built with)."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from . import env

    model_id = env.embedder_id()
    path = str(models.embedded_embedder_path()) if env.is_embedded(model_id) else model_id
    with models._quiet_loading():
        return HuggingFaceEmbedding(model_name=path, device=device or ("cpu" if env.pick_tier() == "cpu" else "cuda"),
                                    normalize=True)


def canonical_retriever(inner):
    """Wrap a llama-index retriever so every node it returns is a plain TextNode with sorted metadata.

    ``QueryFusionRetriever`` recognises the same chunk from two retrievers by ``node.hash``, which
    covers the text *and* ``str(metadata)``. Chroma hands metadata back in its own key order, the
    docstore in insertion order, so the same chunk hashed differently and its two reciprocal-rank
    scores were never added up. Canonical nodes make the fusion count each chunk once.
    """
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    class CanonicalRetriever(BaseRetriever):
        def __init__(self, retriever):
            super().__init__()
            self.inner = retriever

        def _retrieve(self, query_bundle):
            return [NodeWithScore(node=TextNode(id_=n.node.node_id, text=n.node.get_content(),
                                                metadata=dict(sorted(n.node.metadata.items()))), score=n.score)
                    for n in self.inner.retrieve(query_bundle)]

    return CanonicalRetriever(inner)


def _to_hit(node_with_score, rank: int) -> rag.Hit:
    node = node_with_score.node
    meta = dict(node.metadata)
    return rag.Hit(node.node_id, meta.get("article_id", "?"), float(node_with_score.score or 0.0), rank,
                   node.get_content(), meta)


class RagPipeline:
    """Retrieve with fused vector + BM25 retrievers, assemble the prompt, answer with the local model."""

    def __init__(self, course_index, gen, k: int = 3, candidates: int = 20, max_words: int = 300,
                 max_new_tokens: int = 64, embed_model=None):
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.core.schema import TextNode
        from llama_index.core.storage.docstore import SimpleDocumentStore
        from llama_index.retrievers.bm25 import BM25Retriever
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.index, self.gen, self.k, self.max_words = course_index, gen, k, max_words
        self.max_new_tokens = max_new_tokens
        self.llm = course_llm(gen, max_new_tokens)
        vector_store = ChromaVectorStore(chroma_collection=course_index.collection)
        vector_index = VectorStoreIndex.from_vector_store(
            vector_store, embed_model=embed_model or course_embedding(),
            storage_context=StorageContext.from_defaults(vector_store=vector_store))
        # Chroma holds the text, so llama-index's own docstore is empty: give BM25 the chunks explicitly.
        self.docstore = SimpleDocumentStore()
        self.docstore.add_documents([TextNode(id_=c.id, text=c.text, metadata=c.metadata()) for c in course_index.chunks])
        self.vector_retriever = vector_index.as_retriever(similarity_top_k=candidates)
        self.bm25_retriever = BM25Retriever.from_defaults(docstore=self.docstore, similarity_top_k=candidates)
        self.retriever = QueryFusionRetriever(
            [canonical_retriever(self.vector_retriever), canonical_retriever(self.bm25_retriever)],
            llm=self.llm, mode="reciprocal_rerank",
            similarity_top_k=k, num_queries=1, use_async=False)

    def retrieve(self, question: str) -> list[rag.Hit]:
        """The top-k chunks for `question` from the fused retrievers."""
        question = rag.check_query(question)
        return [_to_hit(n, r) for r, n in enumerate(self.retriever.retrieve(question), start=1)]

    def messages(self, question: str, hits: Sequence[rag.Hit]) -> list[dict]:
        """The prompt: [System] + [Retrieved context] + [User query]."""
        return rag.assemble_messages(question, hits, max_words=self.max_words)

    def answer_many(self, questions: Sequence[str], batch_size: int = 8, progress: bool = True) -> list[dict]:
        """Retrieve for each question, then generate all answers in batches."""
        hits = [self.retrieve(q) for q in questions]
        out = generate.generate(self.gen, [self.messages(q, h) for q, h in zip(questions, hits, strict=True)],
                                max_new_tokens=self.max_new_tokens, batch_size=batch_size, progress=progress)
        return [{"question": q, "answer": a, "cited": rag.cited_ids(a), "retrieved": rag.article_ranking(h),
                 "hits": h, "prompt_tokens": p}
                for q, a, h, p in zip(questions, out.texts, hits, out.prompt_tokens, strict=True)]

    def answer(self, question: str) -> dict:
        """Answer one question; the dict holds the answer, cited ids, retrieved article ids and hits."""
        return self.answer_many([question], batch_size=1, progress=False)[0]


def attribute_failures(items: Sequence[dict], outputs: Sequence[dict], version: int = 1) -> list[dict]:
    """Label each answer: 'correct', 'retrieval failure' (no gold article retrieved) or
    'generation failure' (a gold article was in the context, the answer is still wrong)."""
    from . import tasks

    labels = []
    for item, out in zip(items, outputs, strict=True):
        task = "qa_static" if "answer" in item else "qa_live"  # every QA task is scored the same way
        answer = item.get("answer") or item[f"answer_v{version}"]
        gold = rag.gold_sources(item, version)
        if tasks.score(task, item, out["answer"], version=version)["correct"]:
            label = "correct"
        elif not set(gold) & set(out["retrieved"]):
            label = "retrieval failure"
        else:
            label = "generation failure"
        labels.append({"id": item["id"], "label": label, "gold": answer, "gold_sources": gold,
                       "retrieved": out["retrieved"], "answer": out["answer"]})
    return labels
