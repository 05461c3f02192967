"""HNSW index: approximate search on a faiss IndexHNSWFlat graph."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.index.base import (
    Metric,
    ParameterCache,
    SearchResult,
    VectorIndex,
    parse_metric,
    search_faiss,
    single_thread,
    trim_faiss_result,
)

__all__ = ["HnswIndex"]

# Vearch's limits (router-side checks in space.go) and engine defaults.
NLINKS_RANGE = (8, 96)
EF_CONSTRUCTION_RANGE = (16, 1024)
DEFAULT_PARAMS = {"nlinks": 32, "efConstruction": 100, "efSearch": 64}
# With at most this many allowed rows, an exact scan is cheap and returns the true top k.
_EXACT_MAX_ROWS = 4096


def _int_param(params: dict[str, Any], key: str, bounds: tuple[int, int] | None) -> int:
    value = params.get(key, DEFAULT_PARAMS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise VectorDBError(
            ErrorCode.PARAM_ERROR, f"HNSW {key} must be a positive integer, got {value!r}"
        )
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise VectorDBError(
            ErrorCode.PARAM_ERROR,
            f"HNSW {key} {value} is out of range; use a value in [{bounds[0]}, {bounds[1]}]",
        )
    return value


class HnswIndex(VectorIndex):
    """Approximate nearest neighbours on an HNSW graph; saved with each snapshot."""

    type_name = "HNSW"
    persistent = True

    def __init__(
        self,
        dimension: int,
        metric: Metric,
        params: dict[str, Any],
        index: faiss.IndexHNSWFlat | None = None,
    ) -> None:
        super().__init__(dimension, metric, params)
        if index is None:
            index = faiss.IndexHNSWFlat(dimension, params["nlinks"], metric.faiss_metric)
            index.hnsw.efConstruction = params["efConstruction"]
        self._index = index
        self._storage = faiss.downcast_index(index.storage)
        self._parameters = ParameterCache(lambda ef: faiss.SearchParametersHNSW(efSearch=ef))

    @classmethod
    def validate_params(cls, params: dict[str, Any], dimension: int) -> dict[str, Any]:
        result = dict(params)
        result["metric_type"] = parse_metric(params.get("metric_type", "InnerProduct")).value
        result["nlinks"] = _int_param(params, "nlinks", NLINKS_RANGE)
        result["efConstruction"] = _int_param(params, "efConstruction", EF_CONSTRUCTION_RANGE)
        result["efSearch"] = _int_param(params, "efSearch", None)
        return result

    @classmethod
    def deserialize(
        cls, data: np.ndarray, dimension: int, metric: Metric, params: dict[str, Any]
    ) -> HnswIndex:
        try:
            index = faiss.deserialize_index(data)
        except RuntimeError as error:
            raise ValueError(f"the saved HNSW index is unreadable: {error}") from error
        if not isinstance(index, faiss.IndexHNSWFlat) or index.d != dimension:
            raise ValueError(f"the saved index is not an HNSW index of dimension {dimension}")
        if index.metric_type != metric.faiss_metric:
            raise ValueError(f"the saved HNSW index does not use metric {metric.value}")
        return cls(dimension, metric, params, index)

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        self._index.add(vectors)

    def serialize(self) -> np.ndarray:
        return faiss.serialize_index(self._index)

    def vectors_view(self) -> np.ndarray:
        count = self.ntotal
        if count == 0:
            return np.empty((0, self.dimension), dtype=np.float32)
        flat = faiss.rev_swig_ptr(self._storage.get_xb(), count * self.dimension)
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
        ef_search = search_params.get("efSearch", self.params["efSearch"])
        if type(ef_search) is not int or ef_search < 1:
            ef_search = _int_param({"efSearch": ef_search}, "efSearch", None)
        # faiss sizes its candidate heaps by efSearch; a walk never visits more than ntotal nodes.
        ef_search = max(min(ef_search, self.ntotal), k)
        if allowed is None:
            parameters = self._parameters.get(ef_search)
            distances, labels = search_faiss(self._index, queries, k, parameters)
            return trim_faiss_result(distances, labels)
        allowed_count = int(np.count_nonzero(allowed[: self.ntotal]))
        if allowed_count <= _EXACT_MAX_ROWS:
            return self.exact_search(queries, k, allowed)
        selector, bits = self._selector_params(allowed)
        parameters = faiss.SearchParametersHNSW(efSearch=ef_search, sel=selector)
        with single_thread(len(queries)):
            distances, labels = self._index.search(queries, k, params=parameters)
        del bits  # the selector reads this buffer until the search returns
        result = trim_faiss_result(distances, labels)
        expected_count = min(k, allowed_count)
        if any(len(rows) < expected_count for rows in result.rows):
            # A selective filter can cut the graph walk short; the exact scan
            # over the allowed rows then returns the full top k.
            return self.exact_search(queries, k, allowed)
        return result
