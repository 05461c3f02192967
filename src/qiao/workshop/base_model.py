"""The base model of a workshop run, as a Hugging Face folder.

Training and evaluation load the base model with transformers, so a base model
is either a Hugging Face folder (``config.json`` naming a causal-LM
architecture, tokenizer files, weights) used in place, or a GGUF file. A GGUF
file is dequantised once with transformers' GGUF loader and saved as a
Hugging Face folder under ``cache_dir/<first 16 hex digits of its SHA-256>``,
so a file with the same content is converted only once. On 2 idle CPU cores
the default model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, 491 MB) took 40 s to
dequantise and save as bf16 safetensors (1.3 GB), as timed by
benchmarks/workshop_eval.py.

Without an argument the default local model of :mod:`qiao.llm.model_files`
is used.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

from qiao.errors import InvalidInputError, ModelError, NotFoundError
from qiao.llm.checksum import sha256_file
from qiao.llm.model_files import GGUF_MAGIC, ensure_default_model
from qiao.optional import require

__all__ = ["DONE_MARKER", "causal_lm_architecture", "ensure_hf_base", "resolve_base_source"]

logger = logging.getLogger(__name__)

# Written last into a converted folder; a folder without it is an interrupted conversion.
DONE_MARKER = "qiao-converted.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def resolve_base_source(model: str | Path | None, models_dir: Path) -> Path:
    """Return the GGUF file or Hugging Face folder named by ``model``.

    ``None``, ``""`` and ``"default"`` name the default local model, assembled
    into ``models_dir`` when needed.
    """
    if model is None or str(model) in ("", "default"):
        return ensure_default_model(models_dir)
    path = Path(model).expanduser()
    if not path.exists():
        raise NotFoundError(
            f"base model {str(model)!r} not found; give a Hugging Face model folder"
            " (with config.json) or a .gguf file, or 'default' for the default local model",
            key="ws_base_missing",
            value=str(model),
        )
    return path


def ensure_hf_base(model: str | Path, cache_dir: Path) -> Path:
    """Return a Hugging Face folder with the base model ``model``.

    ``model`` is a Hugging Face folder (checked and returned as it is) or a GGUF
    file (converted once into ``cache_dir``). Raises InvalidInputError for a
    folder that is not a causal language model and ModelError for a file that
    cannot be read as a GGUF model.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        check_hf_folder(path)
        return path
    if not path.is_file():
        raise NotFoundError(
            f"base model {str(model)!r} not found; give a Hugging Face model folder"
            " (with config.json) or a .gguf file",
            key="ws_base_missing",
            value=str(model),
        )
    return _convert_gguf(path, cache_dir)


def causal_lm_architecture(config: dict) -> str | None:
    """Return the first ``*ForCausalLM`` architecture named by a ``config.json``, if any."""
    for name in config.get("architectures") or ():
        if isinstance(name, str) and name.endswith("ForCausalLM"):
            return name
    return None


def check_hf_folder(folder: Path) -> None:
    """Raise a clear error unless ``folder`` holds a causal LM with a tokenizer."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise InvalidInputError(
            f"base model folder {folder} has no config.json; give a Hugging Face model folder"
            " (as saved by save_pretrained) or a .gguf file",
            key="ws_base_no_config",
            value=str(folder),
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInputError(
            f"{config_path} is not valid JSON ({error}); copy the model folder again",
            key="ws_base_bad_config",
            value=str(config_path),
        ) from error
    if causal_lm_architecture(config) is None:
        found = ", ".join(config.get("architectures") or []) or "none"
        raise InvalidInputError(
            f"base model folder {folder} is not a causal language model (architectures: {found});"
            " fine-tuning needs a *ForCausalLM model such as Qwen2ForCausalLM",
            key="ws_base_not_causal",
            value=str(folder),
            found=found,
        )
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise InvalidInputError(
            f"base model folder {folder} has no tokenizer files (tokenizer.json or"
            " tokenizer_config.json); save the tokenizer into the folder with save_pretrained",
            key="ws_base_no_tokenizer",
            value=str(folder),
        )


def _convert_gguf(gguf_path: Path, cache_dir: Path) -> Path:
    with gguf_path.open("rb") as source:
        magic = source.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{gguf_path} is not a GGUF file (it starts with {magic!r}); give a .gguf model"
            " file or a Hugging Face model folder",
            key="ws_base_not_gguf",
            value=str(gguf_path),
        )
    digest = sha256_file(gguf_path)
    target = cache_dir / digest[:16]
    if (target / DONE_MARKER).is_file():
        logger.info("using converted base model %s for %s", target, gguf_path)
        return target

    started = time.monotonic()
    logger.info("dequantising %s into %s", gguf_path, target)
    temporary = cache_dir / f".{digest[:16]}.{os.getpid()}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        _dequantise_into(gguf_path, temporary)
        marker = {"source": str(gguf_path), "sha256": digest, "seconds": time.monotonic() - started}
        (temporary / DONE_MARKER).write_text(json.dumps(marker), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    logger.info("dequantised %s in %.1f s", gguf_path, time.monotonic() - started)
    return target


def _dequantise_into(gguf_path: Path, folder: Path) -> None:
    # Never reach the hub: the GGUF loader otherwise looks up a matmul kernel there.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch = require("torch", "workshop")
    transformers = require("transformers", "workshop")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name
        )
        # dequantize=True unpacks every weight into a plain dense model at load time.
        model = transformers.AutoModelForCausalLM.from_pretrained(
            gguf_path.parent,
            gguf_file=gguf_path.name,
            quantization_config=transformers.GgufConfig(dequantize=True),
            dtype=torch.bfloat16,
        )
    except MemoryError:
        raise
    except Exception as error:
        # A damaged or unsupported file fails deep inside the loader with many error
        # types (struct.error, ValueError, KeyError, IndexError ...).
        raise ModelError(
            f"transformers could not read {gguf_path} as a GGUF model ({error}); give a GGUF"
            " of an architecture transformers supports (e.g. Qwen2, Llama, Mistral) or a"
            " Hugging Face model folder",
            key="ws_base_gguf_unreadable",
            value=str(gguf_path),
            reason=str(error),
        ) from error

    # The weights are plain tensors now; without the GGUF quantizer attached,
    # save_pretrained writes an ordinary safetensors checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
