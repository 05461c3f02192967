"""Durable server configuration that Vearch keeps in etcd: ``/config/...`` routes.

Stored as ``server-config.json`` in the engine folder. The values are kept
and returned; this single-node server does not act on the request and memory
limits (see the Server section of docs/vectordb.md).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from qiao.fileio import write_json_atomic

__all__ = ["CONFIG_FILE", "ConfigStore", "DEFAULT_CONFIGS"]

CONFIG_FILE = "server-config.json"

# Defaults of the cluster-wide settings (internal/entity/config.go).
DEFAULT_CONFIGS: dict[str, dict[str, Any]] = {
    "request_limit": {
        "request_limit_enabled": False,
        "read_request_limit_count": 0,
        "write_request_limit_count": 0,
    },
    "memory_limit": {
        "memory_limit_enabled": False,
        "router_memory_limit": 0,
        "ps_memory_limit": 0,
    },
    "slow_search_isolation": {"slow_search_isolation_enabled": False},
    "trace": {"trace": False},
}


class ConfigStore:
    """Thread-safe settings by key, written through to disk on every change."""

    def __init__(self, folder: Path) -> None:
        self._path = Path(folder) / CONFIG_FILE
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, Any]] = {}
        if self._path.is_file():
            self._values = json.loads(self._path.read_text(encoding="utf-8"))

    def get(self, key: str, default: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._lock:
            base = dict(DEFAULT_CONFIGS.get(key, default or {}))
            base.update(self._values.get(key, {}))
            return base

    def update(self, key: str, values: dict[str, Any]) -> dict[str, Any]:
        """Merge ``values`` into the setting ``key``, save, and return the result."""
        with self._lock:
            merged = dict(self._values.get(key, {}))
            merged.update(values)
            self._values[key] = merged
            write_json_atomic(self._path, self._values)
        return self.get(key)

    def drop_prefix(self, prefix: str) -> None:
        """Forget every setting whose key starts with ``prefix`` (a dropped space)."""
        with self._lock:
            keys = [key for key in self._values if key.startswith(prefix)]
            for key in keys:
                del self._values[key]
            if keys:
                write_json_atomic(self._path, self._values)
