"""Merge a LoRA adapter into its base weights and write the result as a (quantised) GGUF model.

Steps: peft's merge_and_unload on the Hugging Face base, save_pretrained,
llama.cpp's convert_hf_to_gguf.py to an F16 GGUF, then llama.cpp's quantizer
(``llama_model_quantize`` through llama-cpp-python's low-level API). A merged
model runs at the base model's speed and needs no adapter at load time, and it
also works for adapters that llama.cpp's LoRA format cannot express (DoRA,
rank-stabilised scaling).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qiao.errors import MissingDependencyError, ModelError
from qiao.optional import require
from qiao.workshop.converter import run_converter
from qiao.workshop.export_checks import check_gguf_complete

__all__ = ["QUANTIZE_TYPES", "merge_to_gguf", "quantize_gguf"]

logger = logging.getLogger(__name__)

# Quantisation type -> name of the llama_ftype constant in llama_cpp.llama_cpp.
QUANTIZE_TYPES = {
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
}
MERGED_HF = "merged-hf"


def merge_to_gguf(
    hf_base: Path,
    adapter_dir: Path,
    out_dir: Path,
    converter: Path,
    quantize: str | None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write ``out_dir/merged-hf`` and ``out_dir/merged-<quantize or f16>.gguf``; return paths.

    The F16 GGUF is deleted after a successful quantisation.
    """
    # convert_hf_to_gguf.py imports sentencepiece for Qwen2 models even when the
    # model has no tokenizer.model (llama.cpp's own requirements list it).
    if importlib.util.find_spec("sentencepiece") is None:
        raise MissingDependencyError(
            "sentencepiece is not installed, and llama.cpp's convert_hf_to_gguf.py needs it; "
            "install it with: pip install 'qiao[workshop]'"
        )
    if progress:
        progress("merge")
    merged_hf = out_dir / MERGED_HF
    _merge_into(hf_base, adapter_dir, merged_hf)

    if progress:
        progress("convert_merged")
    f16 = out_dir / "merged-f16.gguf"
    partial = out_dir / ".merged-f16.gguf.partial"
    try:
        arguments = [str(merged_hf), "--outtype", "f16", "--outfile", str(partial)]
        run_converter(converter / "convert_hf_to_gguf.py", arguments)
        check_gguf_complete(partial)
        os.replace(partial, f16)
    finally:
        partial.unlink(missing_ok=True)
    if quantize is None:
        return {"merged_hf": str(merged_hf), "merged_gguf": str(f16)}

    if progress:
        progress("quantize")
    quantized = out_dir / f"merged-{quantize}.gguf"
    quantize_gguf(f16, quantized, quantize)
    f16.unlink()
    return {"merged_hf": str(merged_hf), "merged_gguf": str(quantized)}


def quantize_gguf(source: Path, target: Path, quantize: str, threads: int = 0) -> None:
    """Quantise the F16/F32 GGUF ``source`` to ``target`` with llama.cpp's quantizer."""
    low_level = require("llama_cpp.llama_cpp", "llm", "llama-cpp-python")
    params = low_level.llama_model_quantize_default_params()
    params.ftype = getattr(low_level, QUANTIZE_TYPES[quantize])
    params.nthread = threads
    partial = target.with_name(f".{target.name}.partial")
    try:
        with _native_output_captured() as captured:
            status = low_level.llama_model_quantize(
                str(source).encode(), str(partial).encode(), ctypes.byref(params)
            )
        output = "".join(captured)
        if status != 0:
            free = shutil.disk_usage(target.parent).free
            logger.error("llama_model_quantize failed with status %d: %s", status, output[-4000:])
            raise ModelError(
                f"llama.cpp's quantizer failed on {source} (status {status}, {free} bytes free "
                f"on the device of {target.parent}); check the free space and that the file "
                f"is an F16 or F32 GGUF model; its output ends with: {output[-300:]}",
                key="ex_quantize_failed",
                value=str(source),
            )
        check_gguf_complete(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("quantised %s to %s (%s)", source, target, quantize)


@contextlib.contextmanager
def _native_output_captured() -> Iterator[list[str]]:
    """Collect what native code writes to file descriptors 1 and 2 inside the block.

    llama.cpp's quantizer prints one line per tensor; the text is kept for the
    error message instead of flooding the terminal. The yielded list holds the
    text once the block ends.
    """
    with tempfile.TemporaryFile() as capture:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(capture.fileno(), 1)
        os.dup2(capture.fileno(), 2)
        output: list[str] = []
        try:
            yield output
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)
            capture.seek(0)
            output.append(capture.read().decode("utf-8", errors="replace"))


def _merge_into(hf_base: Path, adapter_dir: Path, target: Path) -> None:
    torch = require("torch", "workshop")
    transformers = require("transformers", "workshop")
    peft = require("peft", "workshop")

    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        # Merge in float32, then save in the base's own dtype so the folder keeps its size.
        saved_dtype = _config_dtype(hf_base, torch)
        model = transformers.AutoModelForCausalLM.from_pretrained(hf_base, dtype=torch.float32)
        merged = peft.PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
        try:
            merged.to(saved_dtype).save_pretrained(staging)
        except Exception as error:
            # safetensors reports a full disk as SafetensorError ("os error 28"), not OSError.
            if "os error 28" in str(error) or "No space left" in str(error):
                raise OSError(errno.ENOSPC, f"no space left while saving {staging}") from error
            raise
        transformers.AutoTokenizer.from_pretrained(hf_base).save_pretrained(staging)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("merged %s into %s, saved as %s", adapter_dir, hf_base, target)


def _config_dtype(hf_base: Path, torch: Any) -> Any:
    """Return the weight dtype that config.json records (float32 when it names none)."""
    config = json.loads((hf_base / "config.json").read_text(encoding="utf-8"))
    value = getattr(torch, str(config.get("dtype") or config.get("torch_dtype")), None)
    return value if isinstance(value, torch.dtype) else torch.float32
