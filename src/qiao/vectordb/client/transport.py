"""HTTP transport to a Vearch-compatible server: one keep-alive connection pool, Basic auth.

Every Vearch response is an envelope ``{"code", "msg", "data"}``. Code 0 is
success and returns ``data``. Any other code raises a VectorDBError with that
code and message, which are those the embedded engine raises for the same failure.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from qiao.vectordb.errors import ErrorCode, VectorDBError

__all__ = ["DEFAULT_TIMEOUT_S", "Transport", "error_from_envelope", "path_segment"]

logger = logging.getLogger(__name__)

# pyvearch 3.5.7 waits 30 s for a response by default.
DEFAULT_TIMEOUT_S = 30.0
MAX_QUOTED_BODY = 300


def path_segment(name: str) -> str:
    """Return ``name`` percent-encoded for use as one URL path segment."""
    return quote(str(name), safe="")


class Transport:
    """A connection pool to one server that unwraps Vearch response envelopes."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(*auth) if auth is not None else None,
            timeout=httpx.Timeout(timeout),
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | list[Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Send one request and return the ``data`` of a successful envelope."""
        url = f"{self.base_url}{path}"
        try:
            response = self._client.request(method, path, json=body, params=params)
        except httpx.TimeoutException as error:
            raise VectorDBError(
                ErrorCode.TIMEOUT,
                f"{method} {url} timed out after {self.timeout} s; check that the server is "
                "running, or pass a larger timeout to connect()",
            ) from error
        except httpx.HTTPError as error:
            raise VectorDBError(
                ErrorCode.SERVICE_UNAVAILABLE,
                f"cannot reach the vector database at {self.base_url} ({error}); start it with "
                "`qiao vectordb serve` or check the URL and port",
            ) from error
        return self._unwrap(method, url, response)

    def _unwrap(self, method: str, url: str, response: httpx.Response) -> Any:
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), int):
            body = response.text.strip()[:MAX_QUOTED_BODY] or "(empty body)"
            raise VectorDBError(
                ErrorCode.UNKNOWN_ERROR,
                f"{method} {url} returned HTTP {response.status_code} without a Vearch response "
                f"envelope: {body}; check that the URL points to a Qiao or Vearch router",
            )
        code = envelope["code"]
        if code == ErrorCode.SUCCESS:
            return envelope.get("data")
        raise error_from_envelope(code, str(envelope.get("msg") or ""))

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()


def error_from_envelope(code: int, msg: str) -> VectorDBError:
    """Rebuild the server's VectorDBError, so that ``error.msg`` equals the envelope's ``msg``."""
    try:
        error_code = ErrorCode(code)
    except ValueError:
        # NOTE: a code this client does not know keeps its number only in the detail.
        return VectorDBError(ErrorCode.UNKNOWN_ERROR, f"server error code {code}: {msg}")
    name = error_code.name.lower()
    if msg == name:
        return VectorDBError(error_code)
    prefix = f"{name}: "
    detail = msg[len(prefix) :] if msg.startswith(prefix) else msg
    return VectorDBError(error_code, detail)
