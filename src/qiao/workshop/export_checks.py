"""Checks that a LoRA adapter, its Hugging Face base folder and a base GGUF belong together.

llama.cpp applies a GGUF LoRA adapter by tensor name and shape, so an adapter
trained on another model either fails to load or silently damages the
output. These checks catch that before any conversion runs, and name the
value to fix.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, NotFoundError, StorageError
from qiao.llm.gguf_metadata import read_gguf_data_end, read_gguf_metadata
from qiao.optional import require

__all__ = [
    "AdapterInfo",
    "BaseInfo",
    "check_adapter",
    "check_base_gguf",
    "check_gguf_complete",
    "check_match",
]

logger = logging.getLogger(__name__)

ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
LAYER_INDEX = re.compile(r"\.layers\.(\d+)\.")


@dataclass(frozen=True)
class BaseInfo:
    """The architecture and size of a base GGUF model."""

    path: Path
    architecture: str
    hidden_size: int | None
    layers: int | None


@dataclass(frozen=True)
class AdapterInfo:
    """A peft LoRA adapter folder and the settings that decide how it can be exported."""

    folder: Path
    config: dict[str, Any]
    weights: Path
    # The reason llama.cpp's GGUF LoRA format cannot express this adapter, or None.
    gguf_blocker: str | None


def check_base_gguf(path: Path) -> BaseInfo:
    """Return the architecture of a base GGUF model, or raise a clear error."""
    if not path.is_file():
        raise NotFoundError(
            f"base GGUF {path} not found; give the .gguf model the adapter was trained on",
            key="ex_base_missing",
            value=str(path),
        )
    metadata = read_gguf_metadata(path, ["general.architecture", "general.type"])
    architecture = metadata.get("general.architecture")
    if not architecture:
        raise InvalidInputError(
            f"{path} has no general.architecture key, so llama.cpp cannot load it as a model; "
            "give a GGUF model written by llama.cpp's convert_hf_to_gguf.py",
            key="ex_base_no_arch",
            value=str(path),
        )
    if metadata.get("general.type") == "adapter":
        raise InvalidInputError(
            f"{path} is a LoRA adapter GGUF, not a model; give the base model's .gguf file",
            key="ex_base_is_adapter",
            value=str(path),
        )
    sizes = read_gguf_metadata(
        path, [f"{architecture}.embedding_length", f"{architecture}.block_count"]
    )
    return BaseInfo(
        path=path,
        architecture=str(architecture),
        hidden_size=sizes.get(f"{architecture}.embedding_length"),
        layers=sizes.get(f"{architecture}.block_count"),
    )


def check_adapter(folder: Path) -> AdapterInfo:
    """Read a peft adapter folder and reject what is not a LoRA adapter."""
    config_path = folder / "adapter_config.json"
    if not config_path.is_file():
        raise NotFoundError(
            f"{config_path} not found; give the folder that peft's save_pretrained wrote "
            "(adapter_config.json and adapter_model.safetensors), e.g. RUN/adapter",
            key="ex_adapter_missing",
            value=str(config_path),
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise InvalidInputError(
            f"{config_path} is not valid JSON ({error}); save the adapter again",
            key="ex_adapter_bad_config",
            value=str(config_path),
        ) from error
    weights = next((folder / name for name in ADAPTER_WEIGHTS if (folder / name).is_file()), None)
    if weights is None:
        raise NotFoundError(
            f"{folder} has no adapter_model.safetensors; save the adapter again with "
            "save_pretrained, or copy the whole adapter folder",
            key="ex_adapter_no_weights",
            value=str(folder),
        )
    if config.get("peft_type") != "LORA":
        raise InvalidInputError(
            f"{config_path} describes a {config.get('peft_type')!r} adapter; only LoRA adapters "
            "can be exported",
            key="ex_adapter_not_lora",
            value=str(config_path),
        )
    return AdapterInfo(folder, config, weights, _gguf_blocker(config))


def check_match(adapter: AdapterInfo, hf_base: Path, base: BaseInfo) -> dict[str, Any]:
    """Check that the adapter, the Hugging Face base and the base GGUF are the same model.

    Returns the Hugging Face base config.
    """
    config_path = hf_base / "config.json"
    if not config_path.is_file():
        raise NotFoundError(
            f"{config_path} not found; give the Hugging Face folder of the base model "
            "(RUN/base, as the training step wrote it) with --hf-base",
            key="ex_hf_base_missing",
            value=str(config_path),
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise InvalidInputError(
            f"{config_path} is not valid JSON ({error}); copy the base model folder again",
            key="ex_hf_base_bad_config",
            value=str(config_path),
        ) from error
    model_type = config.get("model_type")
    if model_type != base.architecture:
        raise InvalidInputError(
            f"the Hugging Face base {hf_base} is a {model_type!r} model but {base.path} is "
            f"{base.architecture!r}; give the base GGUF and folder of the same model",
            key="ex_arch_mismatch",
            value=str(base.path),
            hf=str(hf_base),
            hf_arch=str(model_type),
            arch=base.architecture,
        )
    for key, gguf_value in (("hidden_size", base.hidden_size), ("num_hidden_layers", base.layers)):
        if gguf_value is not None and config.get(key) != gguf_value:
            raise InvalidInputError(
                f"{key} is {config.get(key)} in {config_path} but {gguf_value} in {base.path}; "
                "the GGUF is a different size of the model, give the GGUF the adapter was "
                "trained on",
                key="ex_size_mismatch",
                value=str(base.path),
                name=key,
                hf_value=config.get(key),
                gguf_value=gguf_value,
            )

    trained_class = (adapter.config.get("auto_mapping") or {}).get("base_model_class")
    if trained_class and trained_class not in (config.get("architectures") or [trained_class]):
        raise InvalidInputError(
            f"the adapter in {adapter.folder} was trained on a {trained_class} model, but the "
            f"base is {', '.join(config.get('architectures') or [])}; give the adapter's own base",
            key="ex_adapter_other_arch",
            value=str(adapter.folder),
            trained=trained_class,
            base=", ".join(config.get("architectures") or []),
        )
    _check_adapter_shapes(adapter, config)
    return config


def check_gguf_complete(path: Path) -> None:
    """Raise StorageError if ``path`` is shorter than its GGUF header declares.

    llama.cpp's converters (as of llama-cpp-python 0.3.36) exit with status 0
    after a write that failed for lack of space, leaving a cut-off file.
    """
    gguf = require("gguf", "workshop")
    expected = read_gguf_data_end(path, gguf.GGML_QUANT_SIZES)
    actual = path.stat().st_size
    if actual < expected:
        logger.error("%s has %d of its %d bytes", path, actual, expected)
        raise StorageError(
            f"{path} was cut off at {actual} of {expected} bytes, most likely because the disk "
            "is full; free some space and run the export again",
            key="ex_truncated",
            value=str(path),
            actual=actual,
            expected=expected,
        )


def _gguf_blocker(config: dict[str, Any]) -> str | None:
    # llama.cpp scales every LoRA tensor pair by adapter.lora.alpha / rank, with one alpha.
    if config.get("use_dora"):
        return "it is a DoRA adapter (use_dora), which llama.cpp's LoRA format cannot express"
    if config.get("use_rslora"):
        return "it uses rank-stabilised scaling (use_rslora), but llama.cpp scales by alpha/r"
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        return "it sets per-module ranks or alphas, but llama.cpp's LoRA format has one alpha"
    if config.get("modules_to_save"):
        return (
            f"it trains whole modules ({', '.join(config['modules_to_save'])}), which a GGUF "
            "LoRA adapter cannot carry"
        )
    return None


def _check_adapter_shapes(adapter: AdapterInfo, config: dict[str, Any]) -> None:
    """Compare the adapter's layer indices and input sizes with the base config."""
    if adapter.weights.suffix != ".safetensors":
        return
    safetensors = require("safetensors", "workshop")
    layers = config.get("num_hidden_layers")
    widths = {config.get("hidden_size"), config.get("intermediate_size")}
    if config.get("head_dim") and config.get("num_attention_heads"):
        # o_proj takes heads x head_dim inputs, which differs from hidden_size in some models.
        widths.add(config["head_dim"] * config["num_attention_heads"])
    with safetensors.safe_open(str(adapter.weights), framework="numpy") as handle:
        for name in handle.keys():
            match = LAYER_INDEX.search(name)
            if layers is not None and match and int(match.group(1)) >= layers:
                raise InvalidInputError(
                    f"adapter tensor {name} is for layer {match.group(1)}, but the base has "
                    f"{layers} layers; the adapter belongs to a larger model",
                    key="ex_adapter_layers",
                    value=str(adapter.weights),
                    tensor=name,
                    layer=match.group(1),
                    layers=layers,
                )
            if ".lora_A." not in name:
                continue
            width = handle.get_slice(name).get_shape()[-1]
            if None not in widths and width not in widths:
                raise InvalidInputError(
                    f"adapter tensor {name} takes inputs of size {width}, but the base has "
                    f"hidden size {config.get('hidden_size')}; the adapter belongs to another "
                    "model",
                    key="ex_adapter_width",
                    value=str(adapter.weights),
                    tensor=name,
                    width=width,
                    hidden=config.get("hidden_size"),
                )
