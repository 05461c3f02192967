"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}`` with a status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qiao.errors import InvalidInputError, ModelError, NotFoundError, QiaoError

__all__ = ["APIError", "error_body", "install_error_handlers"]

logger = logging.getLogger(__name__)


class APIError(Exception):
    """A request that fails with an OpenAI-style error body.

    ``kind`` is OpenAI's ``type`` field: invalid_request_error, authentication_error,
    permission_error, not_found_error, rate_limit_error, timeout_error or api_error.
    """

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code
        self.headers = headers or {}

    def to_json(self) -> dict[str, Any]:
        return error_body(self.message, self.kind, self.param, self.code)

    def response(self) -> JSONResponse:
        return JSONResponse(self.to_json(), status_code=self.status, headers=self.headers)


def error_body(
    message: str, kind: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def invalid(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """Return a 400 invalid_request_error."""
    return APIError(400, message, param=param, code=code)


def from_qiao_error(error: QiaoError) -> APIError:
    """Translate an error raised by Qiao's own code into the status a client should see."""
    if isinstance(error, InvalidInputError):
        return invalid(str(error))
    if isinstance(error, NotFoundError):
        return APIError(404, str(error), "not_found_error", code="not_found")
    if isinstance(error, ModelError):
        # OpenAICompatibleGenerator passes the upstream HTTP status as a parameter.
        status = error.params.get("status")
        if status == 429:
            return APIError(429, str(error), "rate_limit_error", code="backend_rate_limited")
        return APIError(
            502, f"the model backend failed: {error}", "api_error", code="backend_error"
        )
    return APIError(500, str(error), "api_error", code="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Send every error, including routing and framework errors, in OpenAI's shape."""

    @app.exception_handler(APIError)
    async def handle_api_error(request: Request, error: APIError) -> JSONResponse:
        if error.status >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, error.message)
        return error.response()

    @app.exception_handler(QiaoError)
    async def handle_qiao_error(request: Request, error: QiaoError) -> JSONResponse:
        api_error = from_qiao_error(error)
        logger.warning("%s %s failed: %s", request.method, request.url.path, error)
        return api_error.response()

    @app.exception_handler(StarletteHTTPException)
    async def handle_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see GET /v1/models"
            return APIError(404, message, "not_found_error", code="unknown_url").response()
        if error.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
            return APIError(405, message, code="method_not_allowed").response()
        return APIError(error.status_code, str(error.detail), "api_error").response()

    @app.exception_handler(RequestValidationError)
    async def handle_validation_error(
        request: Request, error: RequestValidationError
    ) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        location = ".".join(str(part) for part in first.get("loc", ())[1:])
        message = f"invalid request: {first.get('msg', 'validation failed')}"
        return invalid(message, param=location or None).response()

    @app.exception_handler(Exception)
    async def handle_unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("%s %s failed unexpectedly", request.method, request.url.path)
        message = f"internal server error ({type(error).__name__}); see the server log"
        return APIError(500, message, "api_error", code="internal_error").response()
