"""Concatenate part files into one verified file, atomically.

The parts are written to a temporary file in the target's folder while their
SHA-256 is computed. The temporary file is synced to disk and renamed over the
target only when the hash matches, so the target either does not exist or is
complete and verified, even after a crash.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from qiao.errors import ModelError
from qiao.llm.checksum import BLOCK_SIZE, ProgressCallback, record_verified

__all__ = ["assemble_parts", "remove_stale_temporaries"]

logger = logging.getLogger(__name__)

# Temporary files of an assembly interrupted longer ago than this are deleted.
STALE_TEMPORARY_S = 3600


def assemble_parts(
    parts: list[Path],
    target: Path,
    sha256: str,
    progress: ProgressCallback | None = None,
    *,
    fix: str = "",
) -> None:
    """Write the concatenation of ``parts`` to ``target`` if its SHA-256 is ``sha256``.

    On a hash mismatch, raise ModelError that ends with ``fix`` and leave no
    file behind. A ``.sha256`` sidecar records the verified hash.
    """
    began = time.perf_counter()
    logger.info("assembling %s from %d parts", target, len(parts))
    total = sum(part.stat().st_size for part in parts)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as output:
            actual = _copy_parts(parts, output, total, progress)
            output.flush()
            os.fsync(output.fileno())
        if actual != sha256:
            message = (
                f"the parts of {target.name} assemble to SHA-256 {actual}, expected {sha256}, "
                f"so {target} was not written"
            )
            raise ModelError(f"{message}; {fix}" if fix else message)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as error:
        raise ModelError(f"failed to write model file {target}: {error}") from error
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(target.parent)
    record_verified(target, sha256)
    logger.info("assembled %s (%d bytes) in %.1f s", target, total, time.perf_counter() - began)


def remove_stale_temporaries(target: Path) -> None:
    """Delete temporary files that an interrupted assembly of ``target`` left behind."""
    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.*.partial"):
        try:
            if now - leftover.stat().st_mtime > STALE_TEMPORARY_S:
                leftover.unlink()
                logger.info("deleted leftover temporary file %s", leftover)
        except OSError as error:
            logger.warning("could not delete leftover temporary file %s: %s", leftover, error)


def _copy_parts(
    parts: list[Path], output: BinaryIO, total: int, progress: ProgressCallback | None
) -> str:
    """Write ``parts`` to ``output`` and return the SHA-256 of everything written."""
    digest = hashlib.sha256()
    done = 0
    for part in parts:
        with part.open("rb") as source:
            while block := source.read(BLOCK_SIZE):
                digest.update(block)
                output.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
    return digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    """Persist the rename in ``directory``, where the file system supports syncing a folder."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
