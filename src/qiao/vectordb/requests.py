"""Checks of document request arguments for which Vearch returns specific error codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.filters import Filter, parse_filter
from qiao.vectordb.schema import SpaceSchema

__all__ = [
    "MAX_REQUEST_IDS",
    "id_list",
    "parse_delete_target",
    "parse_query_target",
    "positive_limit",
]

# Vearch rejects query and delete requests with this many ids or more.
MAX_REQUEST_IDS = 500


def positive_limit(limit: object, name: str = "limit") -> int:
    """Return ``limit`` if it is a positive integer, else raise PARAM_ERROR."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise VectorDBError(
            ErrorCode.PARAM_ERROR, f"{name} must be a positive integer, got {limit!r}"
        )
    return limit


def id_list(ids: object, argument: str) -> list[str]:
    """Return ``ids`` as a list if it is a sequence of strings, else raise PARAM_ERROR."""
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise VectorDBError(
            ErrorCode.PARAM_ERROR, f"{argument} must be a list of strings, got {ids!r}"
        )
    for doc_id in ids:
        if not isinstance(doc_id, str):
            raise VectorDBError(
                ErrorCode.PARAM_ERROR, f"{argument} must contain strings, got {doc_id!r}"
            )
    return list(ids)


def _parse_target(
    schema: SpaceSchema,
    document_ids: object,
    filters: dict[str, Any] | None,
    codes: tuple[ErrorCode, ErrorCode, ErrorCode],
) -> tuple[list[str] | None, Filter | None]:
    both, too_many, neither = codes
    if document_ids and filters:
        raise VectorDBError(both, "send either document_ids or filters, not both")
    if document_ids:
        ids = id_list(document_ids, "document_ids")
        if len(ids) >= MAX_REQUEST_IDS:
            raise VectorDBError(
                too_many, f"{len(ids)} document_ids; send fewer than {MAX_REQUEST_IDS} per request"
            )
        return ids, None
    parsed = parse_filter(filters, schema)
    if parsed is None:
        raise VectorDBError(neither, "send document_ids or filters with at least one condition")
    return None, parsed


def parse_delete_target(
    schema: SpaceSchema, document_ids: object, filters: dict[str, Any] | None
) -> tuple[list[str] | None, Filter | None]:
    """Return the ids or the filter of a delete request; exactly one of them is set."""
    codes = (
        ErrorCode.DELETE_INVALID_PARAMS_BOTH_DOCUMENT_IDS_AND_FILTER,
        ErrorCode.DELETE_INVALID_PARAMS_LENGTH_OF_DOCUMENT_IDS_BEYOND_500,
        ErrorCode.DELETE_INVALID_PARAMS_SHOULD_HAVE_ONE_OF_DOCUMENT_IDS_OR_FILTER,
    )
    return _parse_target(schema, document_ids, filters, codes)


def parse_query_target(
    schema: SpaceSchema, document_ids: object, filters: dict[str, Any] | None
) -> tuple[list[str] | None, Filter | None]:
    """Return the ids or the filter of a query request; exactly one of them is set."""
    codes = (
        ErrorCode.QUERY_INVALID_PARAMS_BOTH_DOCUMENT_IDS_AND_FILTER,
        ErrorCode.QUERY_INVALID_PARAMS_LENGTH_OF_DOCUMENT_IDS_BEYOND_500,
        ErrorCode.QUERY_INVALID_PARAMS_SHOULD_HAVE_ONE_OF_DOCUMENT_IDS_OR_FILTER,
    )
    return _parse_target(schema, document_ids, filters, codes)
