"""Interface of a vector index over the rows of one vector field.

Rows are numbered from 0 in insertion order and never removed from an
index: the space passes the live rows as an ``allowed`` mask instead. Row
``i`` of the index is row ``i`` of the document store.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import faiss
import numpy as np

from qiao.vectordb.errors import ErrorCode, VectorDBError

__all__ = [
    "INDEXED",
    "INDEXING",
    "UNINDEXED",
    "Metric",
    "SearchResult",
    "VectorIndex",
    "merge_results",
    "parse_metric",
    "search_faiss",
    "single_thread",
]

# Vearch's index_status values of a partition.
UNINDEXED = 0
INDEXING = 1
INDEXED = 2


class Metric(Enum):
    """Distance measure of a vector index, named as in Vearch."""

    L2 = "L2"
    INNER_PRODUCT = "InnerProduct"

    @property
    def faiss_metric(self) -> int:
        return faiss.METRIC_L2 if self is Metric.L2 else faiss.METRIC_INNER_PRODUCT

    @property
    def higher_is_better(self) -> bool:
        return self is Metric.INNER_PRODUCT


def parse_metric(value: object) -> Metric:
    """Return the Metric named by ``value`` or raise PARAM_ERROR."""
    for metric in Metric:
        if value == metric.value:
            return metric
    raise VectorDBError(
        ErrorCode.PARAM_ERROR, f"metric_type {value!r} is invalid; use 'L2' or 'InnerProduct'"
    )


@dataclass
class SearchResult:
    """Top hits per query: ``rows[i]`` and ``scores[i]`` list query ``i``'s hits, best first."""

    rows: list[np.ndarray]
    scores: list[np.ndarray]


@contextlib.contextmanager
def single_thread(query_count: int) -> Iterator[None]:
    """Run faiss on one OpenMP thread for a handful of queries.

    One query cannot use more threads, and on a busy machine the idle OpenMP
    threads slowed a 100k x 384 FLAT search about fourfold (measured on 2
    cores). ``omp_set_num_threads`` applies to the calling thread only.
    """
    if query_count > 4:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def search_faiss(
    index: faiss.Index, queries: np.ndarray, k: int, parameters: faiss.SearchParameters
) -> tuple[np.ndarray, np.ndarray]:
    """Return faiss's ``(distances, labels)``, on one OpenMP thread for a handful of queries.

    The call skips faiss's Python wrapper, whose checks and conversions cost a
    few microseconds per search. The two checks here keep faiss from reading
    past the query array.
    """
    if queries.dtype != np.float32 or not queries.flags.c_contiguous:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != index.d:
        raise ValueError(
            f"queries of shape {queries.shape} do not fit an index of dimension {index.d}"
        )
    count = len(queries)
    distances = np.empty((count, k), dtype=np.float32)
    labels = np.empty((count, k), dtype=np.int64)
    arguments = (
        count,
        faiss.swig_ptr(queries),
        k,
        faiss.swig_ptr(distances),
        faiss.swig_ptr(labels),
        parameters,
    )
    if count > 4 or faiss.omp_get_max_threads() == 1:
        index.search_c(*arguments)
    else:
        with single_thread(count):
            index.search_c(*arguments)
    return distances, labels


class ParameterCache:
    """Reusable faiss SearchParameters without a selector, one per setting (efSearch, nprobe).

    faiss only reads the parameters during a search, so threads may share
    them. Building new ones costs a few microseconds per query.
    """

    _MAX_ENTRIES = 64

    def __init__(self, factory: Callable[[int], faiss.SearchParameters]) -> None:
        self._factory = factory
        self._entries: dict[int, faiss.SearchParameters] = {}

    def get(self, setting: int) -> faiss.SearchParameters:
        parameters = self._entries.get(setting)
        if parameters is None:
            if len(self._entries) >= self._MAX_ENTRIES:
                self._entries = {}
            parameters = self._factory(setting)
            self._entries[setting] = parameters
        return parameters


