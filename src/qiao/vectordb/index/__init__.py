"""Vector index backends behind one interface, chosen by index type."""

from __future__ import annotations

from qiao.vectordb.index.base import Metric, SearchResult, VectorIndex
from qiao.vectordb.index.factory import (
    SUPPORTED_VECTOR_INDEX_TYPES,
    VECTOR_INDEX_TYPES,
    create_vector_index,
    load_vector_index,
    validate_vector_index,
)

__all__ = [
    "SUPPORTED_VECTOR_INDEX_TYPES",
    "VECTOR_INDEX_TYPES",
    "Metric",
    "SearchResult",
    "VectorIndex",
    "create_vector_index",
    "load_vector_index",
    "validate_vector_index",
]
