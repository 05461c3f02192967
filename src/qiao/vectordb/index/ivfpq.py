"""IVFPQ index: faiss IndexIVFPQ, product-quantized codes in inverted lists, with re-ranking.

Optional ``"hnsw": {nlinks, efConstruction, efSearch}`` puts the centroids
in an HNSW graph (faster cell assignment with many centroids), and
``"opq": {nsubvector}`` rotates the vectors with an OPQ matrix first.
A search fetches ``recall_num`` candidates (default: ``limit``) from the
compressed codes and re-ranks them with exact distances on the stored
float vectors, so scores are exact, as with FLAT.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from qiao.vectordb.index.base import SearchResult, single_thread
from qiao.vectordb.index.params import int_param, nested_params, param_error
from qiao.vectordb.index.trained import TrainedIndex, validate_ivf_params

__all__ = ["IvfPqIndex"]

DEFAULT_NBITS = 8
NBITS_RANGE = (1, 16)
HNSW_DEFAULTS = {"nlinks": 32, "efConstruction": 200, "efSearch": 64}
NLINKS_RANGE = (8, 96)
EF_CONSTRUCTION_RANGE = (16, 1024)


def _divisor_param(
    params: dict[str, Any], key: str, default: int, dimension: int, owner: str
) -> int:
    value = int_param(params, key, default, owner=owner)
    assert value is not None
    if dimension % value:
        raise param_error(
            f"{owner} {key} {value} does not divide the dimension {dimension}; "
            f"use a divisor of {dimension}"
        )
    return value


class IvfPqIndex(TrainedIndex):
    """IVF with product quantization; candidates are re-ranked on the raw vectors."""

    type_name = "IVFPQ"

    @classmethod
    def validate_params(cls, params: dict[str, Any], dimension: int) -> dict[str, Any]:
        owner = cls.type_name
        result = validate_ivf_params(params, owner)
        default_subvectors = max(dimension // 2, 1)
        result["nsubvector"] = _divisor_param(
            params, "nsubvector", default_subvectors, dimension, owner
        )
        nbits = int_param(
            params,
            "nbits_per_idx",
            DEFAULT_NBITS,
            owner=owner,
            low=NBITS_RANGE[0],
            high=NBITS_RANGE[1],
        )
        result["nbits_per_idx"] = nbits
        hnsw = nested_params(params, "hnsw", owner)
        if hnsw is not None:
            result["hnsw"] = {
                "nlinks": int_param(
                    hnsw,
                    "nlinks",
                    HNSW_DEFAULTS["nlinks"],
                    owner=f"{owner} hnsw",
                    low=NLINKS_RANGE[0],
                    high=NLINKS_RANGE[1],
                ),
                "efConstruction": int_param(
                    hnsw,
                    "efConstruction",
                    HNSW_DEFAULTS["efConstruction"],
                    owner=f"{owner} hnsw",
                    low=EF_CONSTRUCTION_RANGE[0],
                    high=EF_CONSTRUCTION_RANGE[1],
                ),
                "efSearch": int_param(
                    hnsw, "efSearch", HNSW_DEFAULTS["efSearch"], owner=f"{owner} hnsw"
                ),
            }
        opq = nested_params(params, "opq", owner)
        if opq is not None:
            result["opq"] = {
                "nsubvector": _divisor_param(
                    opq, "nsubvector", result["nsubvector"], dimension, f"{owner} opq"
                )
            }
        return result

    def new_faiss_index(self) -> faiss.Index:
        metric = self.metric.faiss_metric
        hnsw = self.params.get("hnsw")
        if hnsw:
            quantizer = faiss.IndexHNSWFlat(self.dimension, hnsw["nlinks"], metric)
            quantizer.hnsw.efConstruction = hnsw["efConstruction"]
            quantizer.hnsw.efSearch = hnsw["efSearch"]
        else:
            quantizer = faiss.IndexFlat(self.dimension, metric)
        index = faiss.IndexIVFPQ(
            quantizer,
            self.dimension,
            self.params["ncentroids"],
            self.params["nsubvector"],
            self.params["nbits_per_idx"],
            metric,
        )
        opq = self.params.get("opq")
        if opq:
            matrix = faiss.OPQMatrix(self.dimension, opq["nsubvector"])
            return faiss.IndexPreTransform(matrix, index)
        return index

    def train_faiss_index(self, sample: np.ndarray) -> faiss.Index:
        index = self.new_faiss_index()
        ivf = _ivf_part(index)
        flat = None
        if self.params.get("hnsw"):
            # k-means assigns points with a flat index; the centroids then go into the graph.
            flat = faiss.IndexFlat(self.dimension, self.metric.faiss_metric)
            ivf.clustering_index = flat
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        if flat is not None:
            ivf.clustering_index = None
        return index

    def _check_loaded(self, index: faiss.Index) -> None:
        ivf = _ivf_part(index)
        if not isinstance(ivf, faiss.IndexIVFPQ):
            raise ValueError("the saved index is not an IVFPQ index")
        if bool(self.params.get("opq")) != isinstance(index, faiss.IndexPreTransform):
            raise ValueError("the saved IVFPQ index and the schema disagree about opq")
        if ivf.nlist != self.params["ncentroids"] or ivf.pq.M != self.params["nsubvector"]:
            raise ValueError("the saved IVFPQ index has other ncentroids or nsubvector")

    def _search_index(
        self,
        queries: np.ndarray,
        k: int,
        nprobe: int,
        selector: faiss.IDSelector | None,
        search_params: dict[str, Any],
    ) -> SearchResult:
        assert self._index is not None
        if self._index.ntotal == 0:
            empty = [np.empty(0, dtype=np.int64) for _ in range(len(queries))]
            return SearchResult(empty, [np.empty(0, dtype=np.float32) for _ in queries])
        recall = int_param(search_params, "recall_num", k, owner=self.type_name)
        assert recall is not None
        # faiss allocates ``fetch`` results per query up front; more than the index holds is waste.
        fetch = min(max(recall, k), self._index.ntotal)
        options: dict[str, Any] = {"nprobe": nprobe}
        if selector is not None:
            options["sel"] = selector
        hnsw = self.params.get("hnsw")
        if hnsw:
            ef_search = int_param(search_params, "efSearch", hnsw["efSearch"], owner="IVFPQ hnsw")
            # The centroid graph has ncentroids nodes; a larger heap only costs memory.
            ef_search = min(ef_search, max(self.params["ncentroids"], nprobe))
            options["quantizer_params"] = faiss.SearchParametersHNSW(efSearch=ef_search)
        ivf = _ivf_part(self._index)
        transformed = queries
        if isinstance(self._index, faiss.IndexPreTransform):
            for position in range(self._index.chain.size()):
                transform = faiss.downcast_VectorTransform(self._index.chain.at(position))
                transformed = transform.apply(transformed)
        parameters = faiss.SearchParametersIVF(**options)
        with single_thread(len(queries)):
            _, labels = ivf.search(transformed, fetch, params=parameters)
        return self._rerank(queries, labels, k)

    def _rerank(self, queries: np.ndarray, labels: np.ndarray, k: int) -> SearchResult:
        """Order each query's candidates by exact distance on the raw vectors; keep ``k``."""
        view = self.vectors_view()
        rows, scores = [], []
        for query, candidates in zip(queries, labels, strict=True):
            candidates = candidates[candidates >= 0]
            vectors = view[candidates]
            if self.metric.higher_is_better:
                exact = vectors @ query
                order = np.argsort(-exact, kind="stable")[:k]
            else:
                exact = ((vectors - query) ** 2).sum(axis=1)
                order = np.argsort(exact, kind="stable")[:k]
            rows.append(candidates[order].astype(np.int64))
            scores.append(exact[order].astype(np.float32))
        return SearchResult(rows, scores)


def _ivf_part(index: faiss.Index) -> faiss.Index:
    """Return the IndexIVFPQ inside an optional OPQ IndexPreTransform."""
    if isinstance(index, faiss.IndexPreTransform):
        return faiss.downcast_index(index.index)
    return index
