"""Server information routes, and the cluster-only routes a single node rejects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from qiao import __version__
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.server import cluster_views
from qiao.vectordb.server.auth import authorize
from qiao.vectordb.server.body import BodyField, bind_body, read_json, request_body
from qiao.vectordb.server.envelope import ApiError, success
from qiao.vectordb.server.openapi_docs import ENVELOPE_RESPONSES
from qiao.vectordb.server.params import flag
from qiao.vectordb.server.state import call_engine, get_state

__all__ = ["CLUSTER_ONLY_ROUTES", "root_router", "router"]

router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)

_RESOURCE_LIMIT = (
    BodyField("rate", "number"),
    BodyField("resource_exhausted", "boolean"),
    BodyField("db_name", "string"),
    BodyField("space_name", "string"),
)

# (method, path, what the route does in a Vearch cluster)
CLUSTER_ONLY_ROUTES = (
    ("GET", "/members", "lists the master's raft members"),
    ("POST", "/members", "adds a master raft member"),
    ("DELETE", "/members", "removes a master raft member"),
    ("GET", "/members/stats", "shows the master's raft members"),
    ("POST", "/schedule/recover_server", "moves partitions off a failed server"),
    ("POST", "/schedule/change_replicas", "changes the replica count of a space"),
    ("GET", "/schedule/fail_server", "lists failed partition servers"),
    ("DELETE", "/schedule/fail_server/{node_id}", "forgets a failed partition server"),
    ("GET", "/schedule/clean_task", "cleans partition tasks"),
    ("POST", "/meta/remove_server", "removes a partition server"),
    ("GET", "/clean_lock", "cleans the master's etcd locks"),
    ("POST", "/register", "registers a partition server"),
    ("POST", "/register_router", "registers a router"),
    ("POST", "/register_partition", "registers a partition"),
    ("POST", "/partitions/change_member", "moves a partition replica between servers"),
    ("POST", "/backup/dbs/{db}", "backs a database up to S3"),
    ("POST", "/backup/dbs/{db}/spaces/{space}", "backs a space up to S3"),
)


def _cluster_only(path: str, purpose: str) -> Any:
    async def reject(request: Request) -> Any:
        error = VectorDBError(
            ErrorCode.METHOD_NOT_IMPLEMENT,
            f"{request.method} {path} {purpose}, which needs a Vearch cluster; this single-node "
            "Qiao server does not support it",
        )
        raise ApiError.from_error(error, 400)

    return reject


for _method, _path, _purpose in CLUSTER_ONLY_ROUTES:
    router.add_api_route(
        _path,
        _cluster_only(_path, _purpose),
        methods=[_method],
        summary=f"Cluster only: {_purpose}",
        name=f"cluster_only_{_method.lower()}_{_path.strip('/').replace('/', '_')}",
    )


root_router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)


@root_router.get("/", summary="Server name and version")
async def server_info(request: Request) -> Any:
    # The master serves this route without authentication; see auth.authorize.
    state = get_state(request)
    version = {"build_version": __version__, "build_time": "", "commit_id": ""}
    return success(request, {"name": state.settings.cluster_name, "version": version})


@router.get("/cluster/stats", summary="Resource usage of each server")
async def cluster_stats(request: Request) -> Any:
    state = get_state(request)
    return success(
        request,
        await call_engine(request, cluster_views.cluster_stats, state.engine, state.settings),
    )


@router.get("/cluster/health", summary="Document counts and status of each database")
async def cluster_health(request: Request) -> Any:
    state = get_state(request)
    db = request.query_params.get("db", "")
    space = request.query_params.get("space", "")
    detail = flag(request, "detail")
    return success(
        request,
        await call_engine(request, cluster_views.cluster_health, state.engine, db, space, detail),
    )


@router.get("/servers", summary="Partition servers and their partitions")
async def list_servers(request: Request) -> Any:
    state = get_state(request)
    return success(
        request, await call_engine(request, cluster_views.servers, state.engine, state.settings)
    )


@router.get("/routers", summary="Router addresses")
async def list_routers(request: Request) -> Any:
    settings = get_state(request).settings
    return success(request, [f"{settings.host}:{settings.port}"])


@router.get("/partitions", summary="Partitions of every space")
async def list_partitions(request: Request) -> Any:
    engine = get_state(request).engine
    return success(request, await call_engine(request, cluster_views.partitions, engine))


@router.post(
    "/partitions/resource_limit",
    summary="Mark partitions of a space as out of resources",
    openapi_extra=request_body(_RESOURCE_LIMIT),
)
async def resource_limit(request: Request) -> Any:
    body = bind_body(await read_json(request), _RESOURCE_LIMIT)
    state = get_state(request)

    def update() -> dict[str, Any]:
        if body.get("db_name") and body.get("space_name"):
            state.engine.get_space(body["db_name"], body["space_name"])
        return state.configs.update("resource_limit", body)

    return success(request, await call_engine(request, update))
