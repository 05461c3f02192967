"""A segment: one folder with a run of rows, written once and never changed.

``scalars.json`` contains ``{"ids": [...], "columns": {field: [values]},
"partitions": [partition ids]}`` (no ``partitions`` in segments written
before partitions were stored) and
``vectors-<i>.f32`` the raw little-endian float32 vectors of the i-th vector
field, row after row.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qiao.errors import StorageError
from qiao.fileio import fsync_directory, write_bytes_durable

__all__ = [
    "SegmentData",
    "read_checked",
    "read_segment_scalars",
    "read_segment_vectors",
    "write_segment",
]

SCALARS_FILE = "scalars.json"


def vectors_file(position: int) -> str:
    """Return the file name of the vectors of the vector field at ``position``."""
    return f"vectors-{position}.f32"


@dataclass
class SegmentData:
    """Rows of one segment: ids, scalar columns in storage form and partition ids."""

    ids: list[str]
    columns: dict[str, list[Any]]
    partitions: list[int] | None = None


def write_segment(
    directory: Path, data: SegmentData, vectors: dict[int, np.ndarray]
) -> dict[str, int]:
    """Write a new segment folder durably; return each file's CRC32."""
    directory.mkdir()
    checksums: dict[str, int] = {}
    content = {"ids": data.ids, "columns": data.columns, "partitions": data.partitions}
    payload = json.dumps(content, ensure_ascii=False)
    files = {SCALARS_FILE: payload.encode("utf-8")}
    for position, block in vectors.items():
        files[vectors_file(position)] = np.ascontiguousarray(block, dtype="<f4").tobytes()
    for name, content in files.items():
        write_bytes_durable(directory / name, content)
        checksums[name] = zlib.crc32(content)
    fsync_directory(directory)
    fsync_directory(directory.parent)
    return checksums


def read_checked(path: Path, crc: int) -> bytes:
    """Return the bytes of ``path`` or raise StorageError if missing or the checksum differs."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise StorageError(f"snapshot file {path} is unreadable: {error}") from error
    if zlib.crc32(content) != crc:
        raise StorageError(
            f"snapshot file {path} is corrupt (checksum mismatch); restore the space from a backup"
        )
    return content


def read_segment_scalars(directory: Path, files: dict[str, int]) -> SegmentData:
    """Read and verify the ids and scalar columns of a segment."""
    raw = json.loads(read_checked(directory / SCALARS_FILE, files[SCALARS_FILE]))
    return SegmentData(raw["ids"], raw["columns"], raw.get("partitions"))


def read_segment_vectors(
    directory: Path, files: dict[str, int], position: int, row_count: int, dimension: int
) -> np.ndarray:
    """Read and verify the vectors of one vector field of a segment."""
    name = vectors_file(position)
    content = read_checked(directory / name, files[name])
    if len(content) != row_count * dimension * 4:
        raise StorageError(
            f"snapshot file {directory / name} has {len(content)} bytes, expected "
            f"{row_count * dimension * 4} for {row_count} vectors of dimension {dimension}"
        )
    return np.frombuffer(content, dtype="<f4").reshape(row_count, dimension)


def remove_tree(path: Path) -> None:
    """Delete a segment folder and its files."""
    for child in path.iterdir():
        child.unlink()
    os.rmdir(path)
