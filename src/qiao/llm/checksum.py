"""SHA-256 of large files, and a sidecar file that records a verified hash.

The sidecar ``NAME.sha256`` next to a file stores the hash with the file's
size and modification time, so a file that was verified once is not hashed
again on every load unless its size or modification time changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "BLOCK_SIZE",
    "ProgressCallback",
    "is_verified",
    "record_verified",
    "sha256_file",
    "sidecar_path",
]

logger = logging.getLogger(__name__)

BLOCK_SIZE = 8 * 1024 * 1024

# Called with (bytes done, bytes total) after each block.
ProgressCallback = Callable[[int, int], None]


def sha256_file(path: Path, progress: ProgressCallback | None = None) -> str:
    """Hash ``path`` in 8 MiB blocks and return the hex digest."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as source:
        while block := source.read(BLOCK_SIZE):
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_verified(path: Path, sha256: str) -> bool:
    """Return whether the sidecar records ``sha256`` for the current size and mtime of ``path``."""
    try:
        record = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        status = path.stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("sha256") == sha256
        and record.get("size") == status.st_size
        and record.get("mtime_ns") == status.st_mtime_ns
    )


def record_verified(path: Path, sha256: str) -> None:
    """Write the sidecar of ``path``. A failure is logged and only costs a new hash later."""
    status = path.stat()
    record = {"sha256": sha256, "size": status.st_size, "mtime_ns": status.st_mtime_ns}
    sidecar = sidecar_path(path)
    temporary = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, sidecar)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        logger.warning("could not record the verified hash in %s: %s", sidecar, error)
