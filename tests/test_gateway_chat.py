"""Chat completions, models and embeddings of the gateway, driven by the official openai client.

The knowledge base ``shop`` contains three product records and answers
extractively (no generator), so that answers are fast and fixed. The remote
model ``echo`` is a local OpenAI-compatible server started by the test.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from gateway_support import (
    RunningGateway,
    UpstreamServer,
    build_product_kb,
    load_clean_settings,
    running_gateway,
    upstream_server,
)

from qiao.knowledge.embedders import create_embedder
from qiao.knowledge.prompt import NO_ANSWER

CITATION_FIELDS = {"index", "doc_id", "source", "heading", "snippet", "score"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    with upstream_server() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: UpstreamServer):
    home = tmp_path_factory.mktemp("home")
    settings = load_clean_settings(
        home,
        **{
            "generator.kind": "extractive",
            "generator.base_url": upstream.base_url,
            "generator.model": "echo",
            "gateway.audit_question": "hash",
        },
    )
    build_product_kb(settings, tmp_path_factory.mktemp("data"))
    with running_gateway(settings) as running:
        yield running


@pytest.fixture
def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0)


def ask(client: openai.OpenAI, question: str, **options):
    return client.chat.completions.create(
        model="kb:shop", messages=[{"role": "user", "content": question}], **options
    )


def test_models_list_every_backend(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]

    assert "kb:shop" in ids
    assert "echo" in ids
    assert "multilingual-e5-small" in ids
    assert client.models.retrieve("kb:shop").owned_by == "qiao:kb"


def test_model_created_time_is_stable(client: openai.OpenAI) -> None:
    listed = {model.id: model.created for model in client.models.list()}
    time.sleep(1.1)

    assert client.models.retrieve("kb:shop").created == listed["kb:shop"]
    assert client.models.retrieve("echo").created == listed["echo"]


def test_kb_answer_carries_citations(client: openai.OpenAI) -> None:
    completion = ask(client, "青瓷茶杯多少钱？")
    message = completion.choices[0].message
    citations = message.model_extra["citations"]

    assert "88元" in message.content
    assert "[1]" in message.content
    assert "[1] products.jsonl#line=1 · 青瓷茶杯" in message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "kb:shop"
    assert citations[0]["doc_id"] == "P-1001"
    assert citations[0]["index"] == 1
    assert CITATION_FIELDS <= set(citations[0])
    assert "88元" in citations[0]["snippet"]
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_kb_stream_matches_whole_answer(client: openai.OpenAI) -> None:
    whole = ask(client, "竹制茶盘可以泡水吗？")
    chunks = list(
        ask(client, "竹制茶盘可以泡水吗？", stream=True, stream_options={"include_usage": True})
    )
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    final = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    usage_chunks = [chunk for chunk in chunks if chunk.usage is not None]

    assert content == whole.choices[0].message.content
    assert len(final) == 1
    assert final[0].choices[0].finish_reason == "stop"
    assert (
        final[0].choices[0].delta.model_extra["citations"]
        == (whole.choices[0].message.model_extra["citations"])
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(usage_chunks) == 1
    assert usage_chunks[0].choices == []
    assert usage_chunks[0].usage.completion_tokens == whole.usage.completion_tokens


def test_stream_without_usage_option(client: openai.OpenAI) -> None:
    chunks = list(ask(client, "铸铁茶壶多少钱？", stream=True))

    assert all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_kb_refuses_outside_question(client: openai.OpenAI) -> None:
    completion = ask(client, "明天北京的天气怎么样？")
    message = completion.choices[0].message

    assert message.content == NO_ANSWER
    assert message.model_extra["citations"] == []


def test_kb_answers_last_user_turn(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "你是茶具店的客服。"},
        {"role": "user", "content": "青瓷茶杯多少钱？"},
        {"role": "assistant", "content": "青瓷茶杯售价88元。"},
        {"role": "user", "content": "铸铁茶壶多少钱？"},
    ]
    completion = client.chat.completions.create(model="kb:shop", messages=messages)
    citations = completion.choices[0].message.model_extra["citations"]

    assert "360元" in completion.choices[0].message.content
    assert citations[0]["doc_id"] == "P-1003"


def test_kb_stop_sequence_cuts_answer(client: openai.OpenAI) -> None:
    completion = ask(client, "青瓷茶杯多少钱？", stop=["元"])

    assert completion.choices[0].message.content == "青瓷茶杯容量200毫升，售价88"
    assert completion.choices[0].finish_reason == "stop"


def test_remote_model_gets_options(client: openai.OpenAI, upstream: UpstreamServer) -> None:
    completion = client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "你好"}],
        max_tokens=50,
        temperature=0.3,
        stop=["。"],
    )
    sent = upstream.requests[-1]

    assert completion.choices[0].message.content == "回答：你好"
    assert "citations" not in (completion.choices[0].message.model_extra or {})
    assert sent["max_tokens"] == 50
    assert sent["temperature"] == 0.3
    assert sent["stop"] == ["。"]
    assert sent["messages"] == [{"role": "user", "content": "你好"}]


def test_remote_model_streams_to_length(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "一二三四五六七八九十"}],
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    finish = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]

    assert content == "回答：一二"
    assert finish[-1] == "length"
    assert sum(1 for chunk in chunks if chunk.choices and chunk.choices[0].delta.content) >= 2
    assert chunks[-1].usage.completion_tokens == 5


def test_embeddings_match_embedder(client: openai.OpenAI, gateway: RunningGateway) -> None:
    texts = ["青瓷茶杯", "竹制茶盘长40厘米"]
    response = client.embeddings.create(model="multilingual-e5-small", input=texts)
    expected = create_embedder(gateway.state.settings.embedder).embed_passages(texts)
    vectors = np.array([item.embedding for item in response.data], dtype=np.float32)

    assert [item.index for item in response.data] == [0, 1]
    assert vectors.shape == (2, 384)
    assert np.allclose(vectors, expected, atol=1e-6)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert response.usage.prompt_tokens > 0


def test_query_embedding_differs_from_passage(gateway: RunningGateway) -> None:
    import httpx

    body = {"model": "multilingual-e5-small", "input": "青瓷茶杯"}
    passage = httpx.post(gateway.base_url + "/v1/embeddings", json=body).json()
    query = httpx.post(
        gateway.base_url + "/v1/embeddings", json={**body, "input_type": "query"}
    ).json()

    assert passage["data"][0]["embedding"] != query["data"][0]["embedding"]


def test_audit_log_records_requests(client: openai.OpenAI, gateway: RunningGateway) -> None:
    question = "铸铁茶壶怎么防锈？"
    ask(client, question)
    log = Path(gateway.state.settings.home) / "logs" / "gateway-audit.jsonl"
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    entry = entries[-1]

    assert entry["model"] == "kb:shop"
    assert entry["question_sha256"] == hashlib.sha256(question.encode()).hexdigest()
    assert "question" not in entry
    assert entry["status"] == 200
    assert entry["key_id"] is None
    assert entry["latency_ms"] > 0
    assert entry["cache"] in ("off", "miss", "hit")
    assert entry["stream"] is False


def post_chat(gateway: RunningGateway, question: str, headers=None, **fields) -> httpx.Response:
    payload = {"model": "kb:shop", "messages": [{"role": "user", "content": question}], **fields}
    return httpx.post(
        gateway.base_url + "/v1/chat/completions", json=payload, headers=headers, timeout=30
    )


@pytest.fixture
def fresh_gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    """A gateway whose semantic cache is still empty."""
    settings = load_clean_settings(tmp_path / "home", **{"generator.kind": "extractive"})
    build_product_kb(settings, tmp_path / "data")
    with running_gateway(settings) as running:
        yield running


def test_repeated_question_hits_cache(fresh_gateway: RunningGateway) -> None:
    first = post_chat(fresh_gateway, "青瓷茶杯多少钱？")
    # The answer is stored after the response is sent.
    deadline = time.monotonic() + 10
    while True:
        second = post_chat(fresh_gateway, "青瓷茶杯多少钱？")
        if second.headers["X-Qiao-Cache"].startswith("hit") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    similarity = float(second.headers["X-Qiao-Cache"].partition("similarity=")[2])
    log = fresh_gateway.state.settings.home / "logs" / "gateway-audit.jsonl"
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]

    assert first.headers["X-Qiao-Cache"] == "miss"
    assert second.headers["X-Qiao-Cache"].startswith("hit; similarity=")
    assert similarity >= 0.95
    assert second.json()["choices"][0]["message"] == first.json()["choices"][0]["message"]
    assert "88元" in second.json()["choices"][0]["message"]["content"]
    assert entries[0]["cache"] == "miss"
    assert entries[-1]["cache"] == "hit"


def test_cache_bypass_by_header_and_body(fresh_gateway: RunningGateway) -> None:
    post_chat(fresh_gateway, "铸铁茶壶多少钱？")
    time.sleep(0.5)
    by_header = post_chat(fresh_gateway, "铸铁茶壶多少钱？", headers={"Cache-Control": "no-cache"})
    by_body = post_chat(fresh_gateway, "铸铁茶壶多少钱？", cache=False)
    sampled = post_chat(fresh_gateway, "铸铁茶壶多少钱？", temperature=0.7)
    cut = post_chat(fresh_gateway, "铸铁茶壶多少钱？", stop=["。"])

    assert by_header.headers["X-Qiao-Cache"] == "bypass"
    assert by_body.headers["X-Qiao-Cache"] == "bypass"
    assert sampled.headers["X-Qiao-Cache"] == "bypass"
    assert cut.headers["X-Qiao-Cache"] == "bypass"
    assert "360元" in by_body.json()["choices"][0]["message"]["content"]


def test_follow_up_question_is_rewritten(client: openai.OpenAI, gateway: RunningGateway) -> None:
    messages = [
        {"role": "user", "content": "铸铁茶壶多少钱？"},
        {"role": "assistant", "content": "铸铁茶壶售价360元[1]。"},
        {"role": "user", "content": "它的容量呢？"},
    ]
    completion = client.chat.completions.create(model="kb:shop", messages=messages)
    citations = completion.choices[0].message.model_extra["citations"]

    assert "1.2升" in completion.choices[0].message.content
    assert [citation["doc_id"] for citation in citations] == ["P-1003"]
    log = Path(gateway.state.settings.home) / "logs" / "gateway-audit.jsonl"
    entry = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["rewrite"] == "entity"


def test_unsupported_generation_is_replaced(tmp_path: Path, upstream: UpstreamServer) -> None:
    settings = load_clean_settings(
        tmp_path / "home",
        **{
            "generator.kind": "openai",
            "generator.base_url": upstream.base_url,
            "generator.model": "offtopic",
        },
    )
    build_product_kb(settings, tmp_path / "data")
    with running_gateway(settings) as gateway:
        whole = post_chat(gateway, "青瓷茶杯多少钱？", cache=False).json()
        streamed = post_chat(gateway, "青瓷茶杯多少钱？", cache=False, stream=True).text
    content = whole["choices"][0]["message"]["content"]
    deltas = [
        json.loads(line[len("data: ") :])["choices"][0]["delta"].get("content") or ""
        for line in streamed.splitlines()
        if line.startswith("data: {")
    ]

    # The passages support none of the generated sentences: the answer is extractive.
    assert "天气" not in content
    assert "88元" in content
    assert whole["choices"][0]["message"]["citations"][0]["doc_id"] == "P-1001"
    # The stream had sent the first sentence before the replacement followed it.
    assert deltas[1] == "今天天气很好。"
    assert "\n\n" + content.partition("\n\n")[0] in "".join(deltas)
