"""The engine: a folder of databases, each a folder of spaces, with one writer at a time."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from qiao.errors import NotFoundError, StorageError
from qiao.fileio import fsync_directory, write_json_atomic
from qiao.vectordb.aliases import AliasStore
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.index_admin import schema_with_indexes, schema_without_index
from qiao.vectordb.lock import EngineLock
from qiao.vectordb.names import validate_name
from qiao.vectordb.partitions import PartitionLayout
from qiao.vectordb.schema import SpaceSchema
from qiao.vectordb.space import DEFAULT_SNAPSHOT_WAL_BYTES, Space
from qiao.vectordb.space_meta import SpaceMeta, read_space_meta, write_space_meta
from qiao.vectordb.space_update import finish_interrupted_renames, update_space

__all__ = ["Engine"]

logger = logging.getLogger(__name__)

ENGINE_FILE = "engine.json"
DATABASE_FILE = "db.json"
SPACE_FILE = "space.json"
FORMAT_VERSION = 1


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StorageError(f"{path} is unreadable: {error}") from error


class Engine:
    """An embedded vector database stored in the folder ``path``.

    Only one writer may open a folder at a time; a second one gets
    LockedError. With ``read_only=True`` the engine takes no lock, writes
    nothing and reads each space as it is when first opened.
    """

    def __init__(
        self,
        path: str | Path,
        read_only: bool = False,
        *,
        snapshot_wal_bytes: int = DEFAULT_SNAPSHOT_WAL_BYTES,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._snapshot_wal_bytes = snapshot_wal_bytes
        self._mutex = threading.RLock()
        self._spaces: dict[tuple[str, str], Space] = {}
        self._lock: EngineLock | None = None
        self._closed = False
        if read_only:
            if not (self.path / ENGINE_FILE).is_file():
                raise NotFoundError(f"no vector database at {self.path}; check the path")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = EngineLock(self.path)
            self._initialize()
        self._meta = _read_json(self.path / ENGINE_FILE)
        self._ids_dirty = False
        self._aliases = AliasStore(self.path, read_only=read_only)
        logger.info("opened vector database %s%s", self.path, " read-only" if read_only else "")

    def _initialize(self) -> None:
        (self.path / "dbs").mkdir(exist_ok=True)
        if not (self.path / ENGINE_FILE).is_file():
            meta = {"format": FORMAT_VERSION, "next_db_id": 1, "next_space_id": 1}
            write_json_atomic(self.path / ENGINE_FILE, meta)
        for leftover in self.path.glob("dbs/**/.pending-*"):
            logger.info("removing %s, left by an interrupted create or drop", leftover)
            shutil.rmtree(leftover)
        finish_interrupted_renames(self.path / "dbs")

    # Databases.

    def _db_dir(self, name: str) -> Path:
        return self.path / "dbs" / validate_name(name, "database")

    def _existing_db_dir(self, name: str) -> Path:
        directory = self._db_dir(name)
        if not (directory / DATABASE_FILE).is_file():
            raise VectorDBError(ErrorCode.DB_NOT_EXIST, f"database {name!r} does not exist")
        return directory

    def create_database(self, name: str) -> dict[str, Any]:
        """Create a database and return ``{"id", "name"}``."""
        with self._mutex:
            self._check_writable()
            directory = self._db_dir(name)
            if directory.exists():
                raise VectorDBError(ErrorCode.DB_EXIST, f"database {name!r} already exists")
            info = {"id": self._next_id("next_db_id"), "name": name}
            self._save_ids()
            pending = self._pending_dir(directory.parent)
            pending.mkdir()
            (pending / "spaces").mkdir()
            write_json_atomic(pending / DATABASE_FILE, info)
            os.rename(pending, directory)
            fsync_directory(directory.parent)
        logger.info("created database %s", name)
        return info

    def describe_database(self, name: str) -> dict[str, Any]:
        """Return ``{"id", "name"}`` of a database."""
        return _read_json(self._existing_db_dir(name) / DATABASE_FILE)

    def list_databases(self) -> list[str]:
        """Return the database names, sorted."""
        self._check_open()
        folder = self.path / "dbs"
        return sorted(path.name for path in folder.iterdir() if (path / DATABASE_FILE).is_file())

    def drop_database(self, name: str) -> None:
        """Delete an empty database; DB_NOT_EMPTY (202) if it still has spaces."""
        with self._mutex:
            self._check_writable()
            directory = self._existing_db_dir(name)
            spaces = self.list_spaces(name)
            if spaces:
                raise VectorDBError(
                    ErrorCode.DB_NOT_EMPTY,
                    f"database {name!r} still has spaces {spaces}; drop them first",
                )
            self._remove(directory)
        logger.info("dropped database %s", name)

    # Spaces.

    def create_space(self, db: str, schema: dict[str, Any]) -> Space:
        """Create a space from a Vearch space schema and return it open."""
        parsed = SpaceSchema.from_dict(schema)
        with self._mutex:
            self._check_writable()
            spaces_dir = self._existing_db_dir(db) / "spaces"
            directory = spaces_dir / parsed.name
            if directory.exists():
                raise VectorDBError(
                    ErrorCode.SPACE_EXIST, f"space {parsed.name!r} already exists in {db!r}"
                )
            db_id = self.describe_database(db)["id"]
            layout = PartitionLayout.create(
                parsed.partition_num,
                parsed.partition_rule,
                lambda: self._next_id("next_partition_id"),
            )
            meta = SpaceMeta(self._next_id("next_space_id"), db, db_id, parsed, layout)
            self._save_ids()
            pending = self._pending_dir(spaces_dir)
            pending.mkdir()
            write_space_meta(pending, meta)
            os.rename(pending, directory)
            fsync_directory(spaces_dir)
            space = self._open_space(db, directory)
        logger.info("created space %s/%s", db, parsed.name)
        return space

    def get_space(self, db: str, name: str) -> Space:
        """Return the open space ``name`` of database ``db``, opening it on first use."""
        with self._mutex:
            self._check_open()
            space = self._spaces.get((db, name))
            if space is not None:
                return space
            directory = self._existing_db_dir(db) / "spaces" / validate_name(name, "space")
            if not (directory / SPACE_FILE).is_file():
                raise VectorDBError(
                    ErrorCode.SPACE_NOT_EXIST, f"space {name!r} does not exist in database {db!r}"
                )
            return self._open_space(db, directory)

    def _loaded_space(self, db: str, name: str) -> Space | None:
        """Return space ``name`` of ``db`` if it is open already, else None; never blocks.

        For callers on an event loop; ``get_space`` or ``resolve_space`` in a
        worker thread handle the other cases (opening, aliases, errors).
        """
        if self._closed:
            return None
        return self._spaces.get((db, name))

    def _open_space(self, db: str, directory: Path) -> Space:
        meta = read_space_meta(directory)
        space = Space(
            directory,
            db,
            meta.id,
            meta.schema,
            read_only=self.read_only,
            snapshot_wal_bytes=self._snapshot_wal_bytes,
            meta=meta,
        )
        self._spaces[(db, meta.name)] = space
        return space

    def update_space(self, db: str, name: str, changes: dict[str, Any]) -> Space:
        """Change a space as Vearch's space PUT does and return it; the change is atomic.

        ``changes`` contains one or more of: a larger ``partition_num``;
        ``{"operator_type": "ADD" | "DROP", "partition_name", "partition_rule"}``
        to add or drop RANGE partitions (DROP deletes their documents);
        ``fields`` to add scalar fields; ``name`` to rename and ``enabled``.
        Index changes raise PARAM_ERROR. A rename returns a new Space object
        and closes the old one.
        """
        with self._mutex:
            self._check_writable()
            space = self.get_space(db, name)
            renamed = update_space(space, changes, self._next_id, commit_ids=self._save_ids)
            if renamed is None:
                return space
            self._spaces.pop((db, name), None)
            return self._open_space(db, renamed)

    def list_spaces(self, db: str) -> list[str]:
        """Return the space names of database ``db``, sorted."""
        self._check_open()
        spaces_dir = self._existing_db_dir(db) / "spaces"
        return sorted(path.name for path in spaces_dir.iterdir() if (path / SPACE_FILE).is_file())

    def drop_space(self, db: str, name: str) -> None:
        """Close and delete a space with all its documents."""
        with self._mutex:
            self._check_writable()
            directory = self._existing_db_dir(db) / "spaces" / validate_name(name, "space")
            if not (directory / SPACE_FILE).is_file():
                raise VectorDBError(
                    ErrorCode.SPACE_NOT_EXIST, f"space {name!r} does not exist in database {db!r}"
                )
            space = self._spaces.pop((db, name), None)
            if space is not None:
                space.close(snapshot=False, dropped=True)
            self._remove(directory)
        logger.info("dropped space %s/%s", db, name)

    # Indexes.

    def add_indexes(self, db: str, space: str, indexes: list[dict[str, Any]]) -> None:
        """Add scalar indexes (SCALAR, INVERTED, BITMAP, COMPOSITE) to an existing space.

        ``indexes`` use the shape of a schema's top-level ``indexes`` list. The
        new schema replaces ``space.json`` atomically. Vector indexes are fixed
        at creation; adding one fails with PARAM_ERROR.
        """
        with self._mutex:
            self._check_writable()
            opened = self.get_space(db, space)
            self._replace_schema(db, opened, schema_with_indexes(opened.schema, indexes))
        logger.info("added %d indexes to %s/%s", len(indexes), db, space)

    def remove_index(self, db: str, space: str, index_name: str) -> None:
        """Remove the scalar index ``index_name`` from a space; vector indexes cannot be removed."""
        with self._mutex:
            self._check_writable()
            opened = self.get_space(db, space)
            self._replace_schema(db, opened, schema_without_index(opened.schema, index_name))
        logger.info("removed index %s from %s/%s", index_name, db, space)

    def _replace_schema(self, db: str, space: Space, schema: SpaceSchema) -> None:
        path = space.directory / SPACE_FILE
        info = _read_json(path)
        info["schema"] = schema.to_dict()
        write_json_atomic(path, info)
        space._replace_schema(schema)

    # Helpers.

    def _next_id(self, key: str) -> int:
        """Take the next id of counter ``key``; ``_save_ids`` must persist it before use.

        Ids are handed out in memory so that a space with many partitions
        costs one write of engine.json, not one per partition.
        """
        # Folders written before partitions existed have no "next_partition_id".
        value = int(self._meta.get(key, 1))
        self._meta[key] = value + 1
        self._ids_dirty = True
        return value

    def _save_ids(self) -> None:
        """Write the id counters, so that a crash after this never hands out an id twice."""
        if self._ids_dirty:
            write_json_atomic(self.path / ENGINE_FILE, self._meta)
            self._ids_dirty = False

    @staticmethod
    def _pending_dir(parent: Path) -> Path:
        return parent / f".pending-{uuid.uuid4().hex}"

    def _remove(self, directory: Path) -> None:
        """Delete a folder so that a crash leaves it whole or gone: rename, then remove."""
        pending = self._pending_dir(directory.parent)
        os.rename(directory, pending)
        fsync_directory(directory.parent)
        shutil.rmtree(pending)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"vector database {self.path} is closed; open a new Engine")

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise StorageError(
                f"vector database {self.path} is open read-only; open it with read_only=False "
                "to change it"
            )

    def close(self) -> None:
        """Snapshot and close every open space, then release the write lock."""
        with self._mutex:
            if self._closed:
                return
            failures = []
            try:
                for space in self._spaces.values():
                    try:
                        space.close()
                    except (StorageError, OSError) as error:
                        logger.error(
                            "closing space %s/%s failed: %s", space.db_name, space.name, error
                        )
                        failures.append(error)
            finally:
                self._spaces.clear()
                if self._lock is not None:
                    self._lock.release()
                self._closed = True
        logger.info("closed vector database %s", self.path)
        if failures:
            raise failures[0]

    # Aliases.

    def create_alias(self, alias: str, db: str, space: str) -> dict[str, str]:
        """Add a global alias for space ``db/space``, which must exist; return the alias."""
        self._check_writable()
        self.get_space(db, space)
        return self._aliases.create(alias, db, space)

    def update_alias(self, alias: str, db: str, space: str) -> dict[str, str]:
        """Point an existing alias at space ``db/space``, which must exist."""
        self._check_writable()
        self.get_space(db, space)
        return self._aliases.update(alias, db, space)

    def get_alias(self, alias: str) -> dict[str, str]:
        """Return ``{"name", "db_name", "space_name"}``; ALIAS_NOT_EXIST (240) if unknown."""
        return self._aliases.get(alias)

    def list_aliases(self) -> list[dict[str, str]]:
        return self._aliases.list()

    def drop_alias(self, alias: str) -> None:
        self._check_writable()
        self._aliases.drop(alias)

    def resolve_space(self, db: str, name: str) -> Space:
        """Return space ``name`` of ``db``, or the space that alias ``name`` points at.

        An alias counts only when it points into ``db``. An alias whose space
        was dropped gives SPACE_NOT_EXIST.
        """
        try:
            return self.get_space(db, name)
        except VectorDBError as error:
            if error.code != ErrorCode.SPACE_NOT_EXIST:
                raise
            alias = self._aliases.find(name)
            if alias is None or alias["db_name"] != db:
                raise
        return self.get_space(alias["db_name"], alias["space_name"])

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
