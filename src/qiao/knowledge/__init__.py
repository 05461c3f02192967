"""Knowledge bases: loading documents, chunking, hybrid retrieval and cited answers.

Names are imported on first use, so that ``import qiao.knowledge`` stays
cheap and does not load the embedder, faiss or jieba.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiao.knowledge.answer import Answer, Answerer
    from qiao.knowledge.assistant import build_answerer
    from qiao.knowledge.base import KnowledgeBase
    from qiao.knowledge.chunker import Chunk, chunk_document
    from qiao.knowledge.citations import Citation
    from qiao.knowledge.evaluate import evaluate_answers, evaluate_retrieval, read_qa
    from qiao.knowledge.ingest import IngestReport, ingest_paths
    from qiao.knowledge.loaders import Document, LoadOptions, load_file
    from qiao.knowledge.registry import KnowledgeBaseRegistry
    from qiao.knowledge.remove import remove_paths
    from qiao.knowledge.retriever import Hit, HybridRetriever

_EXPORTS = {
    "Answer": "answer",
    "Answerer": "answer",
    "build_answerer": "assistant",
    "KnowledgeBase": "base",
    "Chunk": "chunker",
    "chunk_document": "chunker",
    "Citation": "citations",
    "evaluate_answers": "evaluate",
    "evaluate_retrieval": "evaluate",
    "read_qa": "evaluate",
    "IngestReport": "ingest",
    "ingest_paths": "ingest",
    "Document": "loaders",
    "LoadOptions": "loaders",
    "load_file": "loaders",
    "KnowledgeBaseRegistry": "registry",
    "remove_paths": "remove",
    "Hit": "retriever",
    "HybridRetriever": "retriever",
}

__all__ = [
    "Answer",
    "Answerer",
    "Chunk",
    "Citation",
    "Document",
    "Hit",
    "HybridRetriever",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeBaseRegistry",
    "LoadOptions",
    "build_answerer",
    "chunk_document",
    "evaluate_answers",
    "evaluate_retrieval",
    "ingest_paths",
    "load_file",
    "read_qa",
    "remove_paths",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qiao.knowledge' has no attribute {name!r}")
    return getattr(importlib.import_module(f"qiao.knowledge.{module}"), name)
