"""Load a base model, optionally with a LoRA adapter merged in, for CPU evaluation."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from qiao.errors import ModelError, NotFoundError
from qiao.optional import require

__all__ = ["load_model"]

logger = logging.getLogger(__name__)


def load_model(base_dir: Path, adapter_dir: Path | None = None) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` from a Hugging Face folder, in float32, in eval mode.

    An adapter folder (as written by peft's ``save_pretrained``) is merged into
    the weights, so that evaluation runs at the base model's speed. Weights
    are loaded in float32 whatever their stored type: CPUs without bfloat16
    instructions run float32 several times faster.
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
        model = transformers.AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
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
        "loaded %s%s in %.1f s",
        base_dir,
        f" with adapter {adapter_dir}" if adapter_dir else "",
        time.perf_counter() - started,
    )
    return model, tokenizer
