"""BM25 keyword index over chunk texts, built with bm25s."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from qiao.knowledge.tokenizers import Tokenizer

__all__ = ["BM25Index"]

logger = logging.getLogger(__name__)


class BM25Index:
    """An in-memory BM25 index over a fixed list of texts, addressed by key.

    The index is immutable: a knowledge base rebuilds it after a change, which
    takes about a second per 10,000 chunks.
    """

    def __init__(self, keys: Sequence[str], texts: Sequence[str], tokenizer: Tokenizer) -> None:
        import bm25s

        # bm25s sets its own logger to DEBUG on import; keep its chatter out of the CLI.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        if len(keys) != len(texts):
            raise ValueError(f"got {len(keys)} keys for {len(texts)} texts")
        self.keys = list(keys)
        self._tokenizer = tokenizer
        self._retriever = bm25s.BM25()
        if self.keys:
            self._retriever.index([tokenizer(text) for text in texts], show_progress=False)
        logger.debug("built BM25 index over %d texts", len(self.keys))

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Return up to ``k`` ``(key, score)`` pairs with a positive score, best first."""
        if not self.keys:
            return []
        tokens = self._tokenizer(query)
        if not tokens:
            return []
        scores = np.asarray(self._retriever.get_scores(tokens))
        k = min(k, len(self.keys))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.keys[i], float(scores[i])) for i in top if scores[i] > 0]
