"""Vearch's REST API as one route of another app, such as the gateway of ``qiao serve``.

``VearchMount.route`` hands each request whose method and path the Vearch app
serves to that app whole: its Basic auth, its envelope, its error codes and
its exception handlers apply, as on ``qiao vectordb serve``. Other requests
fall through to the host app's routes and 404 handler, so the host keeps its
own error shape for unknown paths. The host app serves its own OpenAPI
document at ``/openapi.json``, so Vearch's moves under ``DOCS_PREFIX``:
``/vectordb/openapi.json``, ``/vectordb/docs`` and ``/vectordb/redoc``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Message, Receive, Scope, Send

from qiao.vectordb.engine import Engine
from qiao.vectordb.server.app import create_app
from qiao.vectordb.server.settings import ServerSettings

__all__ = ["DOCS_PREFIX", "VearchMount"]

logger = logging.getLogger(__name__)

DOCS_PREFIX = "/vectordb"
# Scope keys that the host app's router writes while it routes a request.
_HOST_ROUTING_KEYS = ("router", "route", "endpoint", "fastapi")


class VearchMount:
    """The engine of one folder and the Vearch app over it, opened and closed by the host.

    ``open()`` raises LockedError when another writer has locked the folder.
    Both ``open()`` and ``close()`` may be called more than once.
    """

    def __init__(self, folder: str | Path, settings: ServerSettings | None = None) -> None:
        self.folder = Path(folder)
        self.settings = settings or ServerSettings()
        self.engine: Engine | None = None
        self.app: FastAPI | None = None
        self.route = _VearchRoute(self)

    def open(self) -> None:
        """Open the engine and build the Vearch app over it, unless they are open already."""
        if self.engine is not None:
            return
        engine = Engine(self.folder)
        self.app = create_app(engine, self.settings, docs_prefix=DOCS_PREFIX)
        self.engine = engine
        logger.info("serving vector database %s with Vearch's REST API", self.folder)

    def close(self) -> None:
        """Stop routing to the Vearch app, then snapshot the spaces and release the folder."""
        if self.engine is None:
            return
        engine = self.engine
        self.app = None
        self.engine = None
        engine.close()
        logger.info("closed vector database %s", self.folder)


class _VearchRoute(BaseRoute):
    """Matches the requests that the Vearch app of ``mount`` has a route for."""

    def __init__(self, mount: VearchMount) -> None:
        self.mount = mount

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        app = self.mount.app
        if app is None or scope["type"] != "http":
            return Match.NONE, {}

        # FastAPI's routes record matching state in the scope, so they probe a copy.
        probe = _without_host_routing(scope)
        best = Match.NONE
        for route in app.router.routes:
            match, _ = route.matches(probe)
            if match is Match.FULL:
                return Match.FULL, {}
            if match is Match.PARTIAL:
                # The path exists with other methods, so the Vearch app returns its own 405.
                best = Match.PARTIAL
        return best, {}

    def url_path_for(self, name: str, /, **path_params: object) -> None:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.mount.app
        if app is None:
            raise RuntimeError(f"the vector database {self.mount.folder} is closed")
        completed = False

        async def send_and_track(message: Message) -> None:
            nonlocal completed
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                completed = True
            await send(message)

        try:
            await app(_without_host_routing(scope), receive, send_and_track)
        except Exception:
            # Starlette's ServerErrorMiddleware raises the error again after the Vearch
            # app has logged it and sent its 500 envelope. The host's handlers would log
            # it a second time, so it stops here.
            if not completed:
                raise


def _without_host_routing(scope: Scope) -> Scope:
    return {key: value for key, value in scope.items() if key not in _HOST_ROUTING_KEYS}
