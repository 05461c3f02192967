"""Semantic cache of chat answers, stored in a space of Qiao's embedded vector database.

An entry is found by two things. Its key (model, system prompt, knowledge-base
version and the conversation before the question) must match exactly: the
lookup filters on the key's SHA-256, so an answer never crosses a knowledge-base
update or another conversation. Its question must be similar: cosine
similarity of the question embeddings at or above the threshold, and no
negation, number or entity conflict (see :mod:`qiao.gateway.cache_guards`).

Entries expire after ``ttl_seconds``, the oldest are evicted beyond
``max_entries``, and every store is durable when it returns (the vector
database's write-ahead log). All methods are thread-safe. One process at a
time may open a cache folder; a second one gets LockedError.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError
from qiao.gateway.cache_guards import GUARD_REASONS, guard_conflict
from qiao.gateway.cache_space import CacheSpace
from qiao.knowledge.embedders import Embedder

__all__ = ["DEFAULT_THRESHOLD", "CacheHit", "CacheKey", "CacheSettings", "SemanticCache"]

logger = logging.getLogger(__name__)

# Cosine similarity of multilingual-e5-small query embeddings at which the
# paraphrase benchmark (benchmarks/semantic_cache.py) reached precision >= 0.97.
DEFAULT_THRESHOLD = 0.97
# Nearest entries checked against the guards before a lookup gives up.
CANDIDATES = 5


@dataclass(frozen=True)
class CacheSettings:
    """Similarity threshold, entry lifetime and size limit of the cache.

    With ``ttl_seconds <= 0`` entries never expire.
    """

    threshold: float = DEFAULT_THRESHOLD
    ttl_seconds: int = 24 * 3600
    max_entries: int = 10_000
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise InvalidInputError(
                f"cache threshold {self.threshold} is out of range; use a cosine similarity "
                "above 0 and at most 1, such as 0.95"
            )
        if self.max_entries < 1:
            raise InvalidInputError(f"cache max_entries {self.max_entries} must be at least 1")


@dataclass(frozen=True)
class CacheKey:
    """The exact-match part of a cache entry: model, system prompt, knowledge-base version, context.

    ``context`` is the conversation before the last user turn. Whitespace
    and Unicode width differences are normalised before hashing.
    """

    model: str
    system_prompt: str
    kb_version: str
    context: str

    def digest(self) -> str:
        parts = [self.model, normalize_text(self.system_prompt), self.kb_version]
        parts.append(normalize_text(self.context))
        encoded = json.dumps(parts, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()


@dataclass
class CacheHit:
    """A cached answer: the stored response and how close its question was."""

    response: dict[str, Any]
    similarity: float
    question: str
    age_seconds: float
    completion_tokens: int


# A title with one of these is a question (an FAQ entry), not the name of a thing.
_QUESTION_MARKS = ("?", "？", "吗", "呢", "么", "怎么", "如何", "什么", "哪")


def _is_name(title: str) -> bool:
    stripped = title.strip()
    return len(stripped) >= 2 and not any(mark in stripped for mark in _QUESTION_MARKS)


def normalize_text(text: str) -> str:
    """Return ``text`` in NFKC form with runs of whitespace collapsed to one space."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


