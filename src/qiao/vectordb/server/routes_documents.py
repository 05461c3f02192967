"""Router routes: ``/document/*`` and ``/index/*`` (Vearch's ``doc_http.go``).

The HTTP status of each error follows Vearch's router. A body that does not
bind gives 400 with code 1, and an unknown database or space gives 500 with
code 6. Failed request checks give 400, except 441 (too many ids in a query,
422) and 460 (search without vectors, 500). Upsert validation errors give
500. Failures while a query or delete runs give 422, and in a search 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.index.base import INDEXED
from qiao.vectordb.server import body_fields as fields
from qiao.vectordb.server.auth import authorize
from qiao.vectordb.server.body import bind_body, read_json, request_body
from qiao.vectordb.server.envelope import ApiError, success
from qiao.vectordb.server.openapi_docs import ENVELOPE_RESPONSES
from qiao.vectordb.server.state import (
    call_engine,
    get_state,
    resolve_document_space,
)

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)

# Request-check codes that query, search and delete return with HTTP 400.
_REQUEST_CHECK_CODES = frozenset(
    {
        ErrorCode.PARAM_ERROR,
        ErrorCode.CONFIG_ERROR,
        ErrorCode.FILTER_OPERATOR_TYPE_ERR,
        ErrorCode.FILTER_CONDITION_OPERATOR_TYPE_ERR,
        ErrorCode.QUERY_INVALID_PARAMS_SHOULD_HAVE_ONE_OF_DOCUMENT_IDS_OR_FILTER,
        ErrorCode.QUERY_INVALID_PARAMS_BOTH_DOCUMENT_IDS_AND_FILTER,
        ErrorCode.DELETE_INVALID_PARAMS_BOTH_DOCUMENT_IDS_AND_FILTER,
        ErrorCode.DELETE_INVALID_PARAMS_LENGTH_OF_DOCUMENT_IDS_BEYOND_500,
        ErrorCode.DELETE_INVALID_PARAMS_SHOULD_HAVE_ONE_OF_DOCUMENT_IDS_OR_FILTER,
        ErrorCode.PRIMARY_KEY_IS_INVALID,
    }
)
_STATUS_OVERRIDES = {
    ErrorCode.QUERY_INVALID_PARAMS_LENGTH_OF_DOCUMENT_IDS_BEYOND_500: 422,
    ErrorCode.SEARCH_INVALID_PARAMS_SHOULD_HAVE_VECTOR_FIELD: 500,
    ErrorCode.TIMEOUT: 504,
}


def _document_error(error: VectorDBError, execution_status: int) -> ApiError:
    """Return the API error of a failed query, search or delete."""
    if error.code in _STATUS_OVERRIDES:
        return ApiError.from_error(error, _STATUS_OVERRIDES[error.code])
    if error.code in _REQUEST_CHECK_CODES:
        return ApiError.from_error(error, 400)
    return ApiError.from_error(error, execution_status)


async def _space_request(request: Request, body_fields: tuple) -> tuple[dict[str, Any], Any]:
    body = bind_body(await read_json(request), body_fields)
    state = get_state(request)
    db_name, space_name = body.get("db_name", ""), body.get("space_name", "")
    # An open space needs no worker thread; opening one or resolving an alias reads files.
    space = state.engine._loaded_space(db_name, space_name)
    if space is None:
        space = await call_engine(request, resolve_document_space, state, db_name, space_name)
    return body, space


async def _space_call(
    request: Request, method: Any, *args: Any, quick: bool = False, **kwargs: Any
) -> Any:
    """Run ``method`` of a resolved space; a space dropped meanwhile is an unknown space.

    A request that resolved its space just before a concurrent drop reaches the
    closed space, which raises SPACE_NOT_EXIST. The answer is then the one an
    unknown space gets on a document call: HTTP 500 with code 6. With
    ``quick`` the call runs on the event loop thread when the space is
    indexed and no other thread holds its lock, and in a worker thread otherwise.
    """
    try:
        if quick:
            space = method.__self__
            with space.lock_if_free() as free:
                if free and space.index_progress()[0] == INDEXED:
                    return method(*args, **kwargs)
        return await call_engine(request, method, *args, **kwargs)
    except VectorDBError as error:
        if error.code == ErrorCode.SPACE_NOT_EXIST:
            logger.info("%s %s: %s", request.method, request.url.path, error.msg)
            raise ApiError.from_error(error, 500, int(ErrorCode.PARAM_ERROR)) from None
        raise


def _optional(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: body[name] for name in names if name in body}


@router.post(
    "/document/upsert",
    summary="Insert or update documents",
    openapi_extra=request_body(fields.UPSERT, ("db_name", "space_name", "documents")),
)
async def upsert_documents(request: Request) -> Any:
    body, space = await _space_request(request, fields.UPSERT)
    try:
        ids = await _space_call(
            request, space.upsert, body.get("documents"), partitions=body.get("partitions")
        )
    except VectorDBError as error:
        # Vearch's router returns document parse errors with HTTP 500 (NewErrInternal).
        raise ApiError.from_error(error, 500) from None
    return success(request, {"total": len(ids), "document_ids": [{"_id": i} for i in ids]})


_QUERY_OPTIONS = (
    "partition_id",
    "get_by_hash",
    "next",
    "partition_names",
    "sort",
    "page_size",
    "page_num",
    "offset",
)


@router.post(
    "/document/query",
    summary="Get documents by id or by filter",
    openapi_extra=request_body(fields.QUERY, ("db_name", "space_name")),
)
async def query_documents(request: Request) -> Any:
    body, space = await _space_request(request, fields.QUERY)
    try:
        documents = await _space_call(
            request,
            space.query,
            body.get("document_ids"),
            body.get("filters"),
            body.get("fields"),
            body.get("limit", 50),
            body.get("vector_value", False),
            **_optional(body, _QUERY_OPTIONS),
        )
    except VectorDBError as error:
        raise _document_error(error, 422) from None
    return success(request, {"total": len(documents), "documents": documents})


_SEARCH_OPTIONS = (
    "is_brute_search",
    "ranker",
    "partition_names",
    "sort",
    "page_size",
    "page_num",
    "offset",
)


@router.post(
    "/document/search",
    summary="Search documents by vector similarity",
    openapi_extra=request_body(fields.SEARCH, ("db_name", "space_name", "vectors")),
)
async def search_documents(request: Request) -> Any:
    body, space = await _space_request(request, fields.SEARCH)
    try:
        results = await _space_call(
            request,
            space.search,
            body.get("vectors"),
            quick=_is_quick_search(request, space, body),
            filters=body.get("filters"),
            limit=body.get("limit", 50),
            fields=body.get("fields"),
            index_params=body.get("index_params"),
            l2_sqrt=body.get("l2_sqrt", False),
            vector_value=body.get("vector_value", False),
            **_optional(body, _SEARCH_OPTIONS),
        )
    except VectorDBError as error:
        raise _document_error(error, 500) from None
    return success(request, {"documents": results})


def _is_quick_search(request: Request, space: Any, body: dict[str, Any]) -> bool:
    """True for one query vector of the field's dimension, without ``is_brute_search`` or ?timeout.

    On an indexed space such a search takes well under a millisecond at usual
    settings. Running it on the event loop thread saves the hand-off to a
    worker thread and back, which cost 0.17 ms per request on 100,000 vectors
    and 2 cores (benchmarks/vector_http_overhead.py). Any other search, which
    may compare the query with every stored vector or must end at a timeout,
    runs in a worker thread.
    """
    if "timeout" in request.query_params or body.get("is_brute_search"):
        return False
    vectors = body.get("vectors")
    if not isinstance(vectors, list) or len(vectors) != 1 or not isinstance(vectors[0], dict):
        return False
    name, feature = vectors[0].get("field"), vectors[0].get("feature")
    spec = space.schema.get_field(name) if isinstance(name, str) else None
    if spec is None or not spec.is_vector or not isinstance(feature, list):
        return False
    return len(feature) == spec.dimension


@router.post(
    "/document/delete",
    summary="Delete documents by id or by filter",
    openapi_extra=request_body(fields.DELETE, ("db_name", "space_name")),
)
async def delete_documents(request: Request) -> Any:
    body, space = await _space_request(request, fields.DELETE)
    try:
        deleted = await _space_call(
            request, space.delete, body.get("document_ids"), body.get("filters"), body.get("limit")
        )
    except VectorDBError as error:
        raise _document_error(error, 422) from None
    return success(request, {"total": len(deleted), "document_ids": deleted})


def _shards() -> dict[str, Any]:
    # One partition server serves every request of a single-node deployment.
    return {"_shards": {"total": 1, "failed": 0, "successful": 1}}


def _index_error(error: VectorDBError) -> ApiError:
    # A bad request field (such as an unknown partition_id) gives 400, a failure 500.
    return ApiError.from_error(error, 400 if error.code == ErrorCode.PARAM_ERROR else 500)


@router.post(
    "/index/flush",
    summary="Write a snapshot of the space",
    openapi_extra=request_body(fields.INDEX, ("db_name", "space_name")),
)
async def flush_space(request: Request) -> Any:
    _, space = await _space_request(request, fields.INDEX)
    try:
        await _space_call(request, space.flush)
    except VectorDBError as error:
        raise ApiError.from_error(error, 500) from None
    return success(request, _shards())


@router.post(
    "/index/forcemerge",
    summary="Merge index segments",
    openapi_extra=request_body(fields.INDEX, ("db_name", "space_name")),
)
async def forcemerge_space(request: Request) -> Any:
    body, space = await _space_request(request, fields.INDEX)
    try:
        await _space_call(request, space.forcemerge, partition_id=body.get("partition_id"))
    except VectorDBError as error:
        raise _index_error(error) from None
    return success(request, _shards())


@router.post(
    "/index/rebuild",
    summary="Rebuild the vector indexes",
    openapi_extra=request_body(fields.INDEX, ("db_name", "space_name")),
)
async def rebuild_index(request: Request) -> Any:
    body, space = await _space_request(request, fields.INDEX)
    try:
        await _space_call(
            request,
            space.rebuild_index,
            drop_before_rebuild=body.get("drop_before_rebuild", False),
            limit_cpu=body.get("limit_cpu", 0),
            describe=body.get("describe", 0),
            partition_id=body.get("partition_id"),
        )
    except VectorDBError as error:
        raise _index_error(error) from None
    return success(request, _shards())
