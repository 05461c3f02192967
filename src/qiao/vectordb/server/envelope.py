"""Vearch's response envelope and the HTTP status of each error.

Vearch answers ``{"code", "request_id", "msg", "data"}`` where ``request_id``
echoes the ``X-Request-Id`` header and ``msg`` and ``data`` are left out when
empty (``internal/entity/response/response.go``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from qiao.vectordb.errors import ErrorCode, VectorDBError

__all__ = ["ApiError", "error_response", "master_status", "success"]


class ApiError(Exception):
    """An error answered with an explicit HTTP status, Vearch code and message.

    Vearch sends some errors without a Vearch code (a failed JSON binding,
    a missing Authorization header); their ``msg`` is the bare text.
    """

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg

    @classmethod
    def from_error(cls, error: VectorDBError, status: int, code: int | None = None) -> ApiError:
        """Wrap an engine error with the status a route gives it, optionally under another code."""
        if code is None or code == error.code:
            return cls(status, error.code, error.msg)
        return cls(status, code, VectorDBError(ErrorCode(code), error.detail).msg)


def master_status(code: int) -> int:
    """Return the HTTP status Vearch's master gives an error code (``cluster_api.go``).

    ``*_EXIST`` gives 422, ``*_NOT_EXIST`` 404, PARAM_ERROR and CONFIG_ERROR 400,
    AUTHENTICATION_FAILED 401, TIMEOUT 504 and everything else 500.
    """
    try:
        name = ErrorCode(code).name
    except ValueError:
        return 500
    if name.endswith("_NOT_EXIST"):
        return 404
    if name.endswith("_EXIST"):
        return 422
    if code in (ErrorCode.PARAM_ERROR, ErrorCode.CONFIG_ERROR):
        return 400
    if code == ErrorCode.AUTHENTICATION_FAILED:
        return 401
    if code == ErrorCode.TIMEOUT:
        return 504
    return 500


def _request_id(request: Request) -> str:
    return request.headers.get("x-request-id", "")


def success(request: Request, data: Any = None) -> JSONResponse:
    """Return a ``code: 0`` envelope; ``data`` is left out when it is None."""
    body: dict[str, Any] = {"code": 0}
    request_id = _request_id(request)
    if request_id:
        body["request_id"] = request_id
    # Go's omitempty on an interface field drops only nil, so empty lists stay.
    if data is not None:
        body["data"] = data
    return JSONResponse(body)


def error_response(request: Request, status: int, code: int, msg: str) -> JSONResponse:
    """Return an error envelope with HTTP ``status``."""
    body: dict[str, Any] = {"code": code}
    request_id = _request_id(request)
    if request_id:
        body["request_id"] = request_id
    if msg:
        body["msg"] = msg
    return JSONResponse(body, status_code=status)
