"""The gateway with the real default model: a raw chat model and a knowledge base answered by it."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from gateway_support import RunningGateway, build_product_kb, load_clean_settings, running_gateway

from qiao.llm import DEFAULT_MODEL, ensure_default_model
from qiao.llm.factory import llama_cpp_installed

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(
        not llama_cpp_installed(), reason="llama-cpp-python not installed (pip install 'qiao[llm]')"
    ),
]

MODELS_DIR = Path(
    os.environ.get("QIAO_TEST_MODELS_DIR") or Path.home() / ".cache" / "qiao-test-models"
)
MODEL_ID = Path(DEFAULT_MODEL.filename).stem


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    if any(importlib.util.find_spec(module) is None for module in DEFAULT_MODEL.part_modules):
        pytest.skip("default model packages not installed (pip install 'qiao[llm]')")
    model_path = ensure_default_model(MODELS_DIR)
    settings = load_clean_settings(
        tmp_path_factory.mktemp("home"),
        **{
            "generator.kind": "llama",
            "generator.model_path": str(model_path),
            "generator.context_size": 2048,
            "generator.max_tokens": 96,
        },
    )
    build_product_kb(settings, tmp_path_factory.mktemp("data"))
    with running_gateway(settings) as running:
        yield running


@pytest.fixture
def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0)


def test_local_model_listed_and_streams(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    stream = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "用一句话介绍北京。"}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)

    assert MODEL_ID in ids
    assert content.strip()
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 8
    assert chunks[-1].usage.prompt_tokens > 5


def test_kb_answer_generated_with_citations(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="kb:shop",
        messages=[{"role": "user", "content": "青瓷茶杯的售价是多少？"}],
        stream=True,
        extra_headers={"Cache-Control": "no-cache"},
    )
    chunks = list(stream)
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    citations = chunks[-1].choices[0].delta.model_extra["citations"]

    assert "88" in content
    assert citations
    assert citations[0]["doc_id"] == "P-1001"
    assert "[1] products.jsonl#line=1" in content


def test_context_overflow_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": "北京" * 5000}]
        )

    assert raised.value.code == "context_length_exceeded"
    assert "generator.context_size" in raised.value.message
