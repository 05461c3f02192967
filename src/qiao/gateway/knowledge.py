"""Knowledge bases served as ``kb:<name>`` models: open bases, rewritten questions, cached answers.

Before retrieval, a follow-up question ("那门票呢？") is rewritten into a
standalone query from the conversation (:mod:`qiao.gateway.rewrite`), and the
semantic cache (:mod:`qiao.gateway.cache`) is asked for an earlier answer to
the same question. Both are optional: when their module is missing or the
setting is off, the last user message is the query and nothing is cached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qiao.config import Settings
from qiao.errors import InvalidInputError, QiaoError
from qiao.gateway.errors import APIError
from qiao.gateway.in_flight import InFlightAnswers
from qiao.knowledge.answer import Answer, Answerer
from qiao.knowledge.base import KnowledgeBase, read_info
from qiao.knowledge.registry import KnowledgeBaseRegistry
from qiao.knowledge.retriever import HybridRetriever
from qiao.llm import ChatMessage, Generator

__all__ = ["KnowledgeModels", "PreparedQuestion", "conversation_context"]

logger = logging.getLogger(__name__)


@dataclass
class KnowledgeState:
    """An open knowledge base at one version, with its retriever."""

    kb: KnowledgeBase
    retriever: HybridRetriever
    version: str
    # Built on the first follow-up question, because it scans every chunk.
    rewriter: Any = None


@dataclass
class PreparedQuestion:
    """The query for retrieval and, when the cache is on, its key and any cached answer."""

    name: str
    state: KnowledgeState
    question: str
    query: str
    rewrite_method: str = "none"
    rewrite_seconds: float = 0.0
    cache_key: Any = None
    cache_hit: Any = None


class KnowledgeModels:
    """The knowledge bases of a Qiao home, opened read-only on first use and reopened on change."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = KnowledgeBaseRegistry(settings)
        self._states: dict[str, KnowledgeState] = {}
        self._caches: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.rewriter_class = _optional_rewriter() if settings.gateway.rewrite else None
        self.cache_classes = _optional_cache() if settings.gateway.cache else None
        self.in_flight = InFlightAnswers()

    @property
    def cache_enabled(self) -> bool:
        return self.cache_classes is not None

    def names(self) -> list[str]:
        return self.registry.names()

    def exists(self, name: str) -> bool:
        try:
            return self.registry.exists(name)
        except InvalidInputError:
            return False

    def state(self, name: str) -> KnowledgeState:
        """Return the open base ``name``, reopened when another process changed it."""
        info = read_info(self.registry.path_of(name))
        version = f"{info.created}#{info.version}"
        with self._lock:
            state = self._states.get(name)
            if state is not None and state.version == version:
                return state
            if state is not None:
                logger.info("knowledge base %s changed (version %s); reopening it", name, version)
                state.kb.close()
            began = time.perf_counter()
            kb = self.registry.open(name, read_only=True)
            state = KnowledgeState(kb, HybridRetriever(kb), version)
            self._states[name] = state
            logger.info("opened knowledge base %s in %.2f s", name, time.perf_counter() - began)
            return state

    def prepare(
        self, name: str, model: str, messages: list[ChatMessage], use_cache: bool
    ) -> PreparedQuestion:
        """Open the base, rewrite the question and look it up in the cache (blocking)."""
        question = messages[-1].content
        state = self.state(name)
        prepared = PreparedQuestion(name=name, state=state, question=question, query=question)
        user_turns = sum(1 for message in messages if message.role == "user")
        if self.rewriter_class is not None and user_turns > 1:
            with self._lock:
                if state.rewriter is None:
                    # NOTE: no generator is passed, so a question that names no entity
                    # of the base is joined to the previous turns instead of rewritten
                    # by the model, which would bypass the generation queue.
                    state.rewriter = self.rewriter_class(state.kb)
            rewritten = state.rewriter.rewrite(messages)
            prepared.query = rewritten.query
            prepared.rewrite_method = rewritten.method
            prepared.rewrite_seconds = rewritten.seconds
            logger.info("rewrote the question with %s: %r", rewritten.method, rewritten.query)

        if self.cache_classes is not None and use_cache:
            cache_key_class = self.cache_classes[1]
            prepared.cache_key = cache_key_class(
                model=model,
                system_prompt=system_prompt(messages),
                kb_version=state.version,
                context=conversation_context(messages),
            )
            cache = self._cache(name, state)
            if cache is None:
                prepared.cache_key = None
            else:
                prepared.cache_hit = cache.lookup(prepared.cache_key, prepared.query)
        return prepared

    def answer(
        self,
        prepared: PreparedQuestion,
        generator: Generator | None,
        max_tokens: int | None,
        temperature: float | None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text pieces and then the final Answer (blocking)."""
        settings = self.settings
        answerer = Answerer(
            prepared.state.retriever,
            generator,
            top_k=settings.retrieval.top_k,
            min_dense_score=settings.retrieval.min_dense_score,
            max_tokens=max_tokens or settings.generator.max_tokens,
            temperature=settings.generator.temperature if temperature is None else temperature,
        )
        return answerer.stream(prepared.query)

    def store(self, prepared: PreparedQuestion, response: dict[str, Any], tokens: int) -> None:
        """Store an answer in the semantic cache (blocking); a failure is logged, not raised."""
        cache = self._caches.get(prepared.name)
        if prepared.cache_key is None or cache is None:
            return
        try:
            cache.store(prepared.cache_key, prepared.query, response, tokens)
        except Exception:
            logger.exception("storing an answer of kb:%s in the cache failed", prepared.name)

    def _cache(self, name: str, state: KnowledgeState) -> Any:
        """Return the semantic cache of base ``name``, or None if it cannot be opened."""
        with self._lock:
            if name in self._caches:
                return self._caches[name]
            semantic_cache, _, cache_settings = self.cache_classes
            folder = self.settings.home / "gateway" / "cache" / name
            # Titles of the base are entities that must match for a hit, so that
            # "故宫几点开门" never returns the answer about 天坛.
            titles = {chunk.title for chunk in state.retriever.chunks.values() if chunk.title}
            try:
                cache = semantic_cache.open(folder, state.kb.embedder, cache_settings(), titles)
            except QiaoError as error:
                logger.error("semantic cache of kb:%s is off: %s", name, error)
                cache = None
            self._caches[name] = cache
            return cache

    def close(self) -> None:
        with self._lock:
            for cache in self._caches.values():
                if cache is not None:
                    cache.close()
            for state in self._states.values():
                state.kb.close()
            self._caches.clear()
            self._states.clear()


def system_prompt(messages: list[ChatMessage]) -> str:
    return "\n".join(message.content.strip() for message in messages if message.role == "system")


def conversation_context(messages: list[ChatMessage]) -> str:
    """Return the conversation before the last user turn, one normalised line per message."""
    last_user = max(i for i, message in enumerate(messages) if message.role == "user")
    lines = [
        f"{message.role}: {' '.join(message.content.split())}"
        for message in messages[:last_user]
        if message.role != "system"
    ]
    return "\n".join(lines)


def _optional_rewriter() -> Any:
    try:
        from qiao.gateway.rewrite import QueryRewriter
    except ImportError as error:
        logger.warning("question rewriting is off: %s", error)
        return None
    return QueryRewriter


def _optional_cache() -> tuple[Any, Any, Any] | None:
    try:
        from qiao.gateway.cache import CacheKey, CacheSettings, SemanticCache
    except ImportError as error:
        logger.warning("the semantic cache is off: %s", error)
        return None
    return SemanticCache, CacheKey, CacheSettings


def require_user_last(messages: list[ChatMessage], model: str) -> None:
    if messages[-1].role != "user":
        raise APIError(
            400,
            f"the last message to {model} must come from the user: it is the question that "
            "the knowledge base answers",
            param="messages",
        )
