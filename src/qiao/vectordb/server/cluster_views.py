"""Cluster descriptions of a single node: stats, health, servers and partitions."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from qiao.vectordb.engine import Engine
from qiao.vectordb.server.settings import ServerSettings

__all__ = ["cluster_health", "cluster_stats", "partitions", "servers"]

# The single partition server gets node id 1, as the first server of a Vearch cluster.
NODE_ID = 1


def _folder_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total


def _memory() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    total = values.get("MemTotal", 0)
    free = values.get("MemAvailable", values.get("MemFree", 0))
    return {"total_in_bytes": total, "free_in_bytes": free, "used_in_bytes": total - free}


def cluster_stats(engine: Engine, settings: ServerSettings) -> list[dict[str, Any]]:
    """Return one ServerStats entry for this node."""
    disk = shutil.disk_usage(engine.path)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return [
        {
            "status": 200,
            "ip": settings.host,
            "labels": {"node_id": NODE_ID},
            "mem": _memory(),
            "fs": {
                "paths": [str(engine.path)],
                "total_in_bytes": disk.total,
                "free_in_bytes": disk.free,
                "used_in_bytes": disk.used,
            },
            "cpu": {"load_average_1m": load, "cores": os.cpu_count() or 1},
        }
    ]


def partitions(engine: Engine) -> list[dict[str, Any]]:
    """Return the partitions of every space, each with its space and database names."""
    result = []
    for db in engine.list_databases():
        for name in engine.list_spaces(db):
            info = engine.get_space(db, name).describe()
            for entry in info.get("partitions", []):
                result.append({**entry, "db_name": db, "space_name": name, "node_id": NODE_ID})
    return result


def servers(engine: Engine, settings: ServerSettings) -> dict[str, Any]:
    return {
        "servers": [
            {
                "server": {
                    "name": NODE_ID,
                    "ip": settings.host,
                    "rpc_port": settings.port,
                    "p_ids": [entry.get("pid") for entry in partitions(engine)],
                },
                "partitions": partitions(engine),
            }
        ],
        "count": 1,
    }


def cluster_health(
    engine: Engine, db_filter: str, space_filter: str, detail: bool
) -> list[dict[str, Any]]:
    """Return ``[{db_name, space_num, doc_num, size, spaces, status, errors}]``."""
    result = []
    for db in engine.list_databases():
        if db_filter and db != db_filter:
            continue
        spaces = []
        for name in engine.list_spaces(db):
            if space_filter and name != space_filter:
                continue
            space = engine.get_space(db, name)
            info = space.describe(detail=detail)
            entry: dict[str, Any] = {
                "name": name,
                "partition_num": info.get("partition_num", 1),
                "replica_num": info.get("replica_num", 1),
                "doc_num": info.get("doc_num", 0),
                "size": _folder_bytes(space.directory),
                "status": info.get("status", "green"),
            }
            if detail:
                entry["partitions"] = info.get("partitions", [])
            spaces.append(entry)
        result.append(
            {
                "db_name": db,
                "space_num": len(spaces),
                "doc_num": sum(space["doc_num"] for space in spaces),
                "size": sum(space["size"] for space in spaces),
                "spaces": spaces,
                "status": "green",
                "errors": [],
            }
        )
    return result
