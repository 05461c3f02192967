"""Append-only float32 matrix that holds the raw vectors of an index that does not keep them."""

from __future__ import annotations

import numpy as np

__all__ = ["VectorBuffer"]


class VectorBuffer:
    """Rows of float32 vectors, appended in order and never changed.

    The storage grows by doubling into a new array, so a view taken earlier
    keeps pointing at the old array, whose rows stay valid: a background
    thread may read rows ``[0, n)`` of a view without holding the space lock.
    """

    def __init__(self, dimension: int, capacity: int = 1024) -> None:
        self.dimension = dimension
        self._data = np.empty((capacity, dimension), dtype=np.float32)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def extend(self, vectors: np.ndarray) -> None:
        """Append ``vectors`` (shape ``(n, dimension)``) as the next rows."""
        needed = self._size + len(vectors)
        if needed > len(self._data):
            grown = np.empty((max(needed, 2 * len(self._data)), self.dimension), dtype=np.float32)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : needed] = vectors
        self._size = needed

    def view(self) -> np.ndarray:
        """Return a read-only view of the filled rows."""
        view = self._data[: self._size]
        view.flags.writeable = False
        return view
