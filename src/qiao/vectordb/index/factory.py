"""Choice of the vector index backend by Vearch index type."""

from __future__ import annotations

from typing import Any

import numpy as np

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.index.base import VectorIndex, parse_metric
from qiao.vectordb.index.flat import FlatIndex
from qiao.vectordb.index.hnsw import HnswIndex
from qiao.vectordb.index.ivfflat import IvfFlatIndex
from qiao.vectordb.index.ivfpq import IvfPqIndex

__all__ = [
    "SUPPORTED_VECTOR_INDEX_TYPES",
    "VECTOR_INDEX_TYPES",
    "create_vector_index",
    "is_persistent",
    "load_vector_index",
    "validate_vector_index",
]

# Every vector index type Vearch v3.5.x accepts in a schema.
VECTOR_INDEX_TYPES = frozenset(
    {
        "FLAT",
        "IVFPQ",
        "IVFFLAT",
        "HNSW",
        "IVFRABITQ",
        "DISKANN_STATIC",
        "BINARYIVF",
        "GPU_IVFPQ",
        "GPU_IVFFLAT",
        "SSG",
        "IVFPQ_RELAYOUT",
        "SCANN",
    }
)
_BACKENDS: dict[str, type[VectorIndex]] = {
    "FLAT": FlatIndex,
    "HNSW": HnswIndex,
    "IVFFLAT": IvfFlatIndex,
    "IVFPQ": IvfPqIndex,
}
SUPPORTED_VECTOR_INDEX_TYPES = frozenset(_BACKENDS)


def _backend(index_type: str) -> type[VectorIndex]:
    backend = _BACKENDS.get(index_type)
    if backend is None:
        raise VectorDBError(
            ErrorCode.PARAM_ERROR,
            f"vector index type {index_type} is not supported by this engine yet; "
            f"use one of {sorted(_BACKENDS)}",
        )
    return backend


def validate_vector_index(
    index_type: str, params: dict[str, Any], dimension: int
) -> dict[str, Any]:
    """Return the index parameters with defaults filled in, or raise PARAM_ERROR."""
    return _backend(index_type).validate_params(params, dimension)


def create_vector_index(index_type: str, params: dict[str, Any], dimension: int) -> VectorIndex:
    """Return an empty index of ``index_type`` for vectors of ``dimension``."""
    backend = _backend(index_type)
    metric = parse_metric(params["metric_type"])
    return backend(dimension, metric, params)


def is_persistent(index_type: str) -> bool:
    """Return True when indexes of ``index_type`` are saved with snapshots."""
    return _backend(index_type).persistent


def load_vector_index(
    index_type: str, params: dict[str, Any], dimension: int, data: np.ndarray
) -> VectorIndex:
    """Rebuild a persistent index from its saved bytes; raise ValueError when they do not fit."""
    backend = _backend(index_type)
    if not backend.persistent:
        raise ValueError(f"{index_type} indexes are not saved")
    return backend.deserialize(data, dimension, parse_metric(params["metric_type"]), params)
