"""Paging and sorting of query and search results.

Vearch v3.5 accepts ``sort``, ``page_size``, ``page_num`` and ``offset`` on
query and search requests. This engine reads them as follows:

- ``offset`` skips that many results, then ``limit`` are returned.
- Without ``offset``, ``page_size`` replaces ``limit`` and ``page_num``
  (1-based, default 1) skips ``(page_num - 1) * page_size`` results.
- ``sort`` is a list of ``"field"`` (ascending), ``{"field": "asc" | "desc"}``
  or ``{"field": {"order": "asc" | "desc"}}``, applied in order. A query sorts
  every matching document before paging. A search sorts its hits (the best
  ``offset + limit`` by score) and ``_score`` may be a sort key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.fields import FieldType
from qiao.vectordb.schema import SpaceSchema
from qiao.vectordb.store import DocumentStore

__all__ = ["SortKey", "parse_paging", "parse_sort", "sort_hits", "sort_rows"]

_ORDERS = {"asc": False, "desc": True}


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


def _count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _param_error(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_paging(
    limit: int, page_size: object = None, page_num: object = None, offset: object = None
) -> tuple[int, int]:
    """Return ``(offset, limit)`` of a request from its paging fields."""
    limit = _count(limit, "limit", 1)
    if offset is not None:
        return _count(offset, "offset", 0), limit
    if page_size is None:
        if page_num is not None:
            raise _param_error("page_num needs page_size; send both or neither")
        return 0, limit
    size = _count(page_size, "page_size", 1)
    number = 1 if page_num is None else _count(page_num, "page_num", 1)
    return (number - 1) * size, size


@dataclass(frozen=True)
class SortKey:
    """One sort key: a scalar field, ``_id`` or ``_score``, and its direction."""

    field: str
    descending: bool


def parse_sort(raw: object, schema: SpaceSchema, *, allow_score: bool) -> list[SortKey]:
    """Validate a ``sort`` list; PARAM_ERROR for unknown fields, orders or shapes."""
    if raw is None:
        return []
    entries = raw if isinstance(raw, list) else [raw]
    keys = []
    for entry in entries:
        if isinstance(entry, str):
            name, order = entry, "asc"
        elif isinstance(entry, dict) and len(entry) == 1:
            ((name, order),) = entry.items()
            if isinstance(order, dict):
                order = order.get("order", "asc")
        else:
            raise _param_error(
                f'sort entry {entry!r} is invalid; use "field", {{"field": "desc"}} or '
                '{"field": {"order": "desc"}}'
            )
        if not isinstance(order, str) or order.lower() not in _ORDERS:
            raise _param_error(f"sort order {order!r} of {name!r} is invalid; use asc or desc")
        keys.append(SortKey(_sort_field(name, schema, allow_score), _ORDERS[order.lower()]))
    return keys


def _sort_field(name: object, schema: SpaceSchema, allow_score: bool) -> str:
    if name == "_id" or (allow_score and name == "_score"):
        return name
    spec = schema.get_field(name) if isinstance(name, str) else None
    if spec is None:
        raise _param_error(f"sort field {name!r} is not a field of space {schema.name!r}")
    if spec.is_vector or spec.type is FieldType.STRINGARRAY:
        raise _param_error(
            f"sort field {name!r} has type {spec.type_name}; sort on a single-valued scalar field"
        )
    return name


def _value(store: DocumentStore, row: int, field: str, score: float | None) -> Any:
    if field == "_id":
        return store.ids[row]
    if field == "_score":
        return score
    return store.columns[field].get(row)


def sort_rows(store: DocumentStore, rows: Sequence[int], keys: Sequence[SortKey]) -> list[int]:
    """Return ``rows`` sorted by ``keys``; equal rows keep their order."""
    ordered = list(rows)
    for key in reversed(keys):
        ordered.sort(key=lambda row: _value(store, row, key.field, None), reverse=key.descending)
    return ordered


def sort_hits(
    store: DocumentStore,
    rows: Sequence[int],
    scores: Sequence[float],
    keys: Sequence[SortKey],
) -> tuple[list[int], list[float]]:
    """Return search hits sorted by ``keys``; equal hits keep their score order."""
    hits = list(zip(rows, scores, strict=True))
    for key in reversed(keys):
        hits.sort(key=lambda hit: _value(store, hit[0], key.field, hit[1]), reverse=key.descending)
    return [row for row, _ in hits], [score for _, score in hits]
