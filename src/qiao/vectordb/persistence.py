"""The files of one space: loading its state, logging writes and taking snapshots.

Opening a space loads the snapshot the manifest names, then replays every
write-ahead log from ``manifest.wal_seq`` on. A snapshot writes the rows
added since the last one, starts a new log file, replaces the manifest
atomically and only then deletes the old log and unreferenced files. A
crash at any step leaves either the old or the new manifest, and each
names a snapshot whose later writes are all in the logs it replays.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from qiao.errors import StorageError
from qiao.fileio import fsync_directory
from qiao.vectordb.index import VectorIndex
from qiao.vectordb.mutations import apply_delete, apply_upsert
from qiao.vectordb.records import decode_record
from qiao.vectordb.schema import SpaceSchema
from qiao.vectordb.segments import (
    Manifest,
    collect_garbage,
    load_snapshot,
    read_manifest,
    write_manifest,
    write_snapshot,
)
from qiao.vectordb.segments.snapshot import wal_path, wal_sequences
from qiao.vectordb.store import DocumentStore
from qiao.vectordb.wal import WriteAheadLog, read_wal

__all__ = ["SpacePersistence"]

logger = logging.getLogger(__name__)

# A snapshot compacts the rows when at least this share of them is deleted.
COMPACT_DEAD_SHARE = 0.3
_READ_ONLY_ATTEMPTS = 5


class SpacePersistence:
    """Snapshot and write-ahead log of one space folder; ``log`` is durable when it returns."""

    def __init__(self, directory: Path, schema: SpaceSchema, *, read_only: bool) -> None:
        self.directory = directory
        self.schema = schema
        self.read_only = read_only
        self.manifest: Manifest = Manifest()
        self._wal: WriteAheadLog | None = None
        self._wal_seq = 0

    def load(self) -> tuple[DocumentStore, dict[str, VectorIndex]]:
        """Return the space's store and indexes from its snapshot and logs.

        A read-only load runs beside the writer, which may replace the snapshot
        and delete the files being read. The load is then repeated, up to
        ``_READ_ONLY_ATTEMPTS`` times, whenever the manifest changed meanwhile.
        """
        if not self.read_only:
            return self._load_once()
        for attempt in range(1, _READ_ONLY_ATTEMPTS + 1):
            try:
                result = self._load_once()
            except (StorageError, OSError):
                if attempt == _READ_ONLY_ATTEMPTS or not self._manifest_changed():
                    raise
                continue
            if not self._manifest_changed():
                return result
            logger.info("snapshot of %s changed while reading it; reading again", self.directory)
        raise StorageError(
            f"space {self.directory} changed {_READ_ONLY_ATTEMPTS} times while it was read; "
            "open it read-only again when its writer is less busy"
        )

    def _manifest_changed(self) -> bool:
        return read_manifest(self.directory).generation != self.manifest.generation

    def _load_once(self) -> tuple[DocumentStore, dict[str, VectorIndex]]:
        started = time.perf_counter()
        self.manifest = read_manifest(self.directory)
        store, indexes = load_snapshot(self.directory, self.schema, self.manifest)
        sequences = [seq for seq in wal_sequences(self.directory) if seq >= self.manifest.wal_seq]
        replayed = 0
        for sequence in sequences:
            replayed += self._replay(wal_path(self.directory, sequence), store, indexes)
        self._wal_seq = sequences[-1] if sequences else self.manifest.wal_seq
        if not self.read_only:
            self._wal = WriteAheadLog(wal_path(self.directory, self._wal_seq))
            fsync_directory(self.directory)
            collect_garbage(self.directory, self.manifest)
        logger.info(
            "opened space %s: %d documents, %d log records replayed, %.2f s",
            self.directory,
            store.live_count,
            replayed,
            time.perf_counter() - started,
        )
        return store, indexes

    def _replay(self, path: Path, store: DocumentStore, indexes: dict[str, VectorIndex]) -> int:
        contents = read_wal(path, repair=not self.read_only)
        for position, payload in enumerate(contents.records):
            try:
                kind, items = decode_record(self.schema, payload)
            except (ValueError, KeyError, TypeError) as error:
                raise StorageError(
                    f"record {position} of write-ahead log {path} is unreadable: {error}"
                ) from error
            if kind == "upsert":
                apply_upsert(store, indexes, items)  # type: ignore[arg-type]
            else:
                apply_delete(store, items)  # type: ignore[arg-type]
        return len(contents.records)

    @property
    def wal_bytes(self) -> int:
        """Size of the current log file; 0 right after a snapshot."""
        return self._wal.size if self._wal is not None else 0

    def log(self, payload: bytes) -> None:
        """Append one record to the log and fsync it."""
        if self._wal is None:
            raise StorageError(f"space {self.directory} is not open for writing")
        self._wal.append(payload)

    def snapshot(
        self, store: DocumentStore, indexes: dict[str, VectorIndex], *, compact: bool = False
    ) -> tuple[DocumentStore, dict[str, VectorIndex]]:
        """Write a snapshot and start a new log; return the store and indexes to use next.

        When many rows are deleted, or any are and ``compact`` is set, the rows
        are compacted first, so the returned store and indexes are new objects
        with renumbered rows.
        """
        if self._wal is None:
            raise StorageError(f"space {self.directory} is not open for writing")
        started = time.perf_counter()
        share = 0.0 if compact else COMPACT_DEAD_SHARE
        rewrite_all = store.dead_count > 0 and store.dead_count >= share * store.row_count
        if rewrite_all:
            store, indexes = _compact(store, indexes)
        next_seq = self._wal_seq + 1
        manifest = write_snapshot(
            self.directory, self.manifest, store, indexes, next_seq, rewrite_all=rewrite_all
        )
        new_wal = WriteAheadLog(wal_path(self.directory, next_seq))
        fsync_directory(self.directory)
        write_manifest(self.directory, manifest)
        self._wal.close()
        self._wal, self._wal_seq, self.manifest = new_wal, next_seq, manifest
        try:
            collect_garbage(self.directory, manifest)
        except OSError as error:
            # The snapshot is committed; the next open deletes the leftover files.
            logger.warning("could not delete old files of %s: %s", self.directory, error)
        logger.info(
            "snapshot %d of space %s: %d rows, %d live%s, %.2f s",
            manifest.generation,
            self.directory,
            store.row_count,
            store.live_count,
            ", compacted" if rewrite_all else "",
            time.perf_counter() - started,
        )
        return store, indexes

    def needs_snapshot(self, store: DocumentStore) -> bool:
        """Return True when the log contains writes that no snapshot contains."""
        return self._wal is not None and (
            self._wal.size > 0 or store.row_count != self.manifest.row_count
        )

    def close(self) -> None:
        """Close the log file."""
        if self._wal is not None:
            self._wal.close()
            self._wal = None


def _compact(
    store: DocumentStore, indexes: dict[str, VectorIndex]
) -> tuple[DocumentStore, dict[str, VectorIndex]]:
    compacted, rows = store.compacted()
    new_indexes = {
        spec.name: indexes[spec.name].compacted(rows) for spec in store.schema.vector_fields
    }
    return compacted, new_indexes
