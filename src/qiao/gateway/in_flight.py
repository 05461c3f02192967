"""Identical ``kb:`` questions asked while the first is still generating share its answer.

The semantic cache only helps once an answer is stored. Without this, a burst
of clients asking the same question would each wait for the model and each
generate the same answer. Followers wait for the leader's answer instead;
when the leader fails or its client leaves, one follower takes over.
"""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = ["InFlightAnswers", "SharedAnswer"]


@dataclass
class SharedAnswer:
    """A finished answer handed to followers; shaped like a cache hit."""

    response: dict[str, Any]
    completion_tokens: int
    similarity: float = 1.0


class InFlightAnswers:
    """Leaders by question: the cache key's digest plus the normalised query.

    Only the event loop's thread may call the methods, so no lock is needed.
    """

    def __init__(self) -> None:
        self._leaders: dict[str, asyncio.Future[SharedAnswer | None]] = {}

    @staticmethod
    def key(cache_key: Any, query: str) -> str:
        normalised = " ".join(unicodedata.normalize("NFKC", query).split())
        return f"{cache_key.digest()}\n{normalised}"

    def leader(self, key: str) -> asyncio.Future[SharedAnswer | None] | None:
        return self._leaders.get(key)

    def lead(self, key: str) -> asyncio.Future[SharedAnswer | None]:
        future: asyncio.Future[SharedAnswer | None] = asyncio.get_running_loop().create_future()
        self._leaders[key] = future
        return future

    def finish(
        self, key: str, future: asyncio.Future[SharedAnswer | None], answer: SharedAnswer | None
    ) -> None:
        """Hand ``answer`` (None when the leader failed) to the followers of ``key``."""
        if not future.done():
            future.set_result(answer)
        if self._leaders.get(key) is future:
            del self._leaders[key]

    def __len__(self) -> int:
        return len(self._leaders)
