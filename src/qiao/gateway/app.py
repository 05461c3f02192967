"""The FastAPI application behind ``qiao serve``.

Further APIs join the same app and port through ``routers``: for example the
vector database routes, ``create_app(settings, routers=[vectordb_router])``.
Their errors get OpenAI's shape unless they register handlers of their own on
the app for their exception classes (Starlette picks the handler of the most
specific class). The gateway's API keys apply only to the routes here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request

from qiao import __version__
from qiao.config import Settings
from qiao.gateway import catalog_routes, chat
from qiao.gateway.access import auth_required, authenticate
from qiao.gateway.errors import APIError, install_error_handlers
from qiao.gateway.state import GatewayState

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    auth: bool | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the gateway app for ``settings``.

    ``auth`` forces API keys on or off; by default ``gateway.auth`` decides
    ("auto": on unless ``gateway.host`` is a loopback address).
    """
    if auth is None:
        auth = auth_required(settings.gateway.auth, settings.gateway.host)
    state = GatewayState(settings, auth)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info(
            "gateway started: models %s, API keys %s",
            ", ".join(state.catalog.model_ids()) or "none",
            "required" if auth else "not required",
        )
        yield
        await state.begin_shutdown()
        await state.close()

    app = FastAPI(
        title="Qiao",
        version=__version__,
        description="OpenAI-compatible chat completions, embeddings and models.",
        lifespan=lifespan,
    )
    app.state.gateway = state
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

    # The place where other Qiao APIs, such as the vector database, join this app.
    for router in routers:
        app.include_router(router)
    return app
