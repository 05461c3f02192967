"""The FastAPI application behind ``qiao serve``.

The vector database joins the same port through ``vectordb``, a VearchMount:
its requests go to the Vearch app whole, with Vearch's Basic auth, envelope
and error handlers, and the app opens and closes its engine at start-up and
shutdown. Further APIs join through ``routers``. Their errors get OpenAI's
shape unless they register handlers of their own on the app for their
exception classes (Starlette picks the handler of the most specific class).
The gateway's API keys apply only to the gateway's own routes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request

from qiao import __version__
from qiao.config import Settings
from qiao.gateway import catalog_routes, chat
from qiao.gateway.access import auth_required, authenticate
from qiao.gateway.errors import APIError, install_error_handlers
from qiao.gateway.state import GatewayState

if TYPE_CHECKING:
    from qiao.vectordb.server.mount import VearchMount

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    auth: bool | None = None,
    routers: Sequence[APIRouter] = (),
    vectordb: VearchMount | None = None,
) -> FastAPI:
    """Build the gateway app for ``settings``.

    ``auth`` forces API keys on or off; by default ``gateway.auth`` decides
    ("auto": on unless ``gateway.host`` is a loopback address). ``vectordb``
    adds Vearch's REST API; the app opens it at start-up unless the caller
    already has, and closes it at shutdown.
    """
    if auth is None:
        auth = auth_required(settings.gateway.auth, settings.gateway.host)
    state = GatewayState(settings, auth)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if vectordb is not None:
            vectordb.open()
        logger.info(
            "gateway started: models %s, API keys %s, Vearch API %s",
            ", ".join(state.catalog.model_ids()) or "none",
            "required" if auth else "not required",
            vectordb.folder if vectordb is not None else "off",
        )
        yield
        try:
            await state.begin_shutdown()
            await state.close()
        finally:
            if vectordb is not None:
                vectordb.close()

    app = FastAPI(
        title="Qiao",
        version=__version__,
        description="OpenAI-compatible chat completions, embeddings and models.",
        lifespan=lifespan,
    )
    app.state.gateway = state
    app.state.vectordb = vectordb
    install_error_handlers(app)
    app.include_router(chat.router)
    app.include_router(catalog_routes.router)

    @app.get("/health")
    async def health(request: Request) -> dict[str, object]:
        """Return the status and, to callers with a valid key when auth is on, the queues."""
        try:
            authenticate(request, state.keys, auth)
        except APIError:
            # Model and knowledge-base names are not shown without a key.
            return {"status": "ok", "version": __version__}
        queues = {
            queue.name: {"running": queue.running, "waiting": queue.waiting}
            for queue in state.catalog.queues()
        }
        return {"status": "ok", "version": __version__, "queues": queues}

    # The place where other Qiao APIs join this app.
    for router in routers:
        app.include_router(router)
    if vectordb is not None:
        # Last, so that every gateway route matches first.
        app.router.routes.append(vectordb.route)
    return app
