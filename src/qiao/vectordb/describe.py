"""Vearch's descriptions of a space: SpaceInfo (space GET) and the Space entity.

Field names follow Vearch v3.5 ``internal/entity/space.go`` and
``internal/entity/partition.go``. A single node reports every partition on
node 1 at 127.0.0.1 with one replica.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qiao.vectordb.field_indexes import index_spec_for
from qiao.vectordb.space_meta import SpaceMeta
from qiao.vectordb.store import DocumentStore

__all__ = ["NODE_ID", "describe_space", "space_entity"]

NODE_ID = 1
NODE_IP = "127.0.0.1"
# Vearch's PartitionStatus PA_READWRITE.
_READ_WRITE = 4


def _counts(values: np.ndarray) -> dict[int, int]:
    keys, counts = np.unique(values, return_counts=True)
    return dict(zip(keys.tolist(), counts.tolist(), strict=True))


def describe_space(
    meta: SpaceMeta, store: DocumentStore, progress: tuple[int, int], detail: bool
) -> dict[str, Any]:
    """Return SpaceInfo; ``progress`` is ``(index_status, indexed_rows)`` of the space.

    A partition's ``index_num`` is its live rows among the indexed rows.
    Its ``max_docid`` is its highest row number, or -1 when it has no rows,
    because row numbers are space-wide on this engine.
    """
    index_status, indexed_rows = progress
    partition_ids = store.partition_ids()
    live = store.live_mask()
    doc_nums = _counts(partition_ids[live])
    indexed = _counts(partition_ids[:indexed_rows][live[:indexed_rows]])
    partitions = []
    for partition in meta.layout.partitions:
        rows = np.flatnonzero(partition_ids == partition.id)
        info: dict[str, Any] = {
            "pid": partition.id,
            "name": partition.name,
            "doc_num": doc_nums.get(partition.id, 0),
            "replica_num": meta.schema.replica_num,
            "status": _READ_WRITE,
            "color": "green",
            "ip": NODE_IP,
            "node_id": NODE_ID,
            "index_status": index_status,
            "backup_status": 0,
            "index_num": indexed.get(partition.id, 0),
            "max_docid": int(rows[-1]) if rows.size else -1,
        }
        if detail:
            info["raft_status"] = {"id": NODE_ID, "leader": NODE_ID, "state": "StateLeader"}
        partitions.append(info)

    schema = meta.schema.to_dict()
    result: dict[str, Any] = {
        "space_name": meta.name,
        "db_name": meta.db_name,
        "doc_num": store.live_count,
        "partition_num": meta.schema.partition_num,
        "replica_num": meta.schema.replica_num,
        "schema": {"fields": schema["fields"], "indexes": schema.get("indexes", [])},
        "status": "green",
        "partitions": partitions,
    }
    if meta.layout.rule is not None:
        result["partition_rule"] = meta.layout.rule.to_dict()
    return result


def space_entity(meta: SpaceMeta) -> dict[str, Any]:
    """Return the Space entity Vearch returns on create and from its space cache."""
    schema = meta.schema
    raw = schema.to_dict()
    properties = {}
    for spec in schema.fields:
        entry = spec.to_dict()
        # NOTE: Vearch serialises field_type as its protobuf enum number; this
        # engine writes the enum name, because the numbers are not documented.
        entry["field_type"] = spec.type.name
        entry["option"] = 1 if schema.is_indexed(spec.name) else 0
        properties[spec.name] = entry
    vector_index = None
    for spec in schema.vector_fields:
        vector_index = index_spec_for(schema, spec).to_dict()
    entity: dict[str, Any] = {
        "id": meta.id,
        "name": meta.name,
        "resource_name": "default",
        "version": meta.version,
        "db_id": meta.db_id,
        "enabled": meta.enabled,
        "fields": raw["fields"],
        "indexes": raw.get("indexes", []),
        "partitions": [
            {
                "id": partition.id,
                "name": partition.name,
                "space_id": meta.id,
                "db_id": meta.db_id,
                "partition_slot": partition.slot,
                "leader_name": NODE_ID,
                "replicas": [NODE_ID],
                "resourceExhausted": False,
            }
            for partition in meta.layout.partitions
        ],
        "partition_num": schema.partition_num,
        "replica_num": schema.replica_num,
        "space_properties": properties,
        "index": vector_index,
        "refresh_interval": raw.get("refresh_interval", 1000),
        "enable_id_cache": raw.get("enable_id_cache", False),
        "enable_realtime": raw.get("enable_realtime", False),
    }
    if meta.layout.rule is not None:
        entity["partition_rule"] = meta.layout.rule.to_dict()
    return entity
