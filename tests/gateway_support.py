"""A gateway run on 127.0.0.1 in a thread, and a slow OpenAI-compatible upstream server.

The upstream server stands for a remote model endpoint: it streams its reply
piece by piece with a delay, records every request body, and records when a
client closes the connection in the middle of a stream.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sample_data import PRODUCTS

from qiao.config import Settings
from qiao.gateway import build_server, create_app
from qiao.knowledge import KnowledgeBaseRegistry, LoadOptions, ingest_paths


@dataclass
class RunningGateway:
    base_url: str
    server: object
    app: object

    @property
    def state(self):
        return self.app.state.gateway


@contextmanager
def running_gateway(
    settings: Settings, auth: bool | None = None, routers: tuple = (), vectordb: object = None
) -> Iterator[RunningGateway]:
    """Serve ``settings`` on a free port of 127.0.0.1 until the block ends.

    ``vectordb`` is a VearchMount that adds Vearch's REST API, or None.
    """
    app = create_app(settings, auth=auth, routers=routers, vectordb=vectordb)
    server = build_server(app, "127.0.0.1", 0, graceful_timeout_s=5)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningGateway(f"http://127.0.0.1:{port}", server, app)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def build_product_kb(settings: Settings, folder: Path, name: str = "shop") -> None:
    """Create knowledge base ``name`` from the three product records of sample_data."""
    folder.mkdir(parents=True, exist_ok=True)
    records = folder / "products.jsonl"
    records.write_text(
        "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in PRODUCTS),
        encoding="utf-8",
    )
    registry = KnowledgeBaseRegistry(settings)
    registry.create(name)
    options = LoadOptions(id_field="sku", text_field="body", title_field="name")
    with registry.open(name) as kb:
        ingest_paths(kb, [records], options)


OFFTOPIC_REPLY = "今天天气很好。明天会下雨。后天刮大风。"


class UpstreamHandler(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions`` that replies "回答：" plus the last user message.

    The model "offtopic" replies with sentences about the weather instead. The
    reply streams in pieces of ``piece_chars`` characters, ``delay_s`` apart, and
    is cut to ``max_tokens`` characters.
    """

    server: UpstreamServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        reply = "回答：" + body["messages"][-1]["content"]
        if body["model"] == "offtopic":
            reply = OFFTOPIC_REPLY
        if self.server.fixed_reply:
            reply = self.server.fixed_reply
        reply = reply[: body["max_tokens"]]
        if not body.get("stream"):
            payload = json.dumps(
                {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": len(reply)},
                },
                ensure_ascii=False,
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        size = self.server.piece_chars
        try:
            for start in range(0, len(reply), size):
                delta = {"content": reply[start : start + size]}
                event = {"choices": [{"index": 0, "delta": delta}]}
                self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
                time.sleep(self.server.delay_s)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.server.completed += 1
        except (BrokenPipeError, ConnectionResetError):
            self.server.disconnects.append(time.monotonic())


class UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay_s: float = 0.0, piece_chars: int = 2) -> None:
        super().__init__(("127.0.0.1", 0), UpstreamHandler)
        self.delay_s = delay_s
        self.piece_chars = piece_chars
        self.requests: list[dict] = []
        self.disconnects: list[float] = []
        self.completed = 0
        # When set, every model replies with this text.
        self.fixed_reply = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def upstream_server(delay_s: float = 0.0, piece_chars: int = 2) -> Iterator[UpstreamServer]:
    server = UpstreamServer(delay_s, piece_chars)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def load_clean_settings(home: Path, **overrides: object) -> Settings:
    """Return settings for ``home`` that no QIAO_* variable of the test environment changes."""
    import os

    from qiao.config import load_settings

    saved = {name: value for name, value in os.environ.items() if name.startswith("QIAO_")}
    for name in saved:
        if name != "QIAO_DATA_DIR":
            del os.environ[name]
    try:
        return load_settings(home, **overrides)
    finally:
        os.environ.update(saved)
