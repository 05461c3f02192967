"""HTTP Basic authentication and role checks, as Vearch's BasicAuthMiddleware does them."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging

from fastapi import Request

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.server.envelope import ApiError
from qiao.vectordb.server.permissions import check_permission
from qiao.vectordb.server.state import get_state

__all__ = ["authorize"]

logger = logging.getLogger(__name__)

# Routes Vearch's master serves without authentication. The router's own "/" needs it.
_MASTER_OPEN_PATHS = ("/",)
_OPEN_PATH_PREFIXES = ("/config/slow_search_isolation", "/register")


def _unauthorized(msg: str) -> ApiError:
    return ApiError(401, int(ErrorCode.AUTHENTICATION_FAILED), msg)


def _credentials(header: str) -> tuple[str, str]:
    if not header:
        raise _unauthorized("auth header is empty")
    parts = header.split(" ", 1)
    if len(parts) != 2 or parts[0] != "Basic":
        raise _unauthorized("auth header type is invalid")
    try:
        decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise _unauthorized(f"auth header is not valid base64: {error}") from None
    user, separator, password = decoded.partition(":")
    if not separator:
        raise _unauthorized("auth header credentials is invalid")
    return user, password


def _route_path(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", request.url.path)


async def authorize(request: Request) -> None:
    """Reject the request with HTTP 401 and code 3 unless its user's role may call the route."""
    state = get_state(request)
    if state.settings.skip_auth:
        return
    path = _route_path(request)
    if path.startswith(_OPEN_PATH_PREFIXES):
        return
    if request.app.state.master_only and path in _MASTER_OPEN_PATHS:
        return

    user, password = _credentials(request.headers.get("authorization", ""))
    try:
        # Root and verified passwords need only an HMAC. Password hashing takes tens of
        # milliseconds on a cache miss: keep it off the event loop. ?timeout= bounds the
        # operation, not the login: a request rejected by a timeout here would never start
        # its write, though a 504 tells the client the write may land.
        verified = state.accounts.authenticate_cached(user, password)
        if verified is None:
            loop = asyncio.get_running_loop()
            verified = await loop.run_in_executor(
                None, functools.partial(state.accounts.authenticate, user, password)
            )
        role_name, privileges = verified
    except VectorDBError as error:
        logger.info("rejected %s %s: %s", request.method, path, error.detail)
        raise _unauthorized(error.detail) from None
    try:
        check_permission(role_name, privileges, path, request.method)
    except VectorDBError as error:
        logger.info("rejected %s %s for user %r: %s", request.method, path, user, error.detail)
        raise _unauthorized(error.msg) from None
