"""Master routes for databases, spaces and their indexes (Vearch's ``cluster_api.go``)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.server.auth import authorize
from qiao.vectordb.server.body import BodyField, bind_body, read_json, request_body
from qiao.vectordb.server.envelope import ApiError, success
from qiao.vectordb.server.openapi_docs import ENVELOPE_RESPONSES
from qiao.vectordb.server.params import flag
from qiao.vectordb.server.state import call_engine, get_state

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)

_SPACE_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["name", "fields"],
                    "properties": {
                        "name": {"type": "string"},
                        "partition_num": {"type": "integer", "minimum": 1},
                        "replica_num": {"type": "integer", "minimum": 1},
                        "fields": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "type"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "type": {"type": "string"},
                                    "dimension": {"type": "integer"},
                                    "format": {"type": "string"},
                                    "store_type": {"type": "string"},
                                    "index": {"type": "object"},
                                },
                            },
                        },
                        "indexes": {"type": "array", "items": {"type": "object"}},
                        "partition_rule": {"type": "object"},
                        "refresh_interval": {"type": "integer"},
                        "enable_id_cache": {"type": "boolean"},
                        "enable_realtime": {"type": "boolean"},
                    },
                }
            }
        },
    }
}
_INDEXES_BODY = (BodyField("indexes", "array", "Index declarations, as in a space schema."),)


# Databases.


@router.get("/dbs", summary="List databases")
async def list_databases(request: Request) -> Any:
    engine = get_state(request).engine

    def describe_all() -> list[dict[str, Any]]:
        return [engine.describe_database(name) for name in engine.list_databases()]

    return success(request, await call_engine(request, describe_all))


@router.post("/dbs/{db}", summary="Create a database")
async def create_database(request: Request, db: str) -> Any:
    engine = get_state(request).engine
    return success(request, await call_engine(request, engine.create_database, db))


@router.get("/dbs/{db}", summary="Describe a database")
async def get_database(request: Request, db: str) -> Any:
    engine = get_state(request).engine
    return success(request, await call_engine(request, engine.describe_database, db))


@router.delete("/dbs/{db}", summary="Drop an empty database")
async def drop_database(request: Request, db: str) -> Any:
    engine = get_state(request).engine
    await call_engine(request, engine.drop_database, db)
    return success(request)


@router.put("/dbs/{db}", summary="Change the partition servers of a database (cluster only)")
async def update_database(request: Request, db: str) -> Any:
    engine = get_state(request).engine
    await call_engine(request, engine.describe_database, db)
    error = VectorDBError(
        ErrorCode.PARAM_ERROR,
        "PUT /dbs/:db binds a database to partition servers, which needs a Vearch cluster; "
        "a single Qiao node has one",
    )
    raise ApiError.from_error(error, 400)


# Spaces.


@router.post("/dbs/{db}/spaces", summary="Create a space", openapi_extra=_SPACE_SCHEMA)
async def create_space(request: Request, db: str) -> Any:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(
            400, int(ErrorCode.INTERNAL_ERROR), "invalid request body: send a JSON object"
        )
    engine = get_state(request).engine

    def create() -> dict[str, Any]:
        space = engine.create_space(db, body)
        return space.entity()

    return success(request, await call_engine(request, create))


@router.get("/dbs/{db}/spaces", summary="List the spaces of a database")
async def list_spaces(request: Request, db: str) -> Any:
    engine = get_state(request).engine
    detail = flag(request, "detail")

    def describe_all() -> list[dict[str, Any]]:
        return [
            engine.get_space(db, name).describe(detail=detail) for name in engine.list_spaces(db)
        ]

    return success(request, await call_engine(request, describe_all))


@router.get("/dbs/{db}/spaces/{space}", summary="Describe a space")
async def get_space(request: Request, db: str, space: str) -> Any:
    engine = get_state(request).engine
    detail = flag(request, "detail")

    def describe() -> dict[str, Any]:
        return engine.get_space(db, space).describe(detail=detail)

    return success(request, await call_engine(request, describe))


@router.delete("/dbs/{db}/spaces/{space}", summary="Drop a space and its documents")
async def drop_space(request: Request, db: str, space: str) -> Any:
    state = get_state(request)
    await call_engine(request, state.engine.drop_space, db, space)
    await call_engine(request, state.configs.drop_prefix, f"space/{db}/{space}")
    return success(request)


@router.put("/dbs/{db}/spaces/{space}", summary="Update a space", openapi_extra=_SPACE_SCHEMA)
async def update_space(request: Request, db: str, space: str) -> Any:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(
            400, int(ErrorCode.INTERNAL_ERROR), "invalid request body: send a JSON object"
        )
    engine = get_state(request).engine

    def update() -> dict[str, Any]:
        updated = engine.update_space(db, space, body)
        return updated.entity()

    return success(request, await call_engine(request, update))


# Indexes.


@router.get("/dbs/{db}/spaces/{space}/indexes", summary="Describe the indexes of a space")
async def get_indexes(request: Request, db: str, space: str) -> Any:
    engine = get_state(request).engine
    detail = flag(request, "detail")

    def describe() -> dict[str, Any]:
        return engine.get_space(db, space).indexes_info(detail=detail)

    return success(request, await call_engine(request, describe))


@router.post(
    "/dbs/{db}/spaces/{space}/indexes",
    summary="Add indexes to a space",
    openapi_extra=request_body(_INDEXES_BODY, ("indexes",)),
)
async def add_indexes(request: Request, db: str, space: str) -> Any:
    body = bind_body(await read_json(request), _INDEXES_BODY)
    engine = get_state(request).engine
    await call_engine(request, engine.add_indexes, db, space, body.get("indexes", []))
    return success(request)


@router.delete("/dbs/{db}/spaces/{space}/indexes/{index_name}", summary="Remove an index")
async def remove_index(request: Request, db: str, space: str, index_name: str) -> Any:
    engine = get_state(request).engine
    await call_engine(request, engine.remove_index, db, space, index_name)
    return success(request)
