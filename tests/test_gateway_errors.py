"""Invalid requests to the gateway get OpenAI-style errors with the right status, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from gateway_support import (
    RunningGateway,
    build_product_kb,
    load_clean_settings,
    running_gateway,
    upstream_server,
)

USER = [{"role": "user", "content": "青瓷茶杯多少钱？"}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with upstream_server() as upstream:
        settings = load_clean_settings(
            tmp_path_factory.mktemp("home"),
            **{
                "generator.kind": "extractive",
                "generator.base_url": upstream.base_url,
                "generator.model": "echo",
                "gateway.max_body_bytes": 1_000_000,
            },
        )
        build_product_kb(settings, tmp_path_factory.mktemp("data"))
        with running_gateway(settings) as running:
            yield running


def chat(**fields):
    return {"model": "kb:shop", "messages": USER, **fields}


# (case, request body, status, error type, param, text the message contains)
CHAT_CASES = [
    (
        "malformed json",
        b'{"model": "kb:shop", "messages": [',
        400,
        "invalid_request_error",
        None,
        "not valid JSON",
    ),
    ("json array", b"[]", 400, "invalid_request_error", None, "must be a JSON object"),
    ("empty body", b"", 400, "invalid_request_error", None, "body is empty"),
    ("missing model", {"messages": USER}, 400, "invalid_request_error", "model", "missing 'model'"),
    (
        "unknown model",
        chat(model="gpt-9"),
        404,
        "invalid_request_error",
        "model",
        "model 'gpt-9' not found",
    ),
    ("unknown kb", chat(model="kb:nothing"), 404, "invalid_request_error", "model", "kb:shop"),
    (
        "missing messages",
        {"model": "kb:shop"},
        400,
        "invalid_request_error",
        "messages",
        "missing 'messages'",
    ),
    ("empty messages", chat(messages=[]), 400, "invalid_request_error", "messages", "is empty"),
    (
        "messages not list",
        chat(messages="hi"),
        400,
        "invalid_request_error",
        "messages",
        "must be a list",
    ),
    (
        "tool role",
        chat(messages=[{"role": "tool", "content": "x"}]),
        400,
        "invalid_request_error",
        "messages[0].role",
        "invalid role 'tool'",
    ),
    (
        "unknown role",
        chat(messages=[{"role": "wizard", "content": "x"}]),
        400,
        "invalid_request_error",
        "messages[0].role",
        "use system, user or assistant",
    ),
    (
        "no user message",
        chat(messages=[{"role": "system", "content": "x"}]),
        400,
        "invalid_request_error",
        "messages",
        "no user message",
    ),
    (
        "content number",
        chat(messages=[{"role": "user", "content": 42}]),
        400,
        "invalid_request_error",
        "messages[0].content",
        "must be a string",
    ),
    (
        "image part",
        chat(messages=[{"role": "user", "content": [{"type": "image_url"}]}]),
        400,
        "invalid_request_error",
        "messages[0].content",
        "text only",
    ),
    (
        "huge message",
        chat(messages=[{"role": "user", "content": "茶" * 100_000}]),
        400,
        "invalid_request_error",
        "messages",
        "100000 characters; the maximum is 32000",
    ),
    (
        "long question",
        chat(messages=[{"role": "user", "content": "茶" * 3000}]),
        400,
        "invalid_request_error",
        None,
        "the maximum is 2000",
    ),
    (
        "assistant last",
        chat(messages=[*USER, {"role": "assistant", "content": "88元"}]),
        400,
        "invalid_request_error",
        "messages",
        "must come from the user",
    ),
    (
        "negative max_tokens",
        chat(max_tokens=-1),
        400,
        "invalid_request_error",
        "max_tokens",
        "positive whole number",
    ),
    (
        "text max_tokens",
        chat(max_tokens="ten"),
        400,
        "invalid_request_error",
        "max_tokens",
        "positive whole number",
    ),
    (
        "temperature 7",
        chat(temperature=7),
        400,
        "invalid_request_error",
        "temperature",
        "from 0 to 2",
    ),
    (
        "temperature text",
        chat(temperature="hot"),
        400,
        "invalid_request_error",
        "temperature",
        "from 0 to 2",
    ),
    (
        "five stops",
        chat(stop=["a", "b", "c", "d", "e"]),
        400,
        "invalid_request_error",
        "stop",
        "maximum is 4",
    ),
    ("empty stop", chat(stop=[""]), 400, "invalid_request_error", "stop", "non-empty string"),
    ("two choices", chat(n=2), 400, "invalid_request_error", "n", "use 1"),
    ("stream text", chat(stream="yes"), 400, "invalid_request_error", "stream", "true or false"),
    (
        "options without stream",
        chat(stream_options={"include_usage": True}),
        400,
        "invalid_request_error",
        "stream_options",
        "only allowed",
    ),
    (
        "tools",
        chat(tools=[{"type": "function"}]),
        400,
        "invalid_request_error",
        "tools",
        "not supported",
    ),
    ("cache text", chat(cache="no"), 400, "invalid_request_error", "cache", "true or false"),
    (
        "deeply nested json",
        b'{"model": "kb:shop", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        400,
        "invalid_request_error",
        None,
        "too deeply",
    ),
    (
        "unpaired surrogate",
        b'{"model": "kb:shop", "messages": [{"role": "user", "content": "\\ud800x"}]}',
        400,
        "invalid_request_error",
        None,
        "unpaired UTF-16 surrogate",
    ),
    (
        "role list",
        chat(messages=[{"role": ["user"], "content": "x"}]),
        400,
        "invalid_request_error",
        "messages[0].role",
        "invalid role ['user']",
    ),
    (
        "role object",
        chat(messages=[{"role": {"name": "user"}, "content": "x"}]),
        400,
        "invalid_request_error",
        "messages[0].role",
        "use system, user or assistant",
    ),
    ("top_p 2", chat(top_p=2), 400, "invalid_request_error", "top_p", "from 0 to 1"),
    ("top_p text", chat(top_p="x"), 400, "invalid_request_error", "top_p", "from 0 to 1"),
    (
        "presence_penalty 99",
        chat(presence_penalty=99),
        400,
        "invalid_request_error",
        "presence_penalty",
        "from -2 to 2",
    ),
    ("seed text", chat(seed="x"), 400, "invalid_request_error", "seed", "whole number"),
    ("user number", chat(user=5), 400, "invalid_request_error", "user", "use a string"),
    ("logprobs", chat(logprobs=True), 400, "invalid_request_error", "logprobs", "not supported"),
    (
        "json mode",
        chat(response_format={"type": "json_object"}),
        400,
        "invalid_request_error",
        "response_format",
        "not supported",
    ),
    (
        "response_format text",
        chat(response_format="json"),
        400,
        "invalid_request_error",
        "response_format",
        "invalid 'response_format'",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "kind", "param", "text"),
    [case[1:] for case in CHAT_CASES],
    ids=[case[0] for case in CHAT_CASES],
)
def test_chat_rejects_bad_input(gateway: RunningGateway, body, status, kind, param, text) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    error = response.json()["error"]

    assert response.status_code == status
    assert error["type"] == kind
    assert error["param"] == param
    assert text in error["message"]
    assert set(error) == {"message", "type", "param", "code"}


EMBEDDING_CASES = [
    ("empty list", {"model": "multilingual-e5-small", "input": []}, 400, "non-empty list"),
    ("token arrays", {"model": "multilingual-e5-small", "input": [[1, 2]]}, 400, "token arrays"),
    ("blank text", {"model": "multilingual-e5-small", "input": ["  "]}, 400, "is empty"),
    ("unknown model", {"model": "text-embedding-3-small", "input": "x"}, 404, "not found"),
    ("missing model", {"input": "x"}, 400, "missing 'model'"),
    (
        "bad type",
        {"model": "multilingual-e5-small", "input": "x", "input_type": "doc"},
        400,
        "passage or query",
    ),
    (
        "other dimensions",
        {"model": "multilingual-e5-small", "input": "x", "dimensions": 8},
        400,
        "returns 384 dimensions",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [case[1:] for case in EMBEDDING_CASES],
    ids=[case[0] for case in EMBEDDING_CASES],
)
def test_embeddings_reject_bad_input(gateway: RunningGateway, body, status, text) -> None:
    response = httpx.post(gateway.base_url + "/v1/embeddings", json=body, timeout=30)

    assert response.status_code == status
    assert text in response.json()["error"]["message"]


def test_embeddings_reject_unpaired_surrogate(gateway: RunningGateway) -> None:
    content = b'{"model": "multilingual-e5-small", "input": ["\\udc00"]}'

    response = httpx.post(gateway.base_url + "/v1/embeddings", content=content, timeout=30)

    assert response.status_code == 400
    assert "unpaired UTF-16 surrogate" in response.json()["error"]["message"]


def test_null_fields_mean_defaults(gateway: RunningGateway) -> None:
    fields = ["max_tokens", "temperature", "n", "stop", "stream", "top_p", "seed", "cache"]
    body = chat(stream_options=None, response_format=None, **dict.fromkeys(fields))

    response = httpx.post(gateway.base_url + "/v1/chat/completions", json=body, timeout=30)

    assert response.status_code == 200
    assert "88元" in response.json()["choices"][0]["message"]["content"]


def test_ignored_fields_with_valid_values(gateway: RunningGateway) -> None:
    body = chat(
        top_p=0.9,
        presence_penalty=-1,
        frequency_penalty=0.5,
        seed=7,
        user="u-1",
        logprobs=False,
        logit_bias={},
        response_format={"type": "text"},
    )

    response = httpx.post(gateway.base_url + "/v1/chat/completions", json=body, timeout=30)

    assert response.status_code == 200


def test_body_over_limit_gets_413(gateway: RunningGateway) -> None:
    limit = gateway.state.settings.gateway.max_body_bytes
    content = json.dumps(chat(messages=[{"role": "user", "content": "茶" * limit}])).encode()

    declared = httpx.post(gateway.base_url + "/v1/chat/completions", content=content, timeout=30)
    # A chunked body has no Content-Length, so the server counts the bytes as they arrive.
    chunked = httpx.post(
        gateway.base_url + "/v1/embeddings",
        content=iter([content[i : i + 65536] for i in range(0, len(content), 65536)]),
        timeout=30,
    )

    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "request_too_large"
    assert "gateway.max_body_bytes" in declared.json()["error"]["message"]
    assert chunked.status_code == 413
    assert chunked.json()["error"]["code"] == "request_too_large"


def test_long_model_name_is_cut(gateway: RunningGateway) -> None:
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions", json=chat(model="m" * 100_000), timeout=30
    )

    assert response.status_code == 404
    assert len(response.json()["error"]["message"]) < 500


def test_unknown_route_and_method(gateway: RunningGateway) -> None:
    missing = httpx.get(gateway.base_url + "/v1/completions/legacy")
    wrong_method = httpx.get(gateway.base_url + "/v1/chat/completions")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_url"
    assert wrong_method.status_code == 405
    assert "GET" in wrong_method.json()["error"]["message"]


def test_openai_client_raises_typed_errors(gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0)

    with pytest.raises(openai.BadRequestError, match="from 0 to 2"):
        client.chat.completions.create(model="kb:shop", messages=USER, temperature=7)
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-9", messages=USER)
    assert raised.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError, match="positive whole number"):
        client.chat.completions.create(model="echo", messages=USER, max_tokens=-5)


def test_server_still_answers_after_errors(gateway: RunningGateway) -> None:
    response = httpx.post(gateway.base_url + "/v1/chat/completions", json=chat(), timeout=30)

    assert response.status_code == 200
    assert "88元" in response.json()["choices"][0]["message"]["content"]
