"""``qiao vectordb serve``: serve a vector database folder with Vearch's REST API."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from qiao.cli.common import HomeOption, LangOption, console, error_console, setup, t
from qiao.errors import LockedError
from qiao.vectordb import Engine
from qiao.vectordb.server.runner import VectorDBServer
from qiao.vectordb.server.settings import (
    DEFAULT_PORT,
    ServerSettings,
    root_password_from_environment,
)

__all__ = ["app"]

logger = logging.getLogger(__name__)

app = typer.Typer(help="Run the vector database. / 运行向量数据库。", no_args_is_help=True)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port of the Vearch router API (all routes).")
    ] = DEFAULT_PORT,
    master_port: Annotated[
        int | None,
        typer.Option(
            help="Also serve the Vearch master routes on this port (Vearch uses 8817).",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Vector database folder (default: the vectordb folder of the Qiao home).",
            show_default=False,
        ),
    ] = None,
    skip_auth: Annotated[
        bool, typer.Option(help="Accept requests without HTTP Basic authentication.")
    ] = False,
    home: HomeOption = None,
    lang: LangOption = None,
) -> None:
    """Serve a vector database with Vearch's REST API until Ctrl+C.

    The password of the user root is $QIAO_VECTORDB_ROOT_PASSWORD, or "secret".
    """
    settings = setup(home, lang)
    folder = data or settings.vectordb_dir
    options = ServerSettings(
        host=host,
        port=port,
        master_port=master_port,
        root_password=root_password_from_environment(),
        skip_auth=skip_auth,
    )
    try:
        engine = Engine(folder)
    except LockedError as error:
        # The engine's own message speaks of knowledge bases, its most common writer.
        raise LockedError(
            f"{error}; is another qiao vectordb serve running on it?",
            key="vectordb.serve_locked",
            path=str(folder),
            pid=error.params.get("pid"),
        ) from None
    with engine:
        server = VectorDBServer(engine, options)
        logger.info("starting the vector database server for %s", folder)
        console.print(t("vectordb_serving", path=str(folder), url=f"http://{host}:{port}"))
        if master_port is not None:
            console.print(t("vectordb_master", url=f"http://{host}:{master_port}"))
        if skip_auth:
            error_console.print(t("vectordb_no_auth"), style="yellow")
        server.run()
    # Closing the engine above wrote a snapshot of every open space.
    logger.info("stopped the vector database server for %s", folder)
    console.print(t("vectordb_stopped"))
