"""Check that a GGUF LoRA adapter fits a GGUF model before llama.cpp loads the pair.

llama-cpp-python 0.3.36 loads an adapter exported from another model size
without an error and then crashes with a segmentation fault while decoding
(seen with a hidden-size-64 adapter on Qwen2.5-0.5B). This check compares
every adapter tensor pair with the model tensor it modifies, as llama.cpp
applies them: ``X.lora_a`` takes the inputs of ``X`` and ``X.lora_b`` gives
its outputs.
"""

from __future__ import annotations

from pathlib import Path

from qiao.errors import ModelError
from qiao.llm.gguf_metadata import read_gguf_metadata, read_gguf_tensors

__all__ = ["check_lora_fits"]


def check_lora_fits(model_path: Path, lora_path: Path) -> None:
    """Raise ModelError unless ``lora_path`` is a LoRA adapter for the model ``model_path``."""
    keys = ["general.architecture", "general.type", "adapter.type"]
    adapter = read_gguf_metadata(lora_path, keys)
    if adapter.get("general.type") != "adapter" or adapter.get("adapter.type") != "lora":
        raise ModelError(
            f"{lora_path} is not a GGUF LoRA adapter; export one with qiao workshop export"
        )
    model = read_gguf_metadata(model_path, ["general.architecture"])
    if adapter.get("general.architecture") != model.get("general.architecture"):
        raise ModelError(
            f"the LoRA adapter {lora_path} is for {adapter.get('general.architecture')!r} models "
            f"but {model_path} is {model.get('general.architecture')!r}; export the adapter "
            "against this model"
        )

    model_shapes = {tensor.name: tensor.shape for tensor in read_gguf_tensors(model_path)[0]}
    for tensor in read_gguf_tensors(lora_path)[0]:
        target, _, part = tensor.name.rpartition(".")
        if part not in ("lora_a", "lora_b"):
            continue
        if target not in model_shapes:
            raise ModelError(
                f"the LoRA adapter {lora_path} modifies {target}, which {model_path} does not "
                "have; the adapter belongs to another model"
            )
        # ggml order: ne0 is the input size and ne1 the output size of a weight matrix.
        dimension = 0 if part == "lora_a" else 1
        expected = model_shapes[target][dimension]
        if tensor.shape[dimension] != expected:
            raise ModelError(
                f"the LoRA adapter {lora_path} has {tensor.name} of shape {list(tensor.shape)}, "
                f"but {target} in {model_path} has size {expected} there; the adapter belongs "
                "to another model size"
            )
