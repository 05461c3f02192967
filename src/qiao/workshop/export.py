"""Export a peft LoRA adapter as a GGUF LoRA adapter for llama.cpp, optionally also merged.

The adapter GGUF is written by llama.cpp's own convert_lora_to_gguf.py from
the llama-cpp-python release Qiao pins (see :mod:`qiao.workshop.converter`),
and llama.cpp loads it on top of the unchanged base GGUF
(``Llama(model_path=base, lora_path=adapter)``). The converter reads only the
base model's config.json, never its weights.

Output files in ``out_dir``:
    adapter.gguf              the LoRA adapter (when llama.cpp's format can express it)
    merged-hf/                base + adapter merged, as a Hugging Face folder (merge=True)
    merged-<quantize>.gguf    that merged model as GGUF (merged-f16.gguf without quantize)
    export.json               what was written and from which inputs
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qiao.config import default_home
from qiao.errors import InvalidInputError, ModelError, NotFoundError, StorageError
from qiao.fileio import write_json_atomic
from qiao.llm.gguf_metadata import read_gguf_metadata
from qiao.workshop.converter import LLAMA_CPP_PYTHON_VERSION, ensure_converter, run_converter
from qiao.workshop.export_checks import (
    AdapterInfo,
    check_adapter,
    check_base_gguf,
    check_gguf_complete,
    check_match,
)
from qiao.workshop.merge import QUANTIZE_TYPES, merge_to_gguf

__all__ = ["ADAPTER_FILE", "MANIFEST_FILE", "OUTTYPES", "export_adapter"]

logger = logging.getLogger(__name__)

ADAPTER_FILE = "adapter.gguf"
MANIFEST_FILE = "export.json"
# Tensor types convert_lora_to_gguf.py can write.
OUTTYPES = ("f32", "f16", "bf16", "q8_0")

StageCallback = Callable[[str], None]


def export_adapter(
    base_gguf: Path,
    adapter_dir: Path,
    out_dir: Path,
    merge: bool = False,
    quantize: str | None = None,
    *,
    hf_base: Path | None = None,
    outtype: str = "f16",
    tools_dir: Path | None = None,
    llama_cpp_sdist: Path | None = None,
    progress: StageCallback | None = None,
) -> dict[str, Any]:
    """Convert the peft adapter in ``adapter_dir`` to ``out_dir/adapter.gguf`` and return a report.

    ``hf_base`` is the Hugging Face folder of the base model (default: the
    adapter's ``base_model_name_or_path``). ``merge`` also merges the adapter
    into the base weights and converts the result to GGUF, quantised to
    ``quantize`` (e.g. "q4_k_m") when given. ``tools_dir`` keeps llama.cpp's
    converters (default: QIAO_HOME/tools). ``progress`` receives the name of
    each stage as it starts. Files finished before a failure are kept.
    """
    began = time.perf_counter()
    base_gguf, adapter_dir = Path(base_gguf).resolve(), Path(adapter_dir).resolve()
    out_dir = Path(out_dir).resolve()
    _check_options(merge, quantize, outtype)
    base = check_base_gguf(base_gguf)
    adapter = check_adapter(adapter_dir)
    hf_folder = _resolve_hf_base(hf_base, adapter)
    check_match(adapter, hf_folder, base)
    if adapter.gguf_blocker and not merge:
        raise InvalidInputError(
            f"the adapter in {adapter_dir} cannot be exported as a GGUF LoRA adapter because "
            f"{adapter.gguf_blocker}; export it with --merge to merge it into the base weights",
            key="ex_adapter_unsupported",
            value=str(adapter_dir),
            reason=adapter.gguf_blocker,
        )

    report: dict[str, Any] = {
        "base_gguf": str(base_gguf),
        "hf_base": str(hf_folder.resolve()),
        "adapter_dir": str(adapter_dir),
        "adapter_gguf": None,
        "adapter_skipped": adapter.gguf_blocker,
        "merged_hf": None,
        "merged_gguf": None,
        "outtype": outtype,
        "quantize": quantize,
        "converter": f"llama.cpp from llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}",
        "lora": {
            "r": adapter.config.get("r"),
            "alpha": adapter.config.get("lora_alpha"),
            "target_modules": adapter.config.get("target_modules"),
        },
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _stage(progress, "converter")
        converter = ensure_converter(tools_dir or default_home() / "tools", llama_cpp_sdist)
        if adapter.gguf_blocker is None:
            _stage(progress, "adapter")
            written = _convert_adapter(converter, adapter, hf_folder, out_dir, outtype)
            report["adapter_gguf"] = str(written)
        if merge:
            merged = merge_to_gguf(hf_folder, adapter_dir, out_dir, converter, quantize, progress)
            report.update(merged)
        report["created"] = datetime.now(UTC).isoformat(timespec="seconds")
        report["seconds"] = round(time.perf_counter() - began, 2)
        write_json_atomic(out_dir / MANIFEST_FILE, report)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        kept = [name for name in (report["adapter_gguf"], report["merged_gguf"]) if name]
        raise StorageError(
            f"no space left on the device of {out_dir} ({error}); free some space and run the "
            f"export again (finished files kept: {', '.join(kept) or 'none'})",
            key="ex_disk_full",
            value=str(out_dir),
        ) from error
    logger.info("exported %s to %s in %.1f s", adapter_dir, out_dir, report["seconds"])
    return report


def _check_options(merge: bool, quantize: str | None, outtype: str) -> None:
    if outtype not in OUTTYPES:
        raise InvalidInputError(
            f"invalid adapter tensor type {outtype!r}; choose one of {', '.join(OUTTYPES)}",
            key="ex_bad_outtype",
            value=outtype,
            choices=", ".join(OUTTYPES),
        )
    if quantize is None:
        return
    if not merge:
        raise InvalidInputError(
            f"quantize={quantize!r} applies to the merged model only; add --merge, or leave "
            "out --quantize (the adapter runs on the already quantised base GGUF)",
            key="ex_quantize_needs_merge",
            value=quantize,
        )
    if quantize not in QUANTIZE_TYPES:
        raise InvalidInputError(
            f"invalid quantisation type {quantize!r}; choose one of {', '.join(QUANTIZE_TYPES)}",
            key="ex_bad_quantize",
            value=quantize,
            choices=", ".join(QUANTIZE_TYPES),
        )


def _resolve_hf_base(hf_base: Path | None, adapter: AdapterInfo) -> Path:
    if hf_base is not None:
        return Path(hf_base)
    recorded = adapter.config.get("base_model_name_or_path")
    if recorded and (Path(recorded) / "config.json").is_file():
        return Path(recorded)
    raise NotFoundError(
        f"the adapter in {adapter.folder} names base model {recorded!r}, which is not a folder "
        "with config.json here; pass the base model's Hugging Face folder (RUN/base) with "
        "--hf-base",
        key="ex_hf_base_unknown",
        value=str(recorded),
    )


def _convert_adapter(
    converter: Path, adapter: AdapterInfo, hf_base: Path, out_dir: Path, outtype: str
) -> Path:
    target = out_dir / ADAPTER_FILE
    partial = out_dir / f".{ADAPTER_FILE}.partial"
    arguments = ["--base", str(hf_base), "--outtype", outtype, "--outfile", str(partial)]
    try:
        run_converter(converter / "convert_lora_to_gguf.py", [*arguments, str(adapter.folder)])
        check_gguf_complete(partial)
        written = read_gguf_metadata(partial, ["general.type", "adapter.type"])
        if written != {"general.type": "adapter", "adapter.type": "lora"}:
            raise ModelError(
                f"convert_lora_to_gguf.py wrote {partial} without the LoRA adapter keys "
                f"({written}); report this with the adapter_config.json",
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("wrote LoRA adapter %s (%d bytes)", target, target.stat().st_size)
    return target


def _stage(progress: StageCallback | None, name: str) -> None:
    logger.info("export stage %s", name)
    if progress is not None:
        progress(name)
