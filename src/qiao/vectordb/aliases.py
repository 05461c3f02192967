"""Space aliases: global names that point at a space, stored in ``aliases.json``.

As in Vearch (``internal/entity/alias.go``), an alias is ``{name, db_name,
space_name}`` and document calls may name an alias where they name a space.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from qiao.fileio import write_json_atomic
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.names import validate_name

__all__ = ["ALIASES_FILE", "AliasStore"]

logger = logging.getLogger(__name__)

ALIASES_FILE = "aliases.json"


class AliasStore:
    """Thread-safe aliases of one engine folder, written through on every change."""

    def __init__(self, folder: Path, read_only: bool = False) -> None:
        self._path = Path(folder) / ALIASES_FILE
        self._read_only = read_only
        self._lock = threading.Lock()
        self._aliases: dict[str, dict[str, str]] = {}
        if self._path.is_file():
            self._aliases = json.loads(self._path.read_text(encoding="utf-8"))

    def _save(self) -> None:
        write_json_atomic(self._path, self._aliases)

    def create(self, alias: str, db: str, space: str) -> dict[str, str]:
        """Add ``alias`` for ``db/space``; ALIAS_EXIST (241) if the name is taken."""
        validate_name(alias, "alias")
        with self._lock:
            if alias in self._aliases:
                raise VectorDBError(ErrorCode.ALIAS_EXIST, f"alias {alias!r} already exists")
            entry = {"name": alias, "db_name": db, "space_name": space}
            self._aliases[alias] = entry
            self._save()
        logger.info("created alias %s for %s/%s", alias, db, space)
        return dict(entry)

    def update(self, alias: str, db: str, space: str) -> dict[str, str]:
        """Point an existing alias at ``db/space``; ALIAS_NOT_EXIST (240) if it is unknown."""
        with self._lock:
            if alias not in self._aliases:
                raise VectorDBError(ErrorCode.ALIAS_NOT_EXIST, f"alias {alias!r} does not exist")
            entry = {"name": alias, "db_name": db, "space_name": space}
            self._aliases[alias] = entry
            self._save()
        logger.info("pointed alias %s at %s/%s", alias, db, space)
        return dict(entry)

    def get(self, alias: str) -> dict[str, str]:
        with self._lock:
            entry = self._aliases.get(alias)
        if entry is None:
            raise VectorDBError(ErrorCode.ALIAS_NOT_EXIST, f"alias {alias!r} does not exist")
        return dict(entry)

    def find(self, alias: str) -> dict[str, str] | None:
        with self._lock:
            entry = self._aliases.get(alias)
        return dict(entry) if entry is not None else None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(self._aliases[name]) for name in sorted(self._aliases)]

    def drop(self, alias: str) -> None:
        with self._lock:
            if self._aliases.pop(alias, None) is None:
                raise VectorDBError(ErrorCode.ALIAS_NOT_EXIST, f"alias {alias!r} does not exist")
            self._save()
        logger.info("dropped alias %s", alias)
