"""Router routes that show the router's cached metadata: ``/cache/*``.

Vearch's router answers a failed cache lookup with HTTP 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from qiao.vectordb.errors import VectorDBError
from qiao.vectordb.server.auth import authorize
from qiao.vectordb.server.envelope import ApiError, success
from qiao.vectordb.server.openapi_docs import ENVELOPE_RESPONSES
from qiao.vectordb.server.state import call_engine, get_state

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)


async def _lookup(request: Request, function: Any, *args: Any) -> Any:
    try:
        return success(request, await call_engine(request, function, *args))
    except VectorDBError as error:
        raise ApiError.from_error(error, 500) from None


@router.get("/cache/dbs/{db}/spaces/{space}", summary="Show the cached Space entity")
async def cached_space(request: Request, db: str, space: str) -> Any:
    engine = get_state(request).engine

    def entity() -> dict[str, Any]:
        return engine.get_space(db, space).entity()

    return await _lookup(request, entity)


@router.get("/cache/users/{name}", summary="Show a cached user")
async def cached_user(request: Request, name: str) -> Any:
    return await _lookup(request, get_state(request).accounts.get_user, name)


@router.get("/cache/roles/{name}", summary="Show a cached role")
async def cached_role(request: Request, name: str) -> Any:
    return await _lookup(request, get_state(request).accounts.get_role, name)
