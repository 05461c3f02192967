"""Vector search requests: parsing the query vectors, scoring and merging several vector fields.

Scores follow Vearch: for L2 the squared distance (its square root with
``l2_sqrt``), smallest first; for InnerProduct the dot product, largest
first. With several vector fields only documents found in every field's
top hits remain, scored by the weighted sum of their per-field scores.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.fields import FieldSpec
from qiao.vectordb.index import Metric, SearchResult, VectorIndex
from qiao.vectordb.index.base import INDEXED, parse_metric
from qiao.vectordb.schema import SpaceSchema

__all__ = [
    "BRUTE_FORCE_SEARCH_THRESHOLD",
    "FieldHits",
    "VectorQuery",
    "check_index_params",
    "merge_fields",
    "parse_vector_queries",
    "search_field",
    "use_brute_force",
]

# Vearch's brute_force_search_threshold (gamma_common_data.h): an untrained index
# with more documents than this rejects searches that do not ask for brute force.
BRUTE_FORCE_SEARCH_THRESHOLD = 100
_POSITIVE_INT_PARAMS = ("nprobe", "recall_num", "efSearch", "fetch_batch_size")


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


@dataclass
class VectorQuery:
    """The query vectors for one vector field, shape ``(nq, dimension)``."""

    field: FieldSpec
    queries: np.ndarray
    min_score: float | None = None
    max_score: float | None = None


@dataclass
class FieldHits:
    """Per-query hits of one field, best first, with the metric that scored them."""

    result: SearchResult
    metric: Metric


def parse_vector_queries(schema: SpaceSchema, vectors: object) -> list[VectorQuery]:
    """Validate the ``vectors`` of a search request; all must hold the same number of queries."""
    if not vectors:
        raise VectorDBError(
            ErrorCode.SEARCH_INVALID_PARAMS_SHOULD_HAVE_VECTOR_FIELD,
            "search needs vectors=[{'field': <vector field>, 'feature': [numbers]}]",
        )
    if not isinstance(vectors, list | tuple):
        raise _param_error(f"vectors must be a list of objects, got {type(vectors).__name__}")
    parsed = [_parse_vector_query(schema, entry) for entry in vectors]
    if len(parsed) == 1:
        return parsed
    counts = {len(query.queries) for query in parsed}
    if len(counts) > 1:
        raise _param_error(
            f"every vector field must have the same number of query vectors, got {sorted(counts)}"
        )
    return parsed


def _parse_vector_query(schema: SpaceSchema, entry: object) -> VectorQuery:
    if not isinstance(entry, dict):
        raise _param_error(f"each entry of vectors must be an object, got {entry!r}")
    name = entry.get("field")
    spec = schema.get_field(name) if isinstance(name, str) else None
    if spec is None:
        raise _param_error(f"field {name!r} is not a field of space {schema.name!r}")
    if not spec.is_vector:
        raise _param_error(f"field {name!r} is not a vector field")

    feature = entry.get("feature")
    if type(feature) is np.ndarray:
        array = feature
    else:
        if feature is None or (isinstance(feature, list | tuple) and not feature):
            raise _param_error(f"vector field {name!r}: feature is empty")
        if isinstance(feature, list | tuple) and not all(
            isinstance(item, numbers.Real) and not isinstance(item, bool) for item in feature
        ):
            # Vearch reads feature as a flat float32 array: no strings, booleans or nested lists.
            raise _param_error(
                f"vector field {name!r}: feature must be a flat list of numbers (nq x dimension)"
            )
        array = np.asarray(feature)
    if array.dtype.kind not in "fiu":
        raise _param_error(f"vector field {name!r}: feature must contain only numbers")
    # No copy when the caller passes float32; nothing below writes into the array.
    flat = array.astype(np.float32, copy=False).ravel()
    if not flat.size:
        raise _param_error(f"vector field {name!r}: feature is empty")
    if flat.size % spec.dimension:
        raise _param_error(
            f"vector field {name!r}: feature length {flat.size} is not a multiple of the "
            f"dimension {spec.dimension}"
        )
    # A finite dot product proves every value finite in one BLAS call; an overflow
    # of large but finite values falls back to the element-wise check.
    if not math.isfinite(flat @ flat) and not np.isfinite(flat).all():
        raise _param_error(f"vector field {name!r}: feature contains NaN or infinite values")

    queries = np.ascontiguousarray(flat.reshape(-1, spec.dimension))
    if spec.normalizes:
        norms = np.linalg.norm(queries, axis=1, keepdims=True)
        queries = np.ascontiguousarray(queries / np.where(norms == 0, 1, norms))
    return VectorQuery(
        spec,
        queries,
        _optional_number(entry, "min_score"),
        _optional_number(entry, "max_score"),
    )


def _optional_number(entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _param_error(f"{key} must be a number, got {value!r}")
    return float(value)


def search_field(
    index: VectorIndex,
    query: VectorQuery,
    k: int,
    allowed: np.ndarray | None,
    index_params: dict[str, Any],
    *,
    brute_force: bool,
    l2_sqrt: bool,
) -> FieldHits:
    """Search one vector field and apply ``l2_sqrt`` and the min/max score bounds."""
    metric = index.metric
    if "metric_type" in index_params:
        metric = parse_metric(index_params["metric_type"])
    if brute_force or metric is not index.metric:
        result = index.exact_search(query.queries, k, allowed, metric)
    else:
        result = index.search(query.queries, k, allowed, index_params)
    # faiss's float32 scores become the same Python floats as float64 ones when rendered;
    # the square root and the score bounds are computed in float64.
    scores = result.scores
    bounded = query.min_score is not None or query.max_score is not None
    if bounded or l2_sqrt:
        scores = [score.astype(np.float64) for score in scores]
    if l2_sqrt and metric is Metric.L2:
        scores = [np.sqrt(np.maximum(score, 0.0)) for score in scores]
    rows = result.rows
    if bounded:
        low = -np.inf if query.min_score is None else query.min_score
        high = np.inf if query.max_score is None else query.max_score
        keep = [(score >= low) & (score <= high) for score in scores]
        rows = [row[mask] for row, mask in zip(rows, keep, strict=True)]
        scores = [score[mask] for score, mask in zip(scores, keep, strict=True)]
    return FieldHits(SearchResult(rows, scores), metric)


def check_index_params(index_params: object) -> dict[str, Any]:
    """Validate a search's ``index_params``; unknown keys are ignored, as in Vearch."""
    if index_params is None:
        return {}
    if not isinstance(index_params, dict):
        raise _param_error(f"index_params must be an object, got {index_params!r}")
    if "metric_type" in index_params:
        parse_metric(index_params["metric_type"])
    for key in _POSITIVE_INT_PARAMS:
        value = index_params.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise _param_error(f"index_params {key} must be a positive integer, got {value!r}")
    return dict(index_params)


