"""Hybrid retrieval: dense vectors and BM25 keywords, fused by reciprocal rank."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from qiao.errors import InvalidInputError
from qiao.knowledge.base import KnowledgeBase
from qiao.knowledge.bm25 import BM25Index
from qiao.knowledge.chunk_store import LABEL_VECTOR, VECTOR, StoredChunk
from qiao.knowledge.chunker import chunk_context, chunk_label
from qiao.knowledge.fusion import reciprocal_rank_fusion
from qiao.knowledge.sentences import content_chars
from qiao.knowledge.tokenizers import get_tokenizer

__all__ = ["MAX_QUERY_CHARS", "Hit", "HybridRetriever", "check_query", "title_in_question"]

logger = logging.getLogger(__name__)

# Longer questions are rejected: E5 reads at most 512 tokens, and a question
# this long is almost always a pasted document.
MAX_QUERY_CHARS = 2000


@dataclass
class Hit:
    """A retrieved chunk with its scores; ``rank`` starts at 1."""

    chunk: StoredChunk
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None

    def to_json(self) -> dict[str, Any]:
        chunk = self.chunk
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "bm25_score": None if self.bm25_score is None else round(self.bm25_score, 6),
            "chunk_id": chunk.id,
            "doc_id": chunk.doc_id,
            "source": chunk.source,
            "title": chunk.title,
            "heading": chunk.heading,
            "start": chunk.start,
            "end": chunk.end,
            "text": chunk.text,
        }


def check_query(query: str) -> str:
    """Return the stripped query or raise an error for an empty or oversized one."""
    stripped = query.strip()
    if not stripped:
        raise InvalidInputError("the question is empty; type a question", key="query_empty")
    if len(stripped) > MAX_QUERY_CHARS:
        raise InvalidInputError(
            f"the question is {len(stripped)} characters long; the maximum is "
            f"{MAX_QUERY_CHARS}; shorten it to the question itself",
            key="query_too_long",
            length=len(stripped),
            maximum=MAX_QUERY_CHARS,
        )
    return stripped


class HybridRetriever:
    """Searches one open knowledge base with dense vectors and BM25.

    Ranked lists are fused by reciprocal rank: dense search over the context
    vectors and BM25 over the context texts. When label search is on, dense
    search over the label vectors (title and heading path) and BM25 over the
    labels add two more. FAQ labels carry the question an entry
    answers, which matches user questions better than the answer text does.
    A last list contains the chunks whose title occurs in the question.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        settings = kb.settings.retrieval
        self.candidates = settings.candidates
        self.rrf_k = settings.rrf_k
        began = time.perf_counter()
        self.chunks = {chunk.id: chunk for chunk in kb.store.scan()}
        ids = list(self.chunks)
        tokenizer = get_tokenizer(kb.info.tokenizer)
        cache = kb.path / "cache" / f"v{kb.info.version}-{kb.info.tokenizer}"
        self.bm25 = BM25Index.cached(
            cache / "bm25-context",
            ids,
            lambda: [chunk_context(self.chunks[i]) for i in ids],
            tokenizer,
        )
        labels = [chunk_label(self.chunks[i]) for i in ids]
        self.label_search = _label_search_enabled(settings.label_search, labels)
        label_ids = ids if self.label_search else []
        self.label_bm25 = BM25Index.cached(
            cache / "bm25-label", label_ids, lambda: labels if label_ids else [], tokenizer
        )
        # Titles that name an entity: a question that contains one is about it.
        self.titles: dict[str, list[str]] = {}
        for chunk_id, chunk in self.chunks.items():
            if len(content_chars(chunk.title)) >= MIN_TITLE_CHARS:
                self.titles.setdefault(chunk.title, []).append(chunk_id)
        logger.info(
            "opened retriever on %s: %d chunks, label search %s, BM25 built in %.2f s",
            kb.name,
            len(ids),
            "on" if self.label_search else "off",
            time.perf_counter() - began,
        )

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        """Return the ``top_k`` best chunks for ``query``, best first."""
        query = check_query(query)
        if not self.chunks:
            raise InvalidInputError(
                f"knowledge base {self.kb.name!r} is empty; add documents with "
                f"'qiao kb add {self.kb.name} PATH'",
                key="kb_empty",
                name=self.kb.name,
            )
        if top_k < 1:
            raise InvalidInputError(
                f"top-k {top_k} must be at least 1", key="bad_top_k", value=top_k
            )
        depth = max(self.candidates, top_k)

        # Dense candidates from the vector database, on both vector fields.
        vector = self.kb.embedder.embed_query(query)
        dense = self.kb.store.search(vector, depth, VECTOR)
        dense_label = self.kb.store.search(vector, depth, LABEL_VECTOR) if self.label_search else []
        for chunk, _ in dense + dense_label:
            self.chunks.setdefault(chunk.id, chunk)
        # Only context similarity is reported: short labels match unrelated
        # questions too closely to tell relevant from irrelevant.
        dense_scores = {chunk.id: score for chunk, score in dense}

        # Keyword candidates.
        keyword = self.bm25.search(query, depth)
        keyword_label = self.label_bm25.search(query, depth)
        bm25_scores = dict(keyword)

        fused = reciprocal_rank_fusion(
            [
                [chunk.id for chunk, _ in dense],
                [chunk.id for chunk, _ in dense_label],
                [key for key, _ in keyword],
                [key for key, _ in keyword_label],
                self._title_matches(query, depth),
            ],
            k=self.rrf_k,
        )
        return [
            Hit(
                chunk=self.chunks[key],
                score=score,
                rank=rank,
                dense_score=dense_scores.get(key),
                bm25_score=bm25_scores.get(key),
            )
            for rank, (key, score) in enumerate(fused[:top_k], start=1)
        ]

    def _title_matches(self, query: str, depth: int) -> list[str]:
        """Return chunks whose title occurs in the query, longest (most specific) title first."""
        matched = sorted(
            (title for title in self.titles if title_in_question(title, query)),
            key=len,
            reverse=True,
        )
        return [chunk_id for title in matched for chunk_id in self.titles[title]][:depth]


# Titles shorter than this many content characters are not matched in questions.
MIN_TITLE_CHARS = 2


def title_in_question(title: str, question: str) -> bool:
    """Return whether ``question`` names ``title`` (case-insensitive; very short titles never)."""
    if len(content_chars(title)) < MIN_TITLE_CHARS:
        return False
    return title.lower() in question.lower()


# Median label length, in content characters, from which "auto" turns label
# search on. FAQ questions are longer; names of places or articles shorter.
LABEL_MIN_CHARS = 8


def _label_search_enabled(mode: str, labels: list[str]) -> bool:
    if mode != "auto":
        return mode == "on"
    if not labels:
        return False
    lengths = sorted(len(content_chars(label)) for label in labels)
    return lengths[len(lengths) // 2] >= LABEL_MIN_CHARS
