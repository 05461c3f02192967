"""Access control of the gateway: bearer API keys and the models each key may use."""

from __future__ import annotations

import ipaddress
import logging

from fastapi import Request

from qiao.gateway.errors import APIError
from qiao.gateway.keys import ApiKey, KeyStore

__all__ = ["authenticate", "auth_required", "check_model_access", "is_loopback"]

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_required(mode: str, host: str) -> bool:
    """Return whether API keys are required: mode "on", or "auto" on a non-loopback host."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return not is_loopback(host)


def authenticate(request: Request, keys: KeyStore, required: bool) -> ApiKey | None:
    """Return the caller's key, None when auth is off, or raise APIError 401."""
    if not required:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise APIError(
            401,
            "missing API key; send 'Authorization: Bearer KEY' with a key from "
            "'qiao keys create NAME'",
            "authentication_error",
            code="missing_api_key",
        )
    key, reason = keys.verify(secret.strip())
    if key is None:
        logger.warning("rejected a request from %s: %s", _client(request), reason)
        raise APIError(401, reason, "authentication_error", code="invalid_api_key")
    return key


def check_model_access(key: ApiKey | None, model: str) -> None:
    if key is None or key.allows(model):
        return
    allowed = [f"kb:{name}" for name in key.kbs] + key.models
    raise APIError(
        403,
        f"API key {key.id} may not use model {model!r}; it may use: {', '.join(allowed)}",
        "permission_error",
        param="model",
        code="model_not_allowed",
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown client"