class SemanticCache:
    """Answers stored by key and question embedding; open with :meth:`open`."""

    def __init__(
        self,
        space: CacheSpace,
        embedder: Embedder,
        settings: CacheSettings,
        entities: Collection[str] = (),
    ) -> None:
        self.space = space
        self.embedder = embedder
        self.settings = settings
        self.entities = frozenset(name for name in entities if _is_name(name))
        self._lock = threading.RLock()
        self._counts: Counter[str] = Counter()

    @classmethod
    def open(
        cls,
        folder: Path,
        embedder: Embedder,
        settings: CacheSettings,
        entities: Collection[str] = (),
    ) -> SemanticCache:
        """Open or create the cache in ``folder``.

        ``entities`` are names (such as knowledge-base titles) that must occur
        in both questions or in neither for a hit, besides jieba's proper nouns.
        Titles that are questions themselves (FAQ entries) are left out, as
        are names shorter than two characters.
        """
        space = CacheSpace.open(Path(folder), embedder.name, embedder.dim)
        cache = cls(space, embedder, settings, entities)
        logger.info(
            "opened semantic cache %s: %d entries, threshold %.3f",
            folder,
            len(space),
            settings.threshold,
        )
        return cache

    def lookup(self, key: CacheKey, question: str) -> CacheHit | None:
        """Return the cached answer to ``question`` under ``key``, or None on a miss."""
        if not self.settings.enabled:
            return None
        question = normalize_text(question)
        vector = self.embedder.embed_query(question)
        now = time.time()
        with self._lock:
            candidates = self.space.nearest(
                vector, key.digest(), self._oldest_allowed(now), CANDIDATES
            )
            for entry, similarity in candidates:
                if similarity < self.settings.threshold:
                    break
                conflict = guard_conflict(question, entry["question"], self.entities)
                if conflict is not None:
                    self._counts[f"rejected_{conflict}"] += 1
                    continue
                self._counts["hits"] += 1
                self._counts["completion_tokens_saved"] += entry["completion_tokens"]
                return CacheHit(
                    response=json.loads(entry["response"]),
                    similarity=similarity,
                    question=entry["question"],
                    age_seconds=max(0.0, now - entry["created"] / 1000),
                    completion_tokens=entry["completion_tokens"],
                )
            self._counts["misses"] += 1
            return None

    def store(
        self, key: CacheKey, question: str, response: dict[str, Any], completion_tokens: int
    ) -> None:
        """Store ``response`` as the answer to ``question`` under ``key``; durable on return."""
        if not self.settings.enabled:
            return
        question = normalize_text(question)
        try:
            payload = json.dumps(response, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise InvalidInputError(
                f"the response to cache is not JSON-serialisable: {error}; pass the response "
                "body as a dict of JSON values"
            ) from error
        vector = self.embedder.embed_query(question)
        now = time.time()
        with self._lock:
            stored = self.space.put(
                key.digest(), question, payload, int(completion_tokens), vector, now
            )
            if not stored:
                self._counts["too_large"] += 1
                return
            self._counts["stores"] += 1
            self._counts["expired"] += self.space.delete_older(self._oldest_allowed(now))
            self._counts["evicted"] += self.space.evict_oldest(self.settings.max_entries)

    def _oldest_allowed(self, now: float) -> float:
        """Return the creation time (epoch seconds) below which entries have expired."""
        return now - self.settings.ttl_seconds if self.settings.ttl_seconds > 0 else 0.0

    def stats(self) -> dict[str, Any]:
        """Return entry and request counts, the hit rate and the settings."""
        with self._lock:
            counts = dict(self._counts)
            entries = len(self.space)
        hits, misses = counts.get("hits", 0), counts.get("misses", 0)
        lookups = hits + misses
        return {
            "enabled": self.settings.enabled,
            "entries": entries,
            "lookups": lookups,
            "hits": hits,
            "misses": misses,
            "hit_rate": round(hits / lookups, 4) if lookups else 0.0,
            "stores": counts.get("stores", 0),
            "rejected": {reason: counts.get(f"rejected_{reason}", 0) for reason in GUARD_REASONS},
            "expired": counts.get("expired", 0),
            "evicted": counts.get("evicted", 0),
            "too_large": counts.get("too_large", 0),
            "completion_tokens_saved": counts.get("completion_tokens_saved", 0),
            "threshold": self.settings.threshold,
            "ttl_seconds": self.settings.ttl_seconds,
            "max_entries": self.settings.max_entries,
        }

    def close(self) -> None:
        """Write a snapshot of the entries and release the folder."""
        with self._lock:
            self.space.close()
        logger.info("closed semantic cache %s", self.space.folder)

    def __enter__(self) -> SemanticCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
