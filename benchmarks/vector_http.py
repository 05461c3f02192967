"""Qiao's vector database over HTTP: a `qiao vectordb serve` subprocess and a keep-alive client.

The server opens an engine folder that the benchmark built and closed, so
HTTP and embedded searches run on the same snapshot. Requests use Vearch's
``POST /document/search`` body and HTTP Basic authentication as root.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.vector_harness import DB

logger = logging.getLogger(__name__)

STARTUP_SECONDS = 120
ROOT_PASSWORD = "bench-" + secrets.token_hex(8)
AUTH = ("root", ROOT_PASSWORD)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_command(engine_path: Path, port: int) -> list[str]:
    """Return the command line that serves ``engine_path`` on 127.0.0.1:``port``."""
    return [
        sys.executable,
        "-c",
        "from qiao.cli.app import main; main()",
        "vectordb",
        "serve",
        "--data",
        str(engine_path),
        "--home",
        str(engine_path.parent / "home"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@contextmanager
def running_server(engine_path: Path, threads: int) -> Iterator[str]:
    """Start the server on a free port, yield its base URL, stop it on exit."""
    import httpx

    port = free_port()
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "QIAO_VECTORDB_ROOT_PASSWORD": ROOT_PASSWORD,
    }
    log = open(engine_path.parent / "server.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        serve_command(engine_path, port), env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with code {process.returncode}; "
                    f"see {engine_path.parent / 'server.log'}"
                )
            try:
                httpx.get(f"{url}/dbs/{DB}", auth=AUTH, timeout=2)
                break
            except httpx.TransportError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the server did not answer within {STARTUP_SECONDS} s"
                    ) from error
                time.sleep(0.2)
        logger.info("server %s is up (pid %d)", url, process.pid)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def search_body(space: str, query: np.ndarray, k: int, index_params: dict[str, Any]) -> dict:
    """Return the ``POST /document/search`` body for one query vector, returning ``_id`` only."""
    return {
        "db_name": DB,
        "space_name": space,
        "vectors": [{"field": "emb", "feature": query.tolist()}],
        "limit": k,
        "fields": ["_id"],
        "index_params": index_params,
    }


def hit_ids(status: int, payload: dict) -> np.ndarray:
    """Return the row ids of a search response, or raise if the search failed."""
    if status != 200 or payload.get("code", 0) != 0:
        raise RuntimeError(f"search failed: HTTP {status} {payload}")
    hits = payload["data"]["documents"][0]
    return np.fromiter((int(hit["_id"]) for hit in hits), dtype=np.int64, count=len(hits))


class HttpSearcher:
    """Searches one query vector with ``POST /document/search`` on one keep-alive connection.

    ``client`` is "httpx" or "http.client" (the standard library). httpx costs
    more on the client side, and more the longer the server takes to respond.
    ``query`` is appended to the path, such as "?timeout=60000".
    """

    def __init__(
        self, url: str, space: str, k: int, client: str = "httpx", query: str = ""
    ) -> None:
        self._path = "/document/search" + query
        self._url = url
        self._space = space
        self._k = k
        self._kind = client
        self._connect()

    def _connect(self) -> None:
        if self._kind == "httpx":
            import httpx

            self._client = httpx.Client(base_url=self._url, auth=AUTH, timeout=60)
            return
        host, port = self._url.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=60)
        token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
        self._headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}

    def search(self, query: np.ndarray, index_params: dict[str, Any]) -> np.ndarray:
        body = search_body(self._space, query, self._k, index_params)
        if self._kind == "httpx":
            response = self._client.post(self._path, json=body)
            return hit_ids(response.status_code, response.json())
        try:
            return self._stdlib_post(body)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closes a keep-alive connection after 5 idle seconds.
            self._connection.close()
            self._connect()
            return self._stdlib_post(body)

    def _stdlib_post(self, body: dict) -> np.ndarray:
        self._connection.request("POST", self._path, json.dumps(body), self._headers)
        response = self._connection.getresponse()
        return hit_ids(response.status, json.loads(response.read()))

    def close(self) -> None:
        if self._kind == "httpx":
            self._client.close()
        else:
            self._connection.close()
