"""Base of the indexes that are trained on stored vectors before they hold rows (IVF family).

The raw vectors of every row live in a VectorBuffer, so the space can read,
return and snapshot them whatever the index does. A faiss index, once
trained, holds the leading rows ``[0, indexed_count)``; the background
indexer (``qiao.vectordb.indexer``) trains it and appends the later rows.
Searches use the faiss index for the rows it holds and compare the query
exactly with the rows after them, so a written document is found at once.

Vearch's rules (router checks in ``space.go``, engine defaults in
``gamma_common_data.h``): ``ncentroids`` in [1, 262144], default 2048;
``nprobe`` at most ``ncentroids``, default 80; a ``training_threshold``
that is set must be at least ``ncentroids`` and 256; without one,
``ncentroids`` x 39 must reach 256 and training starts at
max(``ncentroids`` x 200, 256) live documents.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import faiss
import numpy as np

from qiao.vectordb.index.base import (
    INDEXED,
    INDEXING,
    UNINDEXED,
    Metric,
    ParameterCache,
    SearchResult,
    VectorIndex,
    merge_results,
    parse_metric,
    search_faiss,
    trim_faiss_result,
)
from qiao.vectordb.index.list_layout import compact_lists, install_lists
from qiao.vectordb.index.params import int_param, param_error
from qiao.vectordb.index.vector_buffer import VectorBuffer

__all__ = ["TrainedIndex", "validate_ivf_params"]

NCENTROIDS_RANGE = (1, 262144)
DEFAULT_NCENTROIDS = 2048
DEFAULT_NPROBE = 80
MIN_TRAINING_THRESHOLD = 256
MIN_POINTS_PER_CENTROID = 39
DEFAULT_POINTS_PER_CENTROID = 200
# faiss k-means samples at most this many points per centroid; more are not copied.
MAX_POINTS_PER_CENTROID = 256
# With at most this many allowed rows, a filtered search scans them exactly.
_EXACT_MAX_ROWS = 2048


def validate_ivf_params(params: dict[str, Any], owner: str) -> dict[str, Any]:
    """Check and fill the parameters shared by IVFFLAT and IVFPQ."""
    result = dict(params)
    result["metric_type"] = parse_metric(params.get("metric_type", "InnerProduct")).value
    ncentroids = int_param(
        params, "ncentroids", DEFAULT_NCENTROIDS, owner=owner, low=1, high=NCENTROIDS_RANGE[1]
    )
    assert ncentroids is not None
    result["ncentroids"] = ncentroids
    nprobe = int_param(params, "nprobe", min(DEFAULT_NPROBE, ncentroids), owner=owner)
    assert nprobe is not None
    if nprobe > ncentroids:
        raise param_error(
            f"{owner} nprobe {nprobe} is larger than ncentroids {ncentroids}; "
            f"use a value in [1, {ncentroids}]"
        )
    result["nprobe"] = nprobe
    threshold = int_param(params, "training_threshold", None, owner=owner, low=0)
    if threshold is not None:
        floor = max(ncentroids, MIN_TRAINING_THRESHOLD)
        if threshold < floor:
            raise param_error(
                f"{owner} training_threshold {threshold} is too small; it must be at least "
                f"ncentroids ({ncentroids}) and {MIN_TRAINING_THRESHOLD}, so use >= {floor}"
            )
        result["training_threshold"] = threshold
    elif ncentroids * MIN_POINTS_PER_CENTROID < MIN_TRAINING_THRESHOLD:
        raise param_error(
            f"{owner} ncentroids {ncentroids} x {MIN_POINTS_PER_CENTROID} is below "
            f"{MIN_TRAINING_THRESHOLD}; use ncentroids >= 7 or set training_threshold >= "
            f"{MIN_TRAINING_THRESHOLD}"
        )
    return result


class TrainedIndex(VectorIndex):
    """An index trained on the stored vectors; exact search until it is trained."""

    persistent = True
    saves_vectors = False
    needs_training = True

    def __init__(self, dimension: int, metric: Metric, params: dict[str, Any]) -> None:
        super().__init__(dimension, metric, params)
        self._vectors = VectorBuffer(dimension)
        self._index: faiss.Index | None = None
        #: Set by the indexer while it trains a faiss index for this object.
        self.training = False
        #: Set by ``Space.rebuild_index``: train a new faiss index and swap it in.
        self.rebuild_requested = False
        #: Indexed rows when the inverted lists were last laid out afresh (see list_layout).
        self._laid_out_rows = 0
        self._parameters = ParameterCache(lambda nprobe: faiss.SearchParametersIVF(nprobe=nprobe))

    @property
    def training_threshold(self) -> int:
        """Live documents needed before training starts."""
        threshold = self.params.get("training_threshold")
        if threshold:
            return int(threshold)
        return max(self.params["ncentroids"] * DEFAULT_POINTS_PER_CENTROID, MIN_TRAINING_THRESHOLD)

    @property
    def ntotal(self) -> int:
        return len(self._vectors)

    @property
    def trained(self) -> bool:
        return self._index is not None

    @property
    def indexed_count(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    @property
    def index_status(self) -> int:
        if self._index is not None:
            return INDEXED
        return INDEXING if self.training else UNINDEXED

    def add(self, vectors: np.ndarray) -> None:
        self._vectors.extend(vectors)

    def vectors_view(self) -> np.ndarray:
        return self._vectors.view()

    # Training, run by the indexer.

    @abstractmethod
    def new_faiss_index(self) -> faiss.Index:
        """Return an empty, untrained faiss index for these parameters."""

    def train_faiss_index(self, sample: np.ndarray) -> faiss.Index:
        """Return a new faiss index trained on ``sample``; touches no state of this object."""
        index = self.new_faiss_index()
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        return index

    def training_cap(self) -> int:
        """Largest training sample worth passing to faiss."""
        return max(self.params["ncentroids"] * MAX_POINTS_PER_CENTROID, MIN_TRAINING_THRESHOLD)

    def install(self, index: faiss.Index) -> None:
        """Use the trained ``index``, which contains rows ``[0, index.ntotal)`` of this field."""
        if index.ntotal > self.ntotal:
            raise ValueError(
                f"the index contains {index.ntotal} rows but the field only {self.ntotal}"
            )
        self._index = index
        self._laid_out_rows = 0
        self.rebuild_requested = False

    def catch_up(self, max_rows: int) -> int:
        """Add up to ``max_rows`` rows the faiss index lacks; return how many were added."""
        if self._index is None:
            return 0
        start = self.indexed_count
        stop = min(self.ntotal, start + max_rows)
        if stop > start:
            self._index.add(np.ascontiguousarray(self._vectors.view()[start:stop]))
        return stop - start

    # Memory layout of the lists, refreshed by the indexer when no rows are arriving.

    @property
    def relayout_due(self) -> bool:
        """True when the index contains every row and 1% or more were added since its layout."""
        if self._index is None:
            return False
        indexed = self.indexed_count
        grown = indexed - self._laid_out_rows
        return indexed == self.ntotal and grown > 0 and grown >= indexed // 100

    def compact_lists(self) -> tuple[faiss.Index, faiss.ArrayInvertedLists] | None:
        """Return the faiss index and a fresh copy of its lists; call without the space lock.

        Only the indexer adds rows to the faiss index, so its lists do not
        change while the indexer copies them.
        """
        index = self._index
        if index is None:
            return None
        lists = compact_lists(index)
        if lists is None:
            self._laid_out_rows = int(index.ntotal)
            return None
        return index, lists

    def install_lists(self, index: faiss.Index, lists: faiss.ArrayInvertedLists) -> bool:
        """Use ``lists`` if ``index`` is still this field's index; call with the space lock."""
        if index is not self._index:
            return False
        install_lists(index, lists)
        self._laid_out_rows = int(index.ntotal)
        return True

    # Persistence.

    def serialize(self) -> np.ndarray | None:
        if self._index is None:
            return None
        return faiss.serialize_index(self._index)

    def restore(self, data: np.ndarray) -> None:
        try:
            index = faiss.deserialize_index(data)
        except RuntimeError as error:
            raise ValueError(f"the saved {self.type_name} index is unreadable: {error}") from error
        self._check_loaded(index)
        if not index.is_trained or index.d != self.dimension:
            raise ValueError(
                f"the saved index is not a trained index of dimension {self.dimension}"
            )
        if index.metric_type != self.metric.faiss_metric:
            raise ValueError(f"the saved index does not use metric {self.metric.value}")
        if index.ntotal > self.ntotal:
            raise ValueError(
                f"the saved index contains {index.ntotal} rows but the field only {self.ntotal}"
            )
        self._index = index
        # Reading an index allocates each list once, which is the fresh layout.
        self._laid_out_rows = int(index.ntotal)

    @abstractmethod
    def _check_loaded(self, index: faiss.Index) -> None:
        """Raise ValueError unless ``index`` has this backend's faiss type and parameters."""

    def compacted(self, rows: np.ndarray) -> TrainedIndex:
        """Return the live ``rows`` with the trained structure kept but no row indexed yet.

        The indexer adds the rows again in the background; until then they
        are searched exactly, so nothing is retrained.
        """
        index = type(self)(self.dimension, self.metric, self.params)
        if rows.size:
            index.add(np.ascontiguousarray(self._vectors.view()[rows]))
        if self._index is not None:
            empty = faiss.clone_index(self._index)
            empty.reset()
            index._index = empty
        return index

    # Search.

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        search_params: dict[str, Any],
    ) -> SearchResult:
        if self._index is None:
            return self.exact_search(queries, k, allowed)
        indexed = self.indexed_count
        nprobe = search_params.get("nprobe", self.params["nprobe"])
        if type(nprobe) is not int or nprobe < 1:
            nprobe = int_param(search_params, "nprobe", self.params["nprobe"], owner=self.type_name)
            assert nprobe is not None
        if allowed is None:
            result = self._search_index(queries, k, nprobe, None, search_params)
        else:
            allowed_count = int(np.count_nonzero(allowed[: self.ntotal]))
            if allowed_count <= _EXACT_MAX_ROWS:
                return self.exact_search(queries, k, allowed)
            selector, bits = self._selector_params(allowed, indexed)
            result = self._search_index(queries, k, nprobe, selector, search_params)
            del bits  # the selector reads this buffer until the search returns
            expected = min(k, int(np.count_nonzero(allowed[:indexed])))
            if any(len(rows) < expected for rows in result.rows):
                # The probed lists hold too few matching rows; scan the matches exactly.
                return self.exact_search(queries, k, allowed)
        if indexed < self.ntotal:
            tail = self.exact_search(queries, k, allowed, first_row=indexed)
            result = merge_results(result, tail, k, self.metric)
        return result

    def _search_index(
        self,
        queries: np.ndarray,
        k: int,
        nprobe: int,
        selector: faiss.IDSelector | None,
        search_params: dict[str, Any],
    ) -> SearchResult:
        """Search the faiss index (rows ``[0, indexed_count)``)."""
        assert self._index is not None
        if self._index.ntotal == 0:
            empty = [np.empty(0, dtype=np.int64) for _ in range(len(queries))]
            return SearchResult(empty, [np.empty(0, dtype=np.float32) for _ in queries])
        if selector is None:
            parameters = self._parameters.get(nprobe)
        else:
            parameters = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
        distances, labels = search_faiss(self._index, queries, k, parameters)
        return trim_faiss_result(distances, labels)
