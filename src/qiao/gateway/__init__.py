"""The OpenAI-compatible gateway: chat completions, embeddings and models over HTTP.

Every configured generator is a model, and every knowledge base is a model
``kb:<name>`` that answers with citations. ``qiao serve`` runs it. Names are
imported on first use, so that ``qiao keys`` does not load FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiao.gateway.app import create_app
    from qiao.gateway.keys import ApiKey, KeyStore
    from qiao.gateway.server import GatewayServer, build_server

_EXPORTS = {
    "create_app": "app",
    "ApiKey": "keys",
    "KeyStore": "keys",
    "GatewayServer": "server",
    "build_server": "server",
}

__all__ = ["ApiKey", "GatewayServer", "KeyStore", "build_server", "create_app"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qiao.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(f"qiao.gateway.{module}"), name)