class VectorIndex(ABC):
    """A faiss index over float32 vectors of one dimension, searched with one metric."""

    #: Index type name as in Vearch, such as "FLAT".
    type_name: ClassVar[str]
    #: True when the index is saved with a snapshot; False when it is rebuilt from vectors.
    persistent: ClassVar[bool] = False
    #: True when a saved index contains the vectors (HNSW); False when they are read from the
    #: segments and the saved index is attached with ``restore`` (IVF).
    saves_vectors: ClassVar[bool] = True
    #: True when the index must be trained on stored vectors before it contains any row.
    needs_training: ClassVar[bool] = False

    def __init__(self, dimension: int, metric: Metric, params: dict[str, Any]) -> None:
        self.dimension = dimension
        self.metric = metric
        self.params = params

    @classmethod
    @abstractmethod
    def validate_params(cls, params: dict[str, Any], dimension: int) -> dict[str, Any]:
        """Return ``params`` with defaults filled in, or raise PARAM_ERROR."""

    @property
    @abstractmethod
    def ntotal(self) -> int:
        """Number of rows added so far."""

    @abstractmethod
    def add(self, vectors: np.ndarray) -> None:
        """Append ``vectors`` (float32, shape ``(n, dimension)``) as the next rows."""

    @abstractmethod
    def vectors_view(self) -> np.ndarray:
        """Return a read-only view of all stored vectors; ``add`` invalidates it."""

    @abstractmethod
    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        search_params: dict[str, Any],
    ) -> SearchResult:
        """Return the top ``k`` rows per query among rows where ``allowed`` is True (None: all)."""

    @property
    def indexed_count(self) -> int:
        """Number of leading rows the index structure holds; later rows are searched exactly."""
        return self.ntotal

    @property
    def index_status(self) -> int:
        """UNINDEXED, INDEXING or INDEXED, as Vearch reports a partition's index_status."""
        return INDEXED

    def serialize(self) -> np.ndarray | None:
        """Return the index as bytes (a uint8 array), or None when there is nothing to save yet.

        Only persistent indexes implement it.
        """
        raise NotImplementedError(f"{self.type_name} indexes are rebuilt, not saved")

    def restore(self, data: np.ndarray) -> None:
        """Attach a saved index to the vectors read from the segments (``saves_vectors`` False).

        Raise ValueError when the saved bytes do not fit this field.
        """
        raise NotImplementedError(f"{self.type_name} indexes are not restored from bytes")

    def compacted(self, rows: np.ndarray) -> VectorIndex:
        """Return a new index holding only ``rows``, renumbered from 0, for a compaction."""
        index = type(self)(self.dimension, self.metric, self.params)
        if rows.size:
            index.add(np.ascontiguousarray(self.vectors_view()[rows]))
        return index

    @classmethod
    def deserialize(
        cls, data: np.ndarray, dimension: int, metric: Metric, params: dict[str, Any]
    ) -> VectorIndex:
        """Read bytes from ``serialize``; raise ValueError if they do not match the field."""
        raise NotImplementedError(f"{cls.type_name} indexes are rebuilt, not loaded")

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """Return a copy of the vectors of ``rows``."""
        return np.array(self.vectors_view()[rows], dtype=np.float32)

    def exact_search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        metric: Metric | None = None,
        first_row: int = 0,
    ) -> SearchResult:
        """Return the exact top ``k`` among allowed rows by comparing the query with each one.

        Only rows from ``first_row`` on are candidates.
        """
        metric = metric or self.metric
        if allowed is None:
            candidates = np.arange(first_row, self.ntotal, dtype=np.int64)
        else:
            candidates = np.flatnonzero(allowed[first_row : self.ntotal]) + first_row
        if candidates.size == 0 or k <= 0:
            empty = [np.empty(0, dtype=np.int64) for _ in range(len(queries))]
            return SearchResult(empty, [np.empty(0, dtype=np.float32) for _ in queries])
        view = self.vectors_view()
        subset = view if candidates.size == self.ntotal else view[candidates]
        with single_thread(len(queries)):
            distances, positions = faiss.knn(
                queries,
                np.ascontiguousarray(subset),
                min(k, candidates.size),
                metric=metric.faiss_metric,
            )
        return _trim(distances, candidates[positions.clip(min=0)], positions >= 0)

    def _selector_params(
        self, allowed: np.ndarray, row_count: int | None = None
    ) -> tuple[faiss.IDSelector, np.ndarray]:
        """Return an IDSelectorBitmap for ``allowed`` and the bit array it points into.

        The bitmap covers the first ``row_count`` rows (default: all).
        """
        count = self.ntotal if row_count is None else row_count
        bits = np.packbits(allowed[:count], bitorder="little")
        return faiss.IDSelectorBitmap(count, faiss.swig_ptr(bits)), bits


def _trim(distances: np.ndarray, rows: np.ndarray, valid: np.ndarray) -> SearchResult:
    """Drop the ``-1`` padding faiss returns when fewer than k rows qualify."""
    result_rows = [rows[i][valid[i]] for i in range(len(rows))]
    result_scores = [distances[i][valid[i]] for i in range(len(rows))]
    return SearchResult(result_rows, result_scores)


def merge_results(
    first: SearchResult, second: SearchResult, k: int, metric: Metric
) -> SearchResult:
    """Merge two per-query hit lists over disjoint rows and keep the best ``k`` of each query."""
    rows, scores = [], []
    for query in range(len(first.rows)):
        query_rows = np.concatenate([first.rows[query], second.rows[query]])
        query_scores = np.concatenate([first.scores[query], second.scores[query]])
        order = np.argsort(
            -query_scores if metric.higher_is_better else query_scores, kind="stable"
        )
        rows.append(query_rows[order[:k]])
        scores.append(query_scores[order[:k]])
    return SearchResult(rows, scores)


def trim_faiss_result(distances: np.ndarray, labels: np.ndarray) -> SearchResult:
    """Convert a faiss ``(distances, labels)`` pair to a SearchResult without padding."""
    # faiss sorts its -1 padding after every hit, so a valid last label means no padding.
    if len(labels) == 1 and labels[0, -1] >= 0:
        return SearchResult([labels[0]], [distances[0]])
    valid = labels >= 0
    if valid.all():
        return SearchResult(list(labels), list(distances))
    return _trim(distances, labels, valid)
