"""Running the app with uvicorn: the router port and, optionally, the master port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

import uvicorn

from qiao.vectordb.engine import Engine
from qiao.vectordb.server.app import create_app
from qiao.vectordb.server.settings import ServerSettings

__all__ = ["VectorDBServer", "serve"]

logger = logging.getLogger(__name__)


class _Listener(uvicorn.Server):
    """A uvicorn server that leaves signal handling to VectorDBServer."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class VectorDBServer:
    """The REST server of one engine: a router listener and an optional master listener.

    ``run()`` blocks until ``stop()`` is called or, when run in the main thread,
    until SIGINT or SIGTERM. It does not close the engine.
    """

    def __init__(self, engine: Engine, settings: ServerSettings) -> None:
        self.settings = settings
        router_app = create_app(engine, settings)
        self._listeners = [self._listener(router_app, settings.port)]
        if settings.master_port is not None:
            master_app = create_app(
                engine, settings, master_only=True, state=router_app.state.vearch
            )
            self._listeners.append(self._listener(master_app, settings.master_port))
        self.started = threading.Event()

    def _listener(self, app: object, port: int) -> _Listener:
        config = uvicorn.Config(
            app,
            host=self.settings.host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        return _Listener(config)

    def ports(self) -> list[int]:
        """Return the bound ports, router first; useful when the settings ask for port 0."""
        ports = []
        for listener in self._listeners:
            for server in listener.servers:
                for sock in server.sockets:
                    ports.append(sock.getsockname()[1])
                    break
                break
        return ports

    def stop(self) -> None:
        for listener in self._listeners:
            listener.should_exit = True

    async def _serve(self) -> None:
        tasks = [asyncio.create_task(listener.serve()) for listener in self._listeners]
        while not all(listener.started for listener in self._listeners):
            if any(task.done() for task in tasks):
                # A listener that failed to start (port in use) stops the others.
                self.stop()
                break
            await asyncio.sleep(0.02)
        else:
            logger.info(
                "vector database server listening on %s ports %s", self.settings.host, self.ports()
            )
            self.started.set()
        await asyncio.gather(*tasks)

    def run(self) -> None:
        """Serve until stopped; raise OSError when a port could not be bound."""
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = {}
        if in_main_thread:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._handle_signal)
        try:
            asyncio.run(self._serve())
        except SystemExit:
            # uvicorn exits with status 1 when it cannot bind a port; it has logged why.
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if not self.started.is_set():
            raise OSError(
                f"could not listen on {self.settings.host} port(s) "
                f"{[self.settings.port, self.settings.master_port]}; is another server using them?"
            )
        logger.info("vector database server stopped")

    def _handle_signal(self, signum: int, frame: object) -> None:
        logger.info("received %s, stopping the vector database server", signal.Signals(signum).name)
        self.stop()


def serve(engine: Engine, settings: ServerSettings | None = None) -> None:
    """Serve ``engine`` until SIGINT or SIGTERM; the caller closes the engine afterwards."""
    VectorDBServer(engine, settings or ServerSettings()).run()
