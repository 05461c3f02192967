"""``qiao serve``: the OpenAI-compatible API and Vearch's REST API on one port."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qiao.cli.common import HomeOption, LangOption, console, error_console, setup, t
from qiao.config import Settings
from qiao.errors import ConfigError, LockedError

if TYPE_CHECKING:
    from qiao.vectordb.server.mount import VearchMount

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
    vectordb: Annotated[
        bool | None,
        typer.Option(
            "--vectordb/--no-vectordb",
            help="Also serve the vector database with Vearch's REST API on this port "
            "(default: gateway.vectordb, on).",
            show_default=False,
        ),
    ] = None,
    vectordb_data: Annotated[
        Path | None,
        typer.Option(
            help="Vector database folder of the Vearch API (default: gateway.vectordb_data, "
            "or the vectordb folder of the Qiao home, as for qiao vectordb serve).",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
    lang: LangOption = None,
) -> None:
    """Serve chat completions, embeddings and models over OpenAI's HTTP API.

    The same port serves the vector database with Vearch's REST API unless
    --no-vectordb is given; the password of its user root is
    $QIAO_VECTORDB_ROOT_PASSWORD, or "secret".
    """
    overrides = {
        "gateway.host": host,
        "gateway.port": port,
        "gateway.vectordb": vectordb,
        "gateway.vectordb_data": str(vectordb_data) if vectordb_data else None,
    }
    settings = setup(home, lang, **overrides)
    if logging.getLogger().level > logging.INFO:
        # A server logs its start, stop and errors, whatever the CLI's quiet default.
        logging.getLogger("qiao").setLevel(logging.INFO)

    from qiao.gateway import build_server, create_app
    from qiao.gateway.access import auth_required

    gateway = settings.gateway
    # Bind before loading anything, so that a busy port fails at once with a clear message.
    listening = bind_socket(gateway.host, gateway.port)
    mount = None
    try:
        if gateway.vectordb:
            # Opened before start-up, so that a locked folder fails with a clear message.
            mount = open_vectordb(settings)
        required = auth if auth is not None else auth_required(gateway.auth, gateway.host)
        app = create_app(settings, auth=required, vectordb=mount)
        catalog = app.state.gateway.catalog
        if preload:
            console.print(t("serve_loading"))
            catalog.preload()
        print_addresses(settings, catalog.model_ids(), required, mount)
        try:
            build_server(app, gateway.host, gateway.port).run(sockets=[listening])
        except KeyboardInterrupt:
            # uvicorn stops gracefully on Ctrl+C and then raises the signal again.
            pass
    finally:
        listening.close()
        # The app's shutdown closes the engine; this covers a failure before the server ran.
        if mount is not None:
            mount.close()
    console.print(t("serve_stopped"))


def print_addresses(
    settings: Settings, models: list[str], auth: bool, mount: VearchMount | None
) -> None:
    """Print where each API listens and how it authenticates."""
    from qiao.gateway.access import is_loopback
    from qiao.vectordb.server.settings import DEFAULT_ROOT_PASSWORD

    host = settings.gateway.host
    base_url = f"http://{host}:{settings.gateway.port}"
    console.print(t("serve_started", url=base_url + "/v1", models=", ".join(models) or "-"))
    console.print(t("serve_auth_on") if auth else t("serve_auth_off"))
    if mount is None:
        return
    console.print(t("serve_vectordb", path=str(mount.folder), url=base_url))
    if mount.settings.root_password == DEFAULT_ROOT_PASSWORD and not is_loopback(host):
        error_console.print(t("serve_vectordb_default_password", host=host), style="yellow")


def open_vectordb(settings: Settings) -> VearchMount:
    """Open the engine folder of the Vearch API; raise LockedError when another writer has it."""
    from qiao.vectordb.server.mount import VearchMount
    from qiao.vectordb.server.settings import ServerSettings, root_password_from_environment

    configured = settings.gateway.vectordb_data
    folder = Path(configured).expanduser() if configured else settings.vectordb_dir
    options = ServerSettings(
        host=settings.gateway.host,
        port=settings.gateway.port,
        root_password=root_password_from_environment(),
    )
    mount = VearchMount(folder, options)
    try:
        mount.open()
    except LockedError as error:
        # A new key, because the engine's translated message speaks of knowledge-base data.
        raise LockedError(
            f"{error}; is qiao vectordb serve or another qiao serve running on it? "
            "Pass --vectordb-data with another folder or --no-vectordb",
            key="serve.vectordb_locked",
            path=str(folder),
            pid=error.params.get("pid"),
        ) from None
    return mount


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
