"""Embedder interface: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

__all__ = ["Embedder", "normalize_rows"]


class Embedder(ABC):
    """Turns passages and queries into vectors of one fixed dimension.

    Vectors are L2-normalised, so inner product equals cosine similarity.
    Asymmetric models (such as E5) encode queries and passages differently.
    """

    #: Identifier stored with a knowledge base, so that a base is never
    #: searched with vectors from another model.
    name: str
    dim: int

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 array."""

    @abstractmethod
    def embed_query(self, text: str) -> np.ndarray:
        """Return a ``(dim,)`` float32 array."""


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
