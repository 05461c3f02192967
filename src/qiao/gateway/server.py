"""Run the gateway app with uvicorn, rejecting queued requests as soon as shutdown begins."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from fastapi import FastAPI

from qiao.gateway.state import GatewayState

__all__ = ["GatewayServer", "build_server"]

logger = logging.getLogger(__name__)


class GatewayServer(uvicorn.Server):
    """A uvicorn server that notifies the gateway of shutdown before it waits for requests.

    uvicorn waits for running requests before it runs the app's shutdown, so
    requests waiting in a queue would otherwise keep waiting. They now get 503.
    """

    def __init__(self, config: uvicorn.Config, state: GatewayState) -> None:
        super().__init__(config)
        self.gateway = state

    async def shutdown(self, sockets: Any = None) -> None:
        await self.gateway.begin_shutdown()
        await super().shutdown(sockets)


def build_server(
    app: FastAPI, host: str, port: int, graceful_timeout_s: float | None = 30.0
) -> GatewayServer:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=graceful_timeout_s,
        # uvicorn's own access log would duplicate the audit log.
        access_log=False,
    )
    return GatewayServer(config, app.state.gateway)
