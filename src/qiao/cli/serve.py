"""``qiao serve``: the OpenAI-compatible API on one port."""

from __future__ import annotations

import logging
import socket
from typing import Annotated

import typer

from qiao.cli.common import HomeOption, LangOption, console, setup, t
from qiao.errors import ConfigError

__all__ = ["serve"]

logger = logging.getLogger(__name__)


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: gateway.host, 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port to listen on (default: gateway.port, 8000).")
    ] = None,
    auth: Annotated[
        bool | None,
        typer.Option(
            "--auth/--no-auth",
            help="Require API keys from 'qiao keys create' (default: required unless the host "
            "is a loopback address).",
            show_default=False,
        ),
    ] = None,
    preload: Annotated[
        bool, typer.Option(help="Load the models before accepting requests.")
    ] = True,
    home: HomeOption = None,
    lang: LangOption = None,
) -> None:
    """Serve chat completions, embeddings and models over OpenAI's HTTP API."""
    settings = setup(home, lang, **{"gateway.host": host, "gateway.port": port})
    if logging.getLogger().level > logging.INFO:
        # A server logs its start, stop and errors, whatever the CLI's quiet default.
        logging.getLogger("qiao").setLevel(logging.INFO)

    from qiao.gateway import build_server, create_app
    from qiao.gateway.access import auth_required

    gateway = settings.gateway
    # Bind before loading anything, so that a busy port fails at once with a clear message.
    listening = bind_socket(gateway.host, gateway.port)
    required = auth if auth is not None else auth_required(gateway.auth, gateway.host)
    app = create_app(settings, auth=required)
    catalog = app.state.gateway.catalog
    if preload:
        console.print(t("serve_loading"))
        catalog.preload()
    url = f"http://{gateway.host}:{gateway.port}/v1"
    console.print(t("serve_started", url=url, models=", ".join(catalog.model_ids()) or "-"))
    console.print(t("serve_auth_on") if required else t("serve_auth_off"))
    try:
        build_server(app, gateway.host, gateway.port).run(sockets=[listening])
    except KeyboardInterrupt:
        # uvicorn stops gracefully on Ctrl+C and then raises the signal again.
        pass
    console.print(t("serve_stopped"))


def bind_socket(host: str, port: int) -> socket.socket:
    """Return a socket bound to ``host:port``, or raise ConfigError naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {error.strerror}; stop the program that uses the "
            "port or choose another with --port",
            key="serve_bind_failed",
            host=host,
            port=port,
            detail=error.strerror,
        ) from error
    return listening
