"""Master routes for space aliases: ``/alias/:alias[/dbs/:db/spaces/:space]``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from qiao.vectordb.server.auth import authorize
from qiao.vectordb.server.envelope import success
from qiao.vectordb.server.openapi_docs import ENVELOPE_RESPONSES
from qiao.vectordb.server.state import call_engine, get_state

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)


@router.post("/alias/{alias}/dbs/{db}/spaces/{space}", summary="Create an alias of a space")
async def create_alias(request: Request, alias: str, db: str, space: str) -> Any:
    engine = get_state(request).engine
    return success(request, await call_engine(request, engine.create_alias, alias, db, space))


@router.put("/alias/{alias}/dbs/{db}/spaces/{space}", summary="Point an alias at another space")
async def update_alias(request: Request, alias: str, db: str, space: str) -> Any:
    engine = get_state(request).engine
    return success(request, await call_engine(request, engine.update_alias, alias, db, space))


@router.get("/alias", summary="List aliases")
async def list_aliases(request: Request) -> Any:
    engine = get_state(request).engine
    return success(request, await call_engine(request, engine.list_aliases))


@router.get("/alias/{alias}", summary="Describe an alias")
async def get_alias(request: Request, alias: str) -> Any:
    engine = get_state(request).engine
    return success(request, await call_engine(request, engine.get_alias, alias))


@router.delete("/alias/{alias}", summary="Drop an alias")
async def drop_alias(request: Request, alias: str) -> Any:
    engine = get_state(request).engine
    await call_engine(request, engine.drop_alias, alias)
    return success(request)
