"""Embedder backed by a sentence-transformers model in a local folder."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qiao.errors import ConfigError
from qiao.knowledge.embedders.base import Embedder, normalize_rows
from qiao.optional import require

__all__ = ["SentenceTransformerEmbedder"]

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from ``path`` without network access.

    ``query_prefix`` and ``passage_prefix`` default to the E5 convention when
    the folder name contains "e5", and to nothing otherwise.
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 32,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
    ) -> None:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise ConfigError(
                f"sentence-transformers model folder {str(folder)!r} not found; set "
                "QIAO_EMBEDDER_PATH to a local model folder"
            )
        module = require("sentence_transformers", "st", "sentence-transformers")
        self._model = module.SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.name = f"sentence-transformers:{folder.name}"
        is_e5 = "e5" in folder.name.lower()
        if query_prefix is None:
            query_prefix = "query: " if is_e5 else ""
        if passage_prefix is None:
            passage_prefix = "passage: " if is_e5 else ""
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size
        logger.info("loaded embedder %s (dim %d)", self.name, self.dim)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=self._batch_size, show_progress_bar=False)
        return normalize_rows(np.asarray(vectors))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode([self._passage_prefix + text for text in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self._query_prefix + text])[0]
