"""The libraries Qiao is compared with: raw faiss (same index, same parameters) and hnswlib.

Each builder inserts the base vectors in the batches Qiao's benchmark uses
and returns a search function of ``(query, setting)``, where the setting is
efSearch (HNSW) or nprobe (IVF). Given one query vector it returns that
query's hit ids; given a 2-D array of queries, one row of ids per query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.vector_harness import INGEST_BATCH, Build, measured

Searcher = Callable[[np.ndarray, int], np.ndarray]


def faiss_hnsw(base: np.ndarray, k: int, params: dict[str, Any]) -> tuple[Searcher, Build]:
    """Build a faiss IndexHNSWFlat with Qiao's HNSW parameters (nlinks is faiss's M)."""
    import faiss

    with measured() as cost:
        index = faiss.IndexHNSWFlat(base.shape[1], params["nlinks"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["efConstruction"]
        for start in range(0, len(base), INGEST_BATCH):
            index.add(base[start : start + INGEST_BATCH])

    def search(query: np.ndarray, ef_search: int) -> np.ndarray:
        parameters = faiss.SearchParametersHNSW(efSearch=max(ef_search, k))
        _, labels = index.search(np.atleast_2d(query), k, params=parameters)
        return labels[0] if query.ndim == 1 else labels

    return search, Build(cost["seconds"], int(cost["rss_delta"]))


def faiss_ivf(base: np.ndarray, k: int, params: dict[str, Any]) -> tuple[Searcher, Build]:
    """Build a faiss IndexIVFFlat trained on the first ``training_threshold`` vectors."""
    import faiss

    with measured() as cost:
        quantizer = faiss.IndexFlatIP(base.shape[1])
        index = faiss.IndexIVFFlat(
            quantizer, base.shape[1], params["ncentroids"], faiss.METRIC_INNER_PRODUCT
        )
        index.train(base[: params["training_threshold"]])
        for start in range(0, len(base), INGEST_BATCH):
            index.add(base[start : start + INGEST_BATCH])

    def search(query: np.ndarray, nprobe: int) -> np.ndarray:
        parameters = faiss.SearchParametersIVF(nprobe=nprobe)
        _, labels = index.search(np.atleast_2d(query), k, params=parameters)
        return labels[0] if query.ndim == 1 else labels

    return search, Build(cost["seconds"], int(cost["rss_delta"]))


def hnswlib_hnsw(
    base: np.ndarray, k: int, params: dict[str, Any], threads: int
) -> tuple[Searcher, Build]:
    """Build an hnswlib index with M = nlinks and the same efConstruction."""
    import hnswlib

    with measured() as cost:
        index = hnswlib.Index(space="ip", dim=base.shape[1])
        index.init_index(
            max_elements=len(base), M=params["nlinks"], ef_construction=params["efConstruction"]
        )
        index.set_num_threads(threads)
        for start in range(0, len(base), INGEST_BATCH):
            batch = base[start : start + INGEST_BATCH]
            index.add_items(batch, np.arange(start, start + len(batch)))

    def search(query: np.ndarray, ef_search: int) -> np.ndarray:
        index.set_ef(max(ef_search, k))
        labels, _ = index.knn_query(query, k=k)
        return labels[0].astype(np.int64) if query.ndim == 1 else labels.astype(np.int64)

    return search, Build(cost["seconds"], int(cost["rss_delta"]))
