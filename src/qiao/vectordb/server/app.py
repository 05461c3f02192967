"""The FastAPI application that serves Qiao's vector database with Vearch's REST API."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qiao import __version__
from qiao.errors import QiaoError
from qiao.vectordb.engine import Engine
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.server import (
    routes_accounts,
    routes_aliases,
    routes_cache,
    routes_cluster,
    routes_config,
    routes_documents,
    routes_spaces,
)
from qiao.vectordb.server.envelope import ApiError, error_response, master_status
from qiao.vectordb.server.openapi_docs import add_query_parameters
from qiao.vectordb.server.settings import ServerSettings
from qiao.vectordb.server.state import ServerState

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_DESCRIPTION = """\
Qiao's embedded vector database behind Vearch v3.5's REST API, so that Vearch
clients such as the `pyvearch` SDK work unchanged. Every response is Vearch's
envelope `{code, request_id, msg, data}`; `code` 0 is success and any other
value is a Vearch error code. Authenticate with HTTP Basic auth (user `root`).
"""


def create_app(
    engine: Engine,
    settings: ServerSettings | None = None,
    *,
    master_only: bool = False,
    state: ServerState | None = None,
    docs_prefix: str = "",
) -> FastAPI:
    """Return the REST app for ``engine``.

    The default app serves every route, as Vearch's router does. With
    ``master_only`` it serves only the master routes, as Vearch's master
    port does; pass the router app's ``state`` so both share users and config.
    ``docs_prefix`` moves ``/openapi.json``, ``/docs`` and ``/redoc`` under
    a path such as ``/vectordb``, for an app that shares its port with another.
    """
    settings = settings or ServerSettings()
    state = state or ServerState.create(engine, settings)
    app = FastAPI(
        title="Qiao vector database (Vearch-compatible REST API)",
        version=__version__,
        description=_DESCRIPTION,
        openapi_url=f"{docs_prefix}/openapi.json",
        docs_url=f"{docs_prefix}/docs",
        redoc_url=f"{docs_prefix}/redoc",
        swagger_ui_oauth2_redirect_url=f"{docs_prefix}/docs/oauth2-redirect",
    )
    app.state.vearch = state
    app.state.master_only = master_only

    if not master_only:
        app.include_router(routes_documents.router)
    app.include_router(routes_cluster.root_router)
    app.include_router(routes_spaces.router)
    app.include_router(routes_aliases.router)
    app.include_router(routes_accounts.router)
    app.include_router(routes_config.master_router)
    app.include_router(routes_cluster.router)
    if not master_only:
        app.include_router(routes_config.router_router)
        app.include_router(routes_cache.router)
    _add_exception_handlers(app)
    _document_query_parameters(app)
    return app


def _document_query_parameters(app: FastAPI) -> None:
    """Make the OpenAPI document list ?timeout, ?trace and ?detail, which routes read directly."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = add_query_parameters(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _log_rejected(request: Request, status: int, code: int, msg: str) -> None:
    logger.info(
        "%s %s failed with HTTP %d, code %d: %s",
        request.method,
        request.url.path,
        status,
        code,
        msg,
    )


def _add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        _log_rejected(request, error.status, error.code, error.msg)
        return error_response(request, error.status, error.code, error.msg)

    @app.exception_handler(VectorDBError)
    async def vector_db_error(request: Request, error: VectorDBError) -> JSONResponse:
        status = master_status(error.code)
        _log_rejected(request, status, error.code, error.msg)
        return error_response(request, status, error.code, error.msg)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # Unknown paths and methods: gin answers "404 page not found" / "405 method not allowed".
        msg = {404: "404 page not found", 405: "405 method not allowed"}.get(
            error.status_code, str(error.detail)
        )
        return error_response(request, error.status_code, int(ErrorCode.INTERNAL_ERROR), msg)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        return error_response(
            request, 400, int(ErrorCode.INTERNAL_ERROR), f"invalid request: {details}"
        )

    @app.exception_handler(QiaoError)
    async def qiao_error(request: Request, error: QiaoError) -> JSONResponse:
        logger.error("%s %s failed: %s", request.method, request.url.path, error)
        return error_response(
            request, 500, int(ErrorCode.INTERNAL_ERROR), f"internal_error: {error}"
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        logger.exception("%s %s failed unexpectedly", request.method, request.url.path)
        return error_response(
            request,
            500,
            int(ErrorCode.INTERNAL_ERROR),
            f"internal_error: {type(error).__name__}: {error}",
        )
