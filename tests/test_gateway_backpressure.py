"""Backpressure of the gateway against a slow remote model: 429 when full, 504, 503, disconnects.

The remote model is a local OpenAI-compatible server that streams its reply
in two-character pieces 0.1 s apart, so a request takes about a second. The
gateway runs it one request at a time with one more waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_support import (
    RunningGateway,
    UpstreamServer,
    build_product_kb,
    load_clean_settings,
    running_gateway,
    upstream_server,
)

# Reply "回答：" plus 17 characters: 10 pieces, about 1 s.
QUESTION = "请慢慢地把这句话原样复述一遍好吗"


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    with upstream_server(delay_s=0.1) as server:
        yield server


def settings_for(home: Path, upstream: UpstreamServer, **overrides: object):
    return load_clean_settings(
        home,
        **{
            "generator.kind": "openai",
            "generator.base_url": upstream.base_url,
            "generator.model": "slow",
            "gateway.concurrency": 1,
            "gateway.queue_size": 1,
            "gateway.retry_after_s": 3,
            **overrides,
        },
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, upstream: UpstreamServer) -> Iterator[RunningGateway]:
    settings = settings_for(tmp_path_factory.mktemp("home"), upstream)
    # kb:shop answers through the slow model, which echoes the whole prompt.
    build_product_kb(settings, tmp_path_factory.mktemp("data"))
    with running_gateway(settings) as running:
        yield running


def body(stream: bool = False) -> dict:
    return {"model": "slow", "messages": [{"role": "user", "content": QUESTION}], "stream": stream}


def post_in_thread(url: str, payload: dict, results: list) -> threading.Thread:
    def send() -> None:
        response = httpx.post(url + "/v1/chat/completions", json=payload, timeout=30)
        results.append(response)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def queue_state(gateway: RunningGateway) -> dict:
    return httpx.get(gateway.base_url + "/health").json()["queues"]["slow"]


def test_full_queue_rejects_with_retry_after(
    gateway: RunningGateway, upstream: UpstreamServer
) -> None:
    results: list[httpx.Response] = []
    sent = len(upstream.requests)
    first = post_in_thread(gateway.base_url, body(), results)
    wait_for(lambda: len(upstream.requests) == sent + 1)
    second = post_in_thread(gateway.base_url, body(), results)
    wait_for(lambda: queue_state(gateway)["waiting"] == 1)

    rejected = httpx.post(gateway.base_url + "/v1/chat/completions", json=body(), timeout=30)
    first.join()
    second.join()

    assert rejected.status_code == 429
    assert rejected.headers["Retry-After"] == "3"
    assert rejected.json()["error"]["type"] == "rate_limit_error"
    assert "1 requests running and 1 waiting" in rejected.json()["error"]["message"]
    assert [response.status_code for response in results] == [200, 200]
    assert all(r.json()["choices"][0]["message"]["content"] == "回答：" + QUESTION for r in results)
    assert queue_state(gateway) == {"running": 0, "waiting": 0}


def test_disconnect_stops_generation(gateway: RunningGateway, upstream: UpstreamServer) -> None:
    disconnects = len(upstream.disconnects)
    completed = upstream.completed
    with httpx.Client(timeout=30) as client:
        with client.stream(
            "POST", gateway.base_url + "/v1/chat/completions", json=body(stream=True)
        ) as response:
            lines = response.iter_lines()
            # The role chunk, then the first content chunk.
            first_content = next(line for line in lines if '"content": "回答' in line)
    closed_at = time.monotonic()

    wait_for(lambda: len(upstream.disconnects) > disconnects, timeout=5)
    wait_for(lambda: queue_state(gateway)["running"] == 0, timeout=5)
    assert first_content.startswith("data: ")
    # The upstream stream was cut well before its 1 s end.
    assert upstream.disconnects[-1] - closed_at < 0.8
    assert upstream.completed == completed


def test_disconnect_frees_slot_for_next(gateway: RunningGateway, upstream: UpstreamServer) -> None:
    with httpx.Client(timeout=30) as client:
        with client.stream(
            "POST", gateway.base_url + "/v1/chat/completions", json=body(stream=True)
        ) as response:
            next(line for line in response.iter_lines() if '"content": "回答' in line)
    began = time.monotonic()
    response = httpx.post(gateway.base_url + "/v1/chat/completions", json=body(), timeout=30)

    assert response.status_code == 200
    # One full generation takes about 1 s; waiting for the abandoned one would take longer.
    assert time.monotonic() - began < 1.8


def test_whole_request_disconnect_stops_generation(
    gateway: RunningGateway, upstream: UpstreamServer
) -> None:
    disconnects = len(upstream.disconnects)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.base_url + "/v1/chat/completions", json=body(), timeout=0.3)

    wait_for(lambda: len(upstream.disconnects) > disconnects, timeout=5)
    wait_for(lambda: queue_state(gateway)["running"] == 0, timeout=5)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_client_leaving_queue_frees_place(
    gateway: RunningGateway, upstream: UpstreamServer, stream: bool
) -> None:
    results: list[httpx.Response] = []
    sent = len(upstream.requests)
    first = post_in_thread(gateway.base_url, body(), results)
    wait_for(lambda: len(upstream.requests) == sent + 1)
    # This client waits behind the first request, then gives up.
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.base_url + "/v1/chat/completions", json=body(stream), timeout=0.3)

    wait_for(lambda: queue_state(gateway)["waiting"] == 0, timeout=0.6)
    admitted = httpx.post(gateway.base_url + "/v1/chat/completions", json=body(), timeout=30)
    first.join()

    assert admitted.status_code == 200
    assert results[0].status_code == 200
    # The client that left never reached the model.
    assert len(upstream.requests) == sent + 2


def test_timeout_returns_504(tmp_path: Path, upstream: UpstreamServer) -> None:
    settings = settings_for(tmp_path, upstream, **{"gateway.request_timeout_s": 0.4})
    with running_gateway(settings) as gateway:
        whole = httpx.post(gateway.base_url + "/v1/chat/completions", json=body(), timeout=30)
        streamed = httpx.post(
            gateway.base_url + "/v1/chat/completions", json=body(stream=True), timeout=30
        )

    assert whole.status_code == 504
    assert whole.json()["error"]["type"] == "timeout_error"
    assert "gateway.request_timeout_s" in whole.json()["error"]["message"]
    # A stream has sent its status line already, so the timeout arrives as an error event.
    assert streamed.status_code == 200
    assert '"type": "timeout_error"' in streamed.text
    assert streamed.text.endswith("data: [DONE]\n\n")


def test_shutdown_rejects_waiting_requests(tmp_path: Path, upstream: UpstreamServer) -> None:
    results: list[httpx.Response] = []
    with running_gateway(settings_for(tmp_path, upstream)) as gateway:
        sent = len(upstream.requests)
        first = post_in_thread(gateway.base_url, body(), results)
        wait_for(lambda: len(upstream.requests) == sent + 1)
        waiting: list[httpx.Response] = []
        second = post_in_thread(gateway.base_url, body(), waiting)
        wait_for(lambda: queue_state(gateway)["waiting"] == 1)
        gateway.server.should_exit = True
        second.join(timeout=10)
        first.join(timeout=10)

    assert waiting[0].status_code == 503
    assert waiting[0].json()["error"]["code"] == "shutting_down"
    assert results[0].status_code == 200


def test_kb_disconnect_stops_between_tokens(
    gateway: RunningGateway, upstream: UpstreamServer
) -> None:
    """A kb: answer is released sentence by sentence, but a disconnect stops it sooner."""
    # 60 characters without a sentence end: 30 pieces, about 3 s, before any release.
    upstream.fixed_reply = "很" * 60
    disconnects = len(upstream.disconnects)
    payload = {
        "model": "kb:shop",
        "messages": [{"role": "user", "content": "青瓷茶杯多少钱？"}],
        "cache": False,
    }
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(gateway.base_url + "/v1/chat/completions", json=payload, timeout=0.5)
        gave_up = time.monotonic()
        wait_for(lambda: len(upstream.disconnects) > disconnects, timeout=10)
        wait_for(lambda: queue_state(gateway)["running"] == 0, timeout=5)
    finally:
        upstream.fixed_reply = ""

    assert upstream.disconnects[-1] - gave_up < 1.0


def test_identical_questions_share_generation(
    gateway: RunningGateway, upstream: UpstreamServer
) -> None:
    upstream.fixed_reply = "青瓷茶杯售价88元。"
    sent = len(upstream.requests)
    payload = {"model": "kb:shop", "messages": [{"role": "user", "content": "青瓷茶杯卖多少钱？"}]}
    results: list[httpx.Response] = []
    try:
        threads = [post_in_thread(gateway.base_url, payload, results) for _ in range(3)]
        for thread in threads:
            thread.join()
    finally:
        upstream.fixed_reply = ""
    statuses = sorted(response.headers["X-Qiao-Cache"] for response in results)
    contents = {response.json()["choices"][0]["message"]["content"] for response in results}

    assert [response.status_code for response in results] == [200, 200, 200]
    assert statuses == ["miss", "shared", "shared"]
    assert len(contents) == 1
    assert "88元" in contents.pop()
    assert len(upstream.requests) == sent + 1
