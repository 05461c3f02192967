"""BM25 keyword index over chunk texts, built with bm25s."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

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
        bm25s = _import_bm25s()
        if len(keys) != len(texts):
            raise ValueError(f"got {len(keys)} keys for {len(texts)} texts")
        self.keys = list(keys)
        self._tokenizer = tokenizer
        self._retriever = bm25s.BM25()
        if self.keys:
            self._retriever.index([tokenizer(text) for text in texts], show_progress=False)
        logger.debug("built BM25 index over %d texts", len(self.keys))

    @classmethod
    def cached(
        cls,
        folder: Path,
        keys: Sequence[str],
        texts: Callable[[], Sequence[str]],
        tokenizer: Tokenizer,
    ) -> BM25Index:
        """Load the index saved in ``folder`` if it has the same keys, else build and save it.

        The caller names ``folder`` after the data version, so a folder
        contains no index of other texts. Failing to save (a read-only home) only
        costs the rebuild next time.
        """
        keys = list(keys)
        loaded = cls._load(folder, keys, tokenizer)
        if loaded is not None:
            return loaded
        index = cls(keys, texts(), tokenizer)
        if keys:
            index._save(folder)
        return index

    @classmethod
    def _load(cls, folder: Path, keys: list[str], tokenizer: Tokenizer) -> BM25Index | None:
        try:
            if json.loads((folder / "keys.json").read_text(encoding="utf-8")) != keys:
                return None
            retriever = _import_bm25s().BM25.load(str(folder), show_progress=False)
        except (OSError, ValueError):
            return None
        index = cls.__new__(cls)
        index.keys = keys
        index._tokenizer = tokenizer
        index._retriever = retriever
        logger.debug("loaded BM25 index of %d texts from %s", len(keys), folder)
        return index

    def _save(self, folder: Path) -> None:
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        except OSError as error:
            logger.info("could not save the BM25 index to %s: %s", folder, error)
            return
        try:
            self._retriever.save(str(staging), show_progress=False)
            (staging / "keys.json").write_text(json.dumps(self.keys), encoding="utf-8")
            # Another process may have saved the same index first; either copy is valid.
            staging.rename(folder)
        except OSError as error:
            logger.info("could not save the BM25 index to %s: %s", folder, error)
            shutil.rmtree(staging, ignore_errors=True)

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


def _import_bm25s():  # type: ignore[no-untyped-def]
    import bm25s

    # bm25s sets its own logger to DEBUG on import; keep its chatter out of the CLI.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s
