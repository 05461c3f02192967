"""Vearch-compatible REST server for Qiao's embedded vector database.

``create_app(engine, settings)`` returns the FastAPI app; ``serve`` runs it
with uvicorn on the router port and, optionally, the master routes on a
second port, as Vearch's router (9001) and master (8817) do. ``VearchMount``
serves the same app inside another one, as ``qiao serve`` does.
"""

from __future__ import annotations

from qiao.vectordb.server.app import create_app
from qiao.vectordb.server.mount import VearchMount
from qiao.vectordb.server.runner import serve
from qiao.vectordb.server.settings import ServerSettings

__all__ = ["ServerSettings", "VearchMount", "create_app", "serve"]
