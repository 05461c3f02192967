"""FLAT index: exact search over all vectors with faiss IndexFlat."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from qiao.vectordb.index.base import (
    Metric,
    SearchResult,
    VectorIndex,
    parse_metric,
    single_thread,
    trim_faiss_result,
)

__all__ = ["FlatIndex"]

# Below this share of allowed rows, copying those rows and scanning them beats
# a full scan that skips rows through an IDSelector.
_SUBSET_SHARE = 0.25


class FlatIndex(VectorIndex):
    """Exact nearest neighbours; rebuilt from the stored vectors when a space opens."""

    type_name = "FLAT"
    persistent = False

    def __init__(self, dimension: int, metric: Metric, params: dict[str, Any]) -> None:
        super().__init__(dimension, metric, params)
        self._index = faiss.IndexFlat(dimension, metric.faiss_metric)

    @classmethod
    def validate_params(cls, params: dict[str, Any], dimension: int) -> dict[str, Any]:
        result = dict(params)
        result["metric_type"] = parse_metric(params.get("metric_type", "InnerProduct")).value
        return result

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        self._index.add(vectors)

    def vectors_view(self) -> np.ndarray:
        count = self.ntotal
        if count == 0:
            return np.empty((0, self.dimension), dtype=np.float32)
        flat = faiss.rev_swig_ptr(self._index.get_xb(), count * self.dimension)
        view = flat.reshape(count, self.dimension)
        view.flags.writeable = False
        return view

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        search_params: dict[str, Any],
    ) -> SearchResult:
        if allowed is None:
            with single_thread(len(queries)):
                distances, labels = self._index.search(queries, k)
            return trim_faiss_result(distances, labels)
        allowed_count = int(np.count_nonzero(allowed[: self.ntotal]))
        if allowed_count < _SUBSET_SHARE * self.ntotal:
            return self.exact_search(queries, k, allowed)
        selector, bits = self._selector_params(allowed)
        with single_thread(len(queries)):
            distances, labels = self._index.search(
                queries, k, params=faiss.SearchParameters(sel=selector)
            )
        del bits  # the selector reads this buffer until the search returns
        return trim_faiss_result(distances, labels)