def use_brute_force(
    is_brute_search: object,
    index_status: int,
    max_docid: int,
    enable_realtime: bool,
    space_name: str,
) -> bool:
    """Return True when a search must compare the query with every vector.

    Follows Vearch's engine (``engine.cc``): 1 forces brute force; 2 uses it
    while the index is not built; 0 uses the index, and fails while the
    index is not built and the space holds more than 100 documents, unless
    ``enable_realtime`` is set.
    """
    if is_brute_search is None:
        is_brute_search = 0
    elif isinstance(is_brute_search, bool):
        is_brute_search = int(is_brute_search)
    if is_brute_search not in (0, 1, 2):
        raise _param_error(f"is_brute_search must be 0, 1 or 2, got {is_brute_search!r}")
    if is_brute_search == 1:
        return True
    if index_status == INDEXED:
        return False
    if is_brute_search == 2 or enable_realtime or max_docid <= BRUTE_FORCE_SEARCH_THRESHOLD:
        return True
    # NOTE: the detail repeats the line Vearch's engine.cc logs for this case; the
    # detail Vearch's router puts after "search_engine_err" may read differently.
    raise VectorDBError(
        ErrorCode.SEARCH_ENGINE_ERR,
        f"{space_name} index not trained, brute_force_search is 0, max_docid_ = {max_docid}, "
        f"threshold = {BRUTE_FORCE_SEARCH_THRESHOLD}; wait until index_status is 2 or search "
        "with is_brute_search 1 or 2",
    )


def parse_weights(ranker: object, field_count: int) -> list[float]:
    """Return the per-field weights of a WeightedRanker, or equal weights without one."""
    if ranker is None or field_count == 1:
        return [1.0 / field_count] * field_count
    if not isinstance(ranker, dict) or ranker.get("type") != "WeightedRanker":
        raise _param_error(f"ranker {ranker!r} is not supported; use type 'WeightedRanker'")
    weights = ranker.get("params")
    if (
        not isinstance(weights, list)
        or len(weights) != field_count
        or not all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights)
    ):
        raise _param_error(f"WeightedRanker params must be {field_count} numbers, got {weights!r}")
    return [float(weight) for weight in weights]


def merge_fields(
    hits: list[FieldHits], weights: list[float], limit: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return per query the rows found by every field and their weighted score sums, best first."""
    higher_is_better = hits[0].metric.higher_is_better
    merged = []
    for query in range(len(hits[0].result.rows)):
        totals: dict[int, float] = {}
        for position, field_hits in enumerate(hits):
            rows = field_hits.result.rows[query].tolist()
            scores = field_hits.result.scores[query].tolist()
            found = dict(zip(rows, scores, strict=True))
            if position == 0:
                totals = {row: weights[0] * score for row, score in found.items()}
            else:
                totals = {
                    row: total + weights[position] * found[row]
                    for row, total in totals.items()
                    if row in found
                }
        ordered = sorted(totals.items(), key=lambda item: item[1], reverse=higher_is_better)
        ordered = ordered[:limit]
        merged.append(
            (
                np.array([row for row, _ in ordered], dtype=np.int64),
                np.array([score for _, score in ordered], dtype=np.float64),
            )
        )
    return merged
