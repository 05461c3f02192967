"""A real Vearch-compatible server on 127.0.0.1 for tests: ``start_server(data_dir, **settings)``.

The server runs uvicorn in a background thread of the test process, on free
ports chosen by the operating system.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiao.vectordb import Engine
from qiao.vectordb.server.runner import VectorDBServer
from qiao.vectordb.server.settings import ServerSettings

__all__ = ["ROOT_AUTH", "start_server"]

ROOT_AUTH = ("root", "secret")


def start_server(
    data_dir: str | Path, *, with_master: bool = False, **settings: Any
) -> tuple[str, Callable[[], None]]:
    """Start a server over an engine in ``data_dir`` and return ``(base_url, stop)``.

    ``settings`` are ServerSettings fields (``skip_auth``, ``root_password``, ...).
    With ``with_master`` the master listener runs too; its URL is ``stop.master_url``.
    ``stop()`` stops the server and closes the engine, which is ``stop.engine``.
    """
    engine = Engine(data_dir)
    options = ServerSettings(port=0, master_port=0 if with_master else None, **settings)
    server = VectorDBServer(engine, options)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as error:  # reported by start_server
            errors.append(error)

    thread = threading.Thread(target=run, name="vectordb-server", daemon=True)
    thread.start()
    if not server.started.wait(timeout=30):
        server.stop()
        thread.join(timeout=10)
        engine.close()
        raise RuntimeError(f"the vector database server did not start: {errors}")
    ports = server.ports()

    def stop() -> None:
        server.stop()
        thread.join(timeout=30)
        engine.close()

    stop.engine = engine  # type: ignore[attr-defined]
    if with_master:
        stop.master_url = f"http://127.0.0.1:{ports[1]}"  # type: ignore[attr-defined]
    return f"http://127.0.0.1:{ports[0]}", stop
