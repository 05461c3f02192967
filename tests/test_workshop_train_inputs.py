"""Bad input to training and recipes: clear errors that name the value and the fix."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from qiao.errors import InvalidInputError, ModelError, NotFoundError
from qiao.workshop.base_model import ensure_hf_base, resolve_base_source
from qiao.workshop.recipe import load_recipe

RECIPE = """
name: tiny
base_model: default
data:
  domain: [domain.jsonl]
  general: [general.jsonl]
  ratio: "{ratio}"
  rows: 20
"""


def _recipe(tmp_path: Path, text: str) -> Path:
    for name in ("domain.jsonl", "general.jsonl"):
        messages = [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}]
        row = {"messages": messages}
        (tmp_path / name).write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_recipe_valid_resolves_files(tmp_path: Path) -> None:
    recipe = load_recipe(_recipe(tmp_path, RECIPE.format(ratio="70:30")))

    assert recipe.name == "tiny"
    assert recipe.data.domain == [tmp_path / "domain.jsonl"]
    assert recipe.data.rows == 20
    assert recipe.train.max_length == 256


def test_recipe_ratio_not_100(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="adds up to 90, not 100") as caught:
        load_recipe(_recipe(tmp_path, RECIPE.format(ratio="60:30")))
    assert "data.ratio" in str(caught.value)


def test_recipe_unknown_key(tmp_path: Path) -> None:
    text = RECIPE.format(ratio="70:30") + "train:\n  learning_rat: 0.001\n"
    with pytest.raises(InvalidInputError, match="unknown key train.learning_rat") as caught:
        load_recipe(_recipe(tmp_path, text))
    assert "train.learning_rate" in str(caught.value)


def test_recipe_unknown_top_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="unknown key evals"):
        load_recipe(_recipe(tmp_path, RECIPE.format(ratio="70:30") + "evals: {}\n"))


def test_recipe_missing_data_file(tmp_path: Path) -> None:
    path = _recipe(tmp_path, RECIPE.format(ratio="70:30"))
    (tmp_path / "domain.jsonl").unlink()
    with pytest.raises(NotFoundError, match="domain.jsonl not found"):
        load_recipe(path)


def test_recipe_builtin_source_needs_data_dir(tmp_path: Path) -> None:
    text = RECIPE.format(ratio="70:30").replace("[domain.jsonl]", "med_dialogue_neike")
    with pytest.raises(NotFoundError, match="QIAO_DATA_DIR"):
        load_recipe(_recipe(tmp_path, text), data_dir=tmp_path / "no-data")


def test_recipe_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="recipe .*missing.yaml not found"):
        load_recipe(tmp_path / "missing.yaml")


def test_base_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(NotFoundError, match="no-such-model.*not found.*config.json"):
        resolve_base_source(str(missing), tmp_path / "models")
    with pytest.raises(NotFoundError, match="no-such-model"):
        ensure_hf_base(missing, tmp_path / "cache")


def test_base_folder_not_causal_lm(tmp_path: Path) -> None:
    folder = tmp_path / "bert"
    folder.mkdir()
    config = {"architectures": ["BertForMaskedLM"], "model_type": "bert"}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not a causal language model.*BertForMaskedLM"):
        ensure_hf_base(folder, tmp_path / "cache")


def test_base_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="has no config.json"):
        ensure_hf_base(tmp_path, tmp_path / "cache")


def test_base_folder_without_tokenizer(tmp_path: Path) -> None:
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="no tokenizer files"):
        ensure_hf_base(tmp_path, tmp_path / "cache")


def test_base_file_not_gguf(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelError, match="is not a GGUF file"):
        ensure_hf_base(path, tmp_path / "cache")


def test_base_gguf_unreadable(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    path = tmp_path / "broken.gguf"
    # A GGUF v3 header that promises tensors and metadata, then ends.
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 5, 7))
    with pytest.raises(ModelError, match="could not read .*broken.gguf as a GGUF model"):
        ensure_hf_base(path, tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("*/config.json"))
