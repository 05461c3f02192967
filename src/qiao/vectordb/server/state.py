"""Shared route state (engine, settings, stores) and the runner of blocking engine calls."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request

from qiao.vectordb.engine import Engine
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.server.accounts import AccountStore
from qiao.vectordb.server.config_store import ConfigStore
from qiao.vectordb.server.envelope import ApiError
from qiao.vectordb.server.settings import ServerSettings
from qiao.vectordb.space import Space

__all__ = [
    "ServerState",
    "call_engine",
    "get_state",
    "request_timeout_ms",
    "resolve_document_space",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class ServerState:
    """Shared by the router app and the master app of one server."""

    engine: Engine
    settings: ServerSettings
    accounts: AccountStore
    configs: ConfigStore

    @classmethod
    def create(cls, engine: Engine, settings: ServerSettings) -> ServerState:
        return cls(
            engine,
            settings,
            AccountStore(engine.path, settings.root_password),
            ConfigStore(engine.path),
        )


def get_state(request: Request) -> ServerState:
    return request.app.state.vearch


def request_timeout_ms(request: Request) -> int:
    """Return ``?timeout=`` in milliseconds, or the default; a non-integer gives HTTP 400."""
    raw = request.query_params.get("timeout")
    if raw is None or raw == "":
        return get_state(request).settings.default_timeout_ms
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            400,
            int(ErrorCode.PARAM_ERROR),
            VectorDBError(
                ErrorCode.PARAM_ERROR,
                f"timeout must be an integer number of milliseconds, got {raw!r}",
            ).msg,
        ) from None
    if value <= 0:
        return get_state(request).settings.default_timeout_ms
    return value


async def call_engine(request: Request, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking engine call in a worker thread, bounded by the request timeout.

    After the timeout the client gets HTTP 504 with code 5. The call itself
    cannot be interrupted: it finishes in its thread, so a write that was
    under way still lands, as a write to Vearch does after a router timeout.
    """
    timeout_ms = request_timeout_ms(request)
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, functools.partial(function, *args, **kwargs))
    try:
        return await asyncio.wait_for(future, timeout_ms / 1000)
    except TimeoutError:
        name = getattr(function, "__qualname__", repr(function))
        logger.warning("%s %s timed out after %d ms", request.method, request.url.path, timeout_ms)
        raise ApiError(
            504,
            int(ErrorCode.TIMEOUT),
            VectorDBError(ErrorCode.TIMEOUT, f"{name} took longer than {timeout_ms} ms").msg,
        ) from None


def resolve_document_space(state: ServerState, db_name: str, space_name: str) -> Space:
    """Return the space a document call names; ``space_name`` may be an alias.

    Vearch's router rejects an unknown database or space on a document call
    with HTTP 500 and code 6 (PARAM_ERROR, from ``internal/client/master_cache.go``).
    """
    try:
        return state.engine.resolve_space(db_name, space_name)
    except VectorDBError as error:
        if error.code in (
            ErrorCode.DB_NOT_EXIST,
            ErrorCode.SPACE_NOT_EXIST,
            ErrorCode.ALIAS_NOT_EXIST,
        ):
            raise ApiError.from_error(error, 500, int(ErrorCode.PARAM_ERROR)) from None
        raise ApiError.from_error(error, 500) from None
