"""Configuration routes: ``/config/*`` on the master and ``/config/trace`` on the router.

Vearch keeps these settings in etcd; here they are stored in the engine
folder and returned by GET. The single-node engine does not act on them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from qiao.vectordb.server.auth import authorize
from qiao.vectordb.server.body import BodyField, bind_body, read_json, request_body
from qiao.vectordb.server.envelope import success
from qiao.vectordb.server.openapi_docs import ENVELOPE_RESPONSES
from qiao.vectordb.server.state import call_engine, get_state

__all__ = ["master_router", "router_router"]

master_router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)
router_router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)

_SPACE_CONFIG = (
    BodyField("engine_cache_size", "int64"),
    BodyField("path", "string"),
    BodyField("slow_search_time", "int64"),
    BodyField("refresh_interval", "int32"),
    BodyField("enable_id_cache", "boolean"),
)
_GLOBAL_CONFIGS: dict[str, tuple[BodyField, ...]] = {
    "request_limit": (
        BodyField("request_limit_enabled", "boolean"),
        BodyField("read_request_limit_count", "int64"),
        BodyField("write_request_limit_count", "int64"),
    ),
    "memory_limit": (
        BodyField("memory_limit_enabled", "boolean"),
        BodyField("router_memory_limit", "int64"),
        BodyField("ps_memory_limit", "int64"),
    ),
    "slow_search_isolation": (BodyField("slow_search_isolation_enabled", "boolean"),),
}
_TRACE = (BodyField("trace", "boolean"),)


def _add_global_config_routes(key: str, body_fields: tuple[BodyField, ...]) -> None:
    async def get_config(request: Request) -> Any:
        configs = get_state(request).configs
        return success(request, await call_engine(request, configs.get, key))

    async def set_config(request: Request) -> Any:
        body = bind_body(await read_json(request), body_fields)
        configs = get_state(request).configs
        return success(request, await call_engine(request, configs.update, key, body))

    master_router.add_api_route(
        f"/config/{key}", get_config, methods=["GET"], summary=f"Read {key}", name=f"get_{key}"
    )
    master_router.add_api_route(
        f"/config/{key}",
        set_config,
        methods=["POST"],
        summary=f"Set {key}",
        name=f"set_{key}",
        openapi_extra=request_body(body_fields),
    )


for _key, _fields in _GLOBAL_CONFIGS.items():
    _add_global_config_routes(_key, _fields)


@master_router.get("/config/{db}/{space}", summary="Read the engine settings of a space")
async def get_space_config(request: Request, db: str, space: str) -> Any:
    state = get_state(request)

    def read() -> dict[str, Any]:
        state.engine.get_space(db, space)
        return state.configs.get(f"space/{db}/{space}")

    return success(request, await call_engine(request, read))


@master_router.post(
    "/config/{db}/{space}",
    summary="Set the engine settings of a space",
    openapi_extra=request_body(_SPACE_CONFIG),
)
async def set_space_config(request: Request, db: str, space: str) -> Any:
    body = bind_body(await read_json(request), _SPACE_CONFIG)
    state = get_state(request)

    def update() -> dict[str, Any]:
        state.engine.get_space(db, space)
        return state.configs.update(f"space/{db}/{space}", body)

    return success(request, await call_engine(request, update))


@router_router.post(
    "/config/trace", summary="Switch request tracing", openapi_extra=request_body(_TRACE)
)
async def set_trace(request: Request) -> Any:
    body = bind_body(await read_json(request), _TRACE)
    configs = get_state(request).configs
    result = await call_engine(request, configs.update, "trace", body)
    return success(request, {"trace": result["trace"]})
