"""OpenAICompatibleGenerator against a small chat completions server run by the test."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qiao.errors import ConfigError, ModelError
from qiao.llm import ChatMessage, OpenAICompatibleGenerator

API_KEY = "sk-test-secret-123"
MESSAGES = [
    ChatMessage("system", "只根据资料回答。"),
    ChatMessage("user", "桥是什么？"),
]


class ChatHandler(BaseHTTPRequestHandler):
    """Implements /v1/chat/completions; the requested model name selects a behaviour.

    "echo" replies with "回答：" plus the last user message (cut to max_tokens
    characters), "broken" fails with HTTP 500, "slow" replies after two
    seconds, "garbage" returns a body that is not JSON, and "stream-error"
    sends one delta and then an error event.
    """

    server: ChatServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        if self.path != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._send_json(401, {"error": {"message": "invalid API key"}})
            return
        model = body["model"]
        if model == "broken":
            self._send_json(500, {"error": {"message": "model crashed"}})
            return
        if model == "garbage":
            self._send_raw(200, b"<html>not json</html>", "text/html")
            return
        if model == "slow":
            time.sleep(2)
        reply = "回答：" + body["messages"][-1]["content"]
        finish_reason = "length" if len(reply) > body["max_tokens"] else "stop"
        reply = reply[: body["max_tokens"]]
        if body.get("stream"):
            self._send_stream(reply, finish_reason, fail=model == "stream-error")
            return
        prompt_tokens = sum(len(message["content"]) for message in body["messages"])
        self._send_json(
            200,
            {
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(reply)},
            },
        )

    def _send_stream(self, reply: str, finish_reason: str, fail: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        for start in range(0, len(reply), 3):
            events.append(
                {"choices": [{"index": 0, "delta": {"content": reply[start : start + 3]}}]}
            )
            if fail:
                events.append({"error": {"message": "out of memory"}})
                break
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]})
        self.wfile.write(b": keep-alive comment\n\n")
        for event in events:
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def _send_json(self, status: int, payload: dict) -> None:
        self._send_raw(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _send_raw(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.requests: list[dict] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture(scope="module")
def server() -> Iterator[ChatServer]:
    chat_server = ChatServer()
    thread = threading.Thread(target=chat_server.serve_forever, daemon=True)
    thread.start()
    yield chat_server
    chat_server.shutdown()
    chat_server.server_close()


def make_generator(server: ChatServer, model: str = "echo", **options) -> OpenAICompatibleGenerator:
    options.setdefault("api_key", API_KEY)
    return OpenAICompatibleGenerator(server.base_url + "/", model=model, **options)


def test_generate_returns_completion(server: ChatServer) -> None:
    generator = make_generator(server)
    completion = generator.generate(MESSAGES, max_tokens=100, temperature=0.2, stop=["。"])
    generator.close()

    assert completion.text == "回答：桥是什么？"
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens == len("回答：桥是什么？")
    assert completion.prompt_tokens == len("只根据资料回答。") + len("桥是什么？")
    request = server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["messages"][0] == {"role": "system", "content": "只根据资料回答。"}
    assert request["body"]["max_tokens"] == 100
    assert request["body"]["temperature"] == 0.2
    assert request["body"]["stop"] == ["。"]
    assert request["body"]["stream"] is False


def test_generate_reports_length_finish(server: ChatServer) -> None:
    generator = make_generator(server)
    completion = generator.generate(MESSAGES, max_tokens=4)

    assert completion.text == "回答：桥"
    assert completion.finish_reason == "length"


def test_stream_yields_deltas(server: ChatServer) -> None:
    generator = make_generator(server)
    deltas = list(generator.stream(MESSAGES, max_tokens=100))

    assert deltas == ["回答：", "桥是什", "么？"]
    assert server.requests[-1]["body"]["stream"] is True


def test_stream_error_event_raises(server: ChatServer) -> None:
    generator = make_generator(server, model="stream-error")
    deltas = []
    with pytest.raises(ModelError, match="out of memory") as raised:
        for delta in generator.stream(MESSAGES):
            deltas.append(delta)

    assert deltas == ["回答："]
    assert server.base_url in str(raised.value)


def test_server_error_names_url_and_status(server: ChatServer) -> None:
    generator = make_generator(server, model="broken")
    with pytest.raises(ModelError) as raised:
        generator.generate(MESSAGES)

    message = str(raised.value)
    assert f"{server.base_url}/chat/completions" in message
    assert "HTTP 500" in message
    assert "model crashed" in message
    assert raised.value.params["status"] == 500


def test_stream_server_error_raises(server: ChatServer) -> None:
    generator = make_generator(server, model="broken")
    with pytest.raises(ModelError, match="HTTP 500: model crashed"):
        list(generator.stream(MESSAGES))


def test_wrong_key_hides_key(server: ChatServer) -> None:
    generator = make_generator(server, api_key="sk-wrong-key-456")
    with pytest.raises(ModelError) as raised:
        generator.generate(MESSAGES)

    message = str(raised.value)
    assert "HTTP 401" in message
    assert "QIAO_LLM_API_KEY" in message
    assert "sk-wrong-key-456" not in message
    assert "sk-wrong-key-456" not in repr(generator)


def test_wrong_path_hints_base_url(server: ChatServer) -> None:
    generator = OpenAICompatibleGenerator(
        server.base_url.removesuffix("/v1"), api_key=API_KEY, model="echo"
    )
    with pytest.raises(ModelError) as raised:
        generator.generate(MESSAGES)

    assert "HTTP 404" in str(raised.value)
    assert "QIAO_LLM_BASE_URL" in str(raised.value)


def test_invalid_json_raises(server: ChatServer) -> None:
    generator = make_generator(server, model="garbage")
    with pytest.raises(ModelError, match="unexpected response"):
        generator.generate(MESSAGES)


def test_timeout_raises(server: ChatServer) -> None:
    generator = make_generator(server, model="slow", timeout_s=0.3)
    with pytest.raises(ModelError, match="timed out after 0.3 s"):
        generator.generate(MESSAGES)


def test_connection_refused_names_url() -> None:
    # Bind a port, then close it so that nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = OpenAICompatibleGenerator(f"http://127.0.0.1:{port}/v1", API_KEY, "echo", 5.0)

    with pytest.raises(ModelError) as raised:
        generator.generate(MESSAGES)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in str(raised.value)
    assert API_KEY not in str(raised.value)

    with pytest.raises(ModelError, match="QIAO_LLM_BASE_URL"):
        list(generator.stream(MESSAGES))


def test_missing_settings_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="QIAO_LLM_BASE_URL"):
        OpenAICompatibleGenerator("", model="echo")
    with pytest.raises(ConfigError, match="QIAO_LLM_BASE_URL"):
        OpenAICompatibleGenerator("127.0.0.1:8000/v1", model="echo")
    with pytest.raises(ConfigError, match="QIAO_LLM_MODEL"):
        OpenAICompatibleGenerator("http://127.0.0.1:8000/v1", model="")
