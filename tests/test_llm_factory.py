"""Generator selection from settings, and the status line shown with extractive answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from qiao.config import GeneratorSettings
from qiao.errors import ConfigError, ModelError
from qiao.llm import OpenAICompatibleGenerator, create_generator, generator_status
from qiao.llm.factory import llama_cpp_installed

needs_llama_cpp = pytest.mark.skipif(
    not llama_cpp_installed(), reason="llama-cpp-python not installed (pip install 'qiao[llm]')"
)


def test_extractive_returns_none(tmp_path: Path) -> None:
    settings = GeneratorSettings(kind="extractive", model_path=str(tmp_path / "absent.gguf"))

    assert create_generator(settings, tmp_path) is None
    status = generator_status(settings, tmp_path)
    assert "QIAO_GENERATOR=extractive" in status
    assert "pip install 'qiao[llm]'" in status
    assert "QIAO_GENERATOR=openai" in status


def test_unknown_kind_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown generator 'gpt'"):
        create_generator(GeneratorSettings(kind="gpt"), tmp_path)


def test_openai_requires_url_and_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        create_generator(GeneratorSettings(kind="openai"), tmp_path)
    assert "QIAO_LLM_BASE_URL and QIAO_LLM_MODEL" in str(raised.value)

    only_url = GeneratorSettings(kind="openai", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError) as raised:
        create_generator(only_url, tmp_path)
    assert "QIAO_LLM_MODEL" in str(raised.value)
    assert "QIAO_LLM_BASE_URL" not in str(raised.value)

    status = generator_status(only_url, tmp_path)
    assert "not configured" in status
    assert "QIAO_LLM_MODEL" in status


def test_openai_builds_remote_generator(tmp_path: Path) -> None:
    settings = GeneratorSettings(
        kind="openai",
        base_url="http://127.0.0.1:9/v1/",
        api_key="sk-status-secret",
        model="qwen2.5-7b-instruct",
        timeout_s=5.0,
    )

    generator = create_generator(settings, tmp_path)

    assert isinstance(generator, OpenAICompatibleGenerator)
    assert generator.url == "http://127.0.0.1:9/v1/chat/completions"
    assert generator.name == "openai:qwen2.5-7b-instruct"
    assert generator.timeout_s == 5.0
    generator.close()
    status = generator_status(settings, tmp_path)
    assert "http://127.0.0.1:9/v1/chat/completions" in status
    assert "qwen2.5-7b-instruct" in status
    assert "sk-status-secret" not in status


@needs_llama_cpp
def test_auto_missing_model_path_raises(tmp_path: Path) -> None:
    settings = GeneratorSettings(kind="auto", model_path=str(tmp_path / "absent.gguf"))

    with pytest.raises(ModelError, match="model file not found"):
        create_generator(settings, tmp_path)
    status = generator_status(settings, tmp_path)
    assert str(tmp_path / "absent.gguf") in status
    assert "file not found" in status


@needs_llama_cpp
def test_llama_invalid_model_raises(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + b"\xff" * 64)
    settings = GeneratorSettings(kind="llama", model_path=str(path))

    with pytest.raises(ModelError, match="llama.cpp failed to load"):
        create_generator(settings, tmp_path)
    assert generator_status(settings, tmp_path) == f"llama.cpp with {path}"


@pytest.mark.skipif(llama_cpp_installed(), reason="llama-cpp-python is installed")
def test_auto_without_llama_cpp_is_extractive(tmp_path: Path) -> None:
    settings = GeneratorSettings(kind="auto")

    assert create_generator(settings, tmp_path) is None
    status = generator_status(settings, tmp_path)
    assert "llama-cpp-python is not installed" in status
    assert "pip install 'qiao[llm]'" in status
