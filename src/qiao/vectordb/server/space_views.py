"""Space descriptions in Vearch's shapes, from engine methods or else from the schema."""

from __future__ import annotations

import inspect
from typing import Any

from qiao.vectordb.engine import Engine
from qiao.vectordb.space import Space

__all__ = ["describe_space", "indexes_info", "space_entity"]


def describe_space(space: Space, detail: bool) -> dict[str, Any]:
    """Return the SpaceInfo of GET /dbs/:db/spaces/:space."""
    if "detail" in inspect.signature(space.describe).parameters:
        return space.describe(detail=detail)
    return space.describe()


def space_entity(engine: Engine, space: Space) -> dict[str, Any]:
    """Return the full Vearch Space entity (the create-space and cache responses)."""
    if hasattr(space, "entity"):
        return space.entity()

    # NOTE: a stand-in until Space.entity() exists: the schema plus ids, one partition.
    schema = space.schema.to_dict()
    db_id = engine.describe_database(space.db_name)["id"]
    entity: dict[str, Any] = {
        "id": space.id,
        "name": space.name,
        "db_id": db_id,
        "db_name": space.db_name,
        "partition_num": schema["partition_num"],
        "replica_num": schema["replica_num"],
        "fields": schema["fields"],
        "indexes": schema.get("indexes", []),
        "enable_realtime": schema.get("enable_realtime", False),
        "space_properties": {field["name"]: field for field in schema["fields"]},
        "partitions": [
            {
                "id": space.id,
                "name": "",
                "space_id": space.id,
                "db_id": db_id,
                "partition_slot": 0,
                "replicas": [1],
            }
        ],
    }
    return entity


def indexes_info(space: Space, detail: bool) -> dict[str, Any]:
    """Return ``{db_name, space_name, indexes, build_state}`` of GET .../indexes."""
    if hasattr(space, "indexes_info"):
        return space.indexes_info(detail=detail)

    # NOTE: a stand-in until Space.indexes_info() exists: the declared indexes, all built.
    schema = space.schema.to_dict()
    indexes = [
        {"field_name": field["name"], **field["index"]}
        for field in schema["fields"]
        if field.get("index")
    ]
    indexes.extend(schema.get("indexes", []))
    return {
        "db_name": space.db_name,
        "space_name": space.name,
        "indexes": indexes,
        "build_state": "indexed",
    }
