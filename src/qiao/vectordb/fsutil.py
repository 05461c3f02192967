"""Durable file operations: fsync of files and directories, atomic replacement."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["fsync_dir", "write_bytes_durable", "write_json_atomic"]


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change (create, rename, unlink) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_durable(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file at ``path`` and fsync it (the directory is not synced)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_json_atomic(path: Path, value: Any) -> None:
    """Replace ``path`` with ``value`` as JSON so that a reader sees the old or the new file.

    The steps are: write a temporary file, fsync it, rename it over ``path``,
    fsync the directory.
    """
    temporary = path.with_name(path.name + ".tmp")
    data = json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")
    write_bytes_durable(temporary, data)
    os.replace(temporary, path)
    fsync_dir(path.parent)
