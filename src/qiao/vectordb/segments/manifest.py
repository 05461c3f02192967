"""The manifest: which segment, tombstone and index files make up a space's snapshot.

The manifest is replaced atomically, so it always names a complete snapshot.
Files it does not name are leftovers of an interrupted snapshot and are deleted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qiao.errors import StorageError
from qiao.fileio import write_json_atomic

__all__ = ["MANIFEST_NAME", "FileRef", "Manifest", "SegmentInfo", "read_manifest", "write_manifest"]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


@dataclass
class FileRef:
    """A file in the segments folder with its CRC32 checksum."""

    file: str
    crc: int


@dataclass
class SegmentInfo:
    """Rows ``row_start`` to ``row_start + row_count`` stored in segment folder ``name``."""

    name: str
    row_start: int
    row_count: int
    files: dict[str, int] = field(default_factory=dict)


@dataclass
class Manifest:
    """State of a space's last snapshot and the first log file to replay after it."""

    generation: int = 0
    wal_seq: int = 1
    row_count: int = 0
    segments: list[SegmentInfo] = field(default_factory=list)
    tombstones: FileRef | None = None
    # Saved persistent indexes by vector field name; each covers ``row_count`` rows.
    indexes: dict[str, FileRef] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        result = asdict(self)
        result["format"] = FORMAT_VERSION
        return result

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Manifest:
        tombstones = raw.get("tombstones")
        return cls(
            generation=raw["generation"],
            wal_seq=raw["wal_seq"],
            row_count=raw["row_count"],
            segments=[SegmentInfo(**segment) for segment in raw["segments"]],
            tombstones=FileRef(**tombstones) if tombstones else None,
            indexes={name: FileRef(**ref) for name, ref in raw.get("indexes", {}).items()},
        )

    def referenced_files(self) -> set[str]:
        """Return the names in the segments folder that this manifest uses."""
        names = {segment.name for segment in self.segments}
        if self.tombstones is not None:
            names.add(self.tombstones.file)
        names.update(ref.file for ref in self.indexes.values())
        return names


def read_manifest(space_dir: Path) -> Manifest:
    """Return the space's manifest, or an empty one before the first snapshot."""
    path = space_dir / MANIFEST_NAME
    if not path.exists():
        return Manifest()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT_VERSION}")
        return Manifest.from_json(raw)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StorageError(f"snapshot manifest {path} is unreadable: {error}") from error


def write_manifest(space_dir: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically (temporary file, fsync, rename, directory fsync)."""
    write_json_atomic(space_dir / MANIFEST_NAME, manifest.to_json())
