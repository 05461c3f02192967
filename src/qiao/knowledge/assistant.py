"""Assemble retriever, generator and answerer for one knowledge base from the settings."""

from __future__ import annotations

import logging

from qiao.config import Settings
from qiao.knowledge.answer import Answerer
from qiao.knowledge.base import KnowledgeBase
from qiao.knowledge.retriever import HybridRetriever
from qiao.llm import Generator, create_generator, generator_status

__all__ = ["build_answerer"]

logger = logging.getLogger(__name__)


def build_answerer(
    kb: KnowledgeBase, settings: Settings, generator: Generator | None = None
) -> Answerer:
    """Return an answerer over ``kb`` using ``generator`` or the configured one.

    With no generator available, answers are extractive and carry a notice
    that says how to turn generation on.
    """
    if generator is None:
        generator = create_generator(settings.generator, settings.models_dir)
    notice = (
        "" if generator is not None else generator_status(settings.generator, settings.models_dir)
    )
    return Answerer(
        HybridRetriever(kb),
        generator,
        top_k=settings.retrieval.top_k,
        min_dense_score=settings.retrieval.min_dense_score,
        max_tokens=settings.generator.max_tokens,
        temperature=settings.generator.temperature,
        notice=notice,
    )
