"""The metadata file of a space, ``space.json``: schema, partitions and state.

``space.json`` is replaced atomically (temporary file, fsync, rename,
directory fsync), so a space's schema and partition list change together.
Files written before partitions existed lack ``db_id``, ``partitions``,
``enabled`` and ``version``; they read as one partition whose id is the
space id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qiao.errors import StorageError
from qiao.fileio import write_json_atomic
from qiao.vectordb.partitions import Partition, PartitionLayout
from qiao.vectordb.schema import SpaceSchema

__all__ = ["SPACE_FILE", "SpaceMeta", "read_space_meta", "write_space_meta"]

SPACE_FILE = "space.json"
DATABASE_FILE = "db.json"


@dataclass(frozen=True)
class SpaceMeta:
    """Everything ``space.json`` stores about a space."""

    id: int
    db_name: str
    db_id: int
    schema: SpaceSchema
    layout: PartitionLayout
    enabled: bool = True
    version: int = 1

    @property
    def name(self) -> str:
        return self.schema.name

    def with_changes(self, **changes: Any) -> SpaceMeta:
        """Return a copy with ``changes`` applied and the version increased."""
        return replace(self, version=self.version + 1, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "db_name": self.db_name,
            "db_id": self.db_id,
            "schema": self.schema.to_dict(),
            "partitions": self.layout.to_json(),
            "enabled": self.enabled,
            "version": self.version,
        }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StorageError(f"{path} is unreadable: {error}") from error


def read_space_meta(directory: Path) -> SpaceMeta:
    """Read ``space.json`` of the space folder ``directory``."""
    raw = _read_json(directory / SPACE_FILE)
    schema = SpaceSchema.from_dict(raw["schema"])
    db_id = raw.get("db_id")
    if db_id is None:
        db_id = _read_json(directory.parent.parent / DATABASE_FILE)["id"]
    raw_partitions = raw.get("partitions")
    if raw_partitions:
        partitions = tuple(Partition.from_dict(entry) for entry in raw_partitions)
    else:
        partitions = (Partition(int(raw["id"]), "", 0),)
    layout = PartitionLayout(partitions, schema.partition_num, schema.partition_rule)
    return SpaceMeta(
        int(raw["id"]),
        str(raw["db_name"]),
        int(db_id),
        schema,
        layout,
        bool(raw.get("enabled", True)),
        int(raw.get("version", 1)),
    )


def write_space_meta(directory: Path, meta: SpaceMeta) -> None:
    """Replace ``space.json`` atomically."""
    write_json_atomic(directory / SPACE_FILE, meta.to_json())
