"""Load a base model, optionally with a LoRA adapter merged in, for CPU evaluation."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, ModelError, NotFoundError
from qiao.optional import require

__all__ = ["DTYPES", "load_model", "resolve_dtype"]

DTYPES = ("auto", "float32", "bfloat16")

logger = logging.getLogger(__name__)


def resolve_dtype(dtype: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Return ``dtype``, with ``"auto"`` resolved for this CPU.

    ``auto`` is bfloat16 on CPUs with bfloat16 matrix instructions (AVX512-BF16
    or AMX), where batches of prompts run about 1.5 to 2 times faster than in
    float32, and float32 elsewhere, where bfloat16 is emulated and slow.
    """
    if dtype not in DTYPES:
        raise InvalidInputError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return "float32"
    flags = {
        flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()
    }
    return "bfloat16" if flags & {"avx512_bf16", "amx_bf16"} else "float32"


def load_model(
    base_dir: Path, adapter_dir: Path | None = None, dtype: str = "float32"
) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` from a Hugging Face folder, in eval mode.

    An adapter folder (as written by peft's ``save_pretrained``) is merged into
    the weights, so that evaluation runs at the base model's speed. ``dtype``
    is the type of the weights in memory, whatever their stored type (see
    :func:`resolve_dtype`); float32 is fastest for one sequence at a time.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch = require("torch", "workshop")
    transformers = require("transformers", "workshop")
    if not (base_dir / "config.json").is_file():
        raise NotFoundError(
            f"base model folder {base_dir} has no config.json; give the Hugging Face folder"
            " of the base model (RUN/base)"
        )
    started = time.perf_counter()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(base_dir)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            base_dir, dtype=getattr(torch, resolve_dtype(dtype))
        )
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"could not load the model in {base_dir}: {error}") from error

    if adapter_dir is not None:
        if not (adapter_dir / "adapter_config.json").is_file():
            raise NotFoundError(
                f"adapter folder {adapter_dir} has no adapter_config.json; give the folder"
                " that training wrote (RUN/adapter)"
            )
        peft = require("peft", "workshop")
        try:
            model = peft.PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise ModelError(
                f"could not apply the adapter in {adapter_dir} to {base_dir}: {error}"
            ) from error

    # Batches are padded on the left so that every prompt ends at the last position.
    tokenizer.padding_side = "left"
    model.eval()
    logger.info(
        "loaded %s%s as %s in %.1f s",
        base_dir,
        f" with adapter {adapter_dir}" if adapter_dir else "",
        model.dtype,
        time.perf_counter() - started,
    )
    return model, tokenizer
