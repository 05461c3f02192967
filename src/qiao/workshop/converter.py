"""llama.cpp's GGUF converters, taken from the llama-cpp-python source release that Qiao pins.

The conversion scripts (convert_lora_to_gguf.py, convert_hf_to_gguf.py, the
``conversion`` package they share and their own copy of ``gguf-py``) are not
in the llama-cpp-python wheel. They are extracted once from the source release
of the same version (``vendor/llama.cpp``), so the adapter GGUF is written by
the converter of the llama.cpp revision that later loads it. The release is
checked against its SHA-256 before anything is extracted.

Offline machines can pass the release file, or set ``QIAO_LLAMA_CPP_SDIST``,
instead of letting pip download it.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from qiao.errors import ModelError, NotFoundError, StorageError

__all__ = [
    "LLAMA_CPP_PYTHON_VERSION",
    "SDIST_SHA256",
    "converter_environment",
    "ensure_converter",
    "run_converter",
    "sdist_filename",
]

logger = logging.getLogger(__name__)

# The llama-cpp-python release whose vendored llama.cpp writes and reads the GGUF files.
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
# SHA-256 of llama_cpp_python-0.3.36.tar.gz as published on PyPI.
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
SDIST_ENVIRONMENT = "QIAO_LLAMA_CPP_SDIST"
# Paths under vendor/llama.cpp that the two converters need.
CONVERTER_MEMBERS = (
    "LICENSE",
    "convert_hf_to_gguf.py",
    "convert_lora_to_gguf.py",
    "conversion/",
    "gguf-py/",
)
COMPLETE_MARKER = ".complete"


def sdist_filename() -> str:
    return f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"


def ensure_converter(tools_dir: Path, sdist: Path | None = None) -> Path:
    """Return the folder with llama.cpp's converters, extracting them on first use.

    The source release comes from ``sdist``, ``$QIAO_LLAMA_CPP_SDIST``, a copy
    already in ``tools_dir``, or else ``pip download`` from PyPI (76 MB), in
    that order. A release that pip downloaded is deleted after extraction.
    """
    target = tools_dir / f"llama.cpp-{LLAMA_CPP_PYTHON_VERSION}"
    if (target / COMPLETE_MARKER).is_file():
        return target

    downloaded = False
    source = sdist or _sdist_from_environment()
    if source is None:
        source = tools_dir / sdist_filename()
        if not source.is_file():
            _download_sdist(tools_dir)
            downloaded = True
    if not source.is_file():
        raise NotFoundError(
            f"llama-cpp-python source release {source} not found; download it with: pip download "
            f"--no-deps --no-binary :all: llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"
        )

    _check_sha256(source)
    _extract(source, target)
    if downloaded:
        source.unlink(missing_ok=True)
    return target


def converter_environment() -> dict[str, str]:
    """Return the environment for a converter process, with the Hugging Face Hub turned off."""
    environment = dict(os.environ)
    # The converters fall back to the Hugging Face Hub for missing configs; never let them.
    environment["HF_HUB_OFFLINE"] = "1"
    environment["TRANSFORMERS_OFFLINE"] = "1"
    # They import their own gguf-py unless NO_LOCAL_GGUF is set.
    environment.pop("NO_LOCAL_GGUF", None)
    return environment


def run_converter(script: Path, arguments: list[str]) -> None:
    """Run one of llama.cpp's converter scripts with this Python, raising a clear error on failure.

    A full disk raises StorageError; any other failure raises ModelError with
    the end of the converter's output.
    """
    command = [sys.executable, str(script), *arguments]
    logger.info("running %s", " ".join(command))
    result = subprocess.run(
        command, capture_output=True, text=True, env=converter_environment(), check=False
    )
    if result.returncode == 0:
        return
    output = (result.stdout + result.stderr).strip()
    logger.error("%s failed with exit code %d: %s", script.name, result.returncode, output[-4000:])
    if "No space left on device" in output or "[Errno 28]" in output:
        raise StorageError(
            f"no space left on the device while {script.name} wrote its output; free some "
            "space and run the export again",
            key="ex_disk_full",
            value=script.name,
        )
    last_lines = "\n".join(output.splitlines()[-5:])
    raise ModelError(
        f"llama.cpp's {script.name} (from llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}) failed "
        f"with exit code {result.returncode}: {last_lines}; rerun with QIAO_LOG_LEVEL=INFO for "
        "its full output",
        key="ex_converter_failed",
        script=script.name,
        code=result.returncode,
        output=last_lines,
    )


def _sdist_from_environment() -> Path | None:
    value = os.environ.get(SDIST_ENVIRONMENT)
    return Path(value).expanduser() if value else None


def _download_sdist(tools_dir: Path) -> None:
    tools_dir.mkdir(parents=True, exist_ok=True)
    logger.info("downloading llama-cpp-python %s source release with pip", LLAMA_CPP_PYTHON_VERSION)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
        "--dest",
        str(tools_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        logger.error("pip download failed: %s", result.stderr[-2000:])
        raise ModelError(
            f"pip could not download llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} (the source of "
            f"llama.cpp's converters): {result.stderr.strip()[-500:]}; on an offline machine, "
            f"copy {sdist_filename()} here and pass it with --llama-cpp-sdist or "
            f"{SDIST_ENVIRONMENT}"
        )


def _check_sha256(path: Path) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != SDIST_SHA256:
        raise ModelError(
            f"{path} has SHA-256 {digest.hexdigest()}, not the {SDIST_SHA256} of "
            f"{sdist_filename()} on PyPI; download the file again"
        )


def _extract(sdist: Path, target: Path) -> None:
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    # mkdtemp makes the folder private to its owner; use the usual mode.
    staging.chmod(0o755)
    try:
        with tarfile.open(sdist, "r:gz") as archive:
            members = []
            for member in archive.getmembers():
                relative = member.name.removeprefix(prefix)
                if member.name.startswith(prefix) and relative.startswith(CONVERTER_MEMBERS):
                    member.name = relative
                    members.append(member)
            # The "data" filter rejects absolute paths, links out of the folder and devices.
            archive.extractall(staging, members=members, filter="data")
        (staging / COMPLETE_MARKER).write_text(sdist.name + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise StorageError(
                f"no space left on the device of {target.parent} while extracting llama.cpp's "
                "converters (about 3 MB); free some space and run the export again",
                key="ex_disk_full",
                value=str(target.parent),
            ) from error
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("extracted llama.cpp's converters into %s", target)
