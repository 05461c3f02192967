"""Writing and loading a space snapshot: new segments, tombstones and saved indexes.

``write_snapshot`` writes only rows added since the previous snapshot (all
rows after a compaction), a bitmap of deleted rows and each persistent index.
The caller commits the snapshot by writing the manifest.
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import numpy as np

from qiao.errors import StorageError
from qiao.fileio import fsync_directory, write_bytes_durable
from qiao.vectordb.field_indexes import index_spec_for, new_field_index
from qiao.vectordb.index import VectorIndex, load_vector_index
from qiao.vectordb.schema import SpaceSchema
from qiao.vectordb.segments.manifest import FileRef, Manifest, SegmentInfo
from qiao.vectordb.segments.segment import (
    SegmentData,
    read_checked,
    read_segment_scalars,
    read_segment_vectors,
    remove_tree,
    write_segment,
)
from qiao.vectordb.store import DocumentStore

__all__ = ["SEGMENTS_DIR", "collect_garbage", "load_snapshot", "wal_path", "write_snapshot"]

logger = logging.getLogger(__name__)

SEGMENTS_DIR = "segments"
_WAL_NAME = re.compile(r"^wal-(\d{8})\.log$")


def wal_path(space_dir: Path, sequence: int) -> Path:
    """Return the path of write-ahead log number ``sequence``."""
    return space_dir / f"wal-{sequence:08d}.log"


def wal_sequences(space_dir: Path) -> list[int]:
    """Return the numbers of the log files in ``space_dir``, ascending."""
    found = (_WAL_NAME.match(path.name) for path in space_dir.iterdir())
    return sorted(int(match.group(1)) for match in found if match)


def write_snapshot(
    space_dir: Path,
    previous: Manifest,
    store: DocumentStore,
    indexes: dict[str, VectorIndex],
    next_wal_seq: int,
    *,
    rewrite_all: bool,
) -> Manifest:
    """Write the files of a new snapshot durably and return its (not yet written) manifest."""
    schema = store.schema
    folder = space_dir / SEGMENTS_DIR
    folder.mkdir(exist_ok=True)
    generation = previous.generation + 1
    start = 0 if rewrite_all else previous.row_count
    segments = [] if rewrite_all else list(previous.segments)
    stop = store.row_count

    if stop > start:
        name = f"seg-{generation:08d}"
        if (folder / name).exists():
            remove_tree(folder / name)  # left by a failed attempt at this generation
        data = SegmentData(
            store.ids[start:stop],
            {field: column.to_list(start, stop) for field, column in store.columns.items()},
            store.partition_ids()[start:stop].tolist(),
        )
        vectors = {
            position: indexes[spec.name].vectors_view()[start:stop]
            for position, spec in enumerate(schema.vector_fields)
        }
        files = write_segment(folder / name, data, vectors)
        segments.append(SegmentInfo(name, start, stop - start, files))

    tombstones = None
    if store.dead_count:
        bits = np.packbits(~store.live_mask(), bitorder="little")
        tombstones = _write_file(folder / f"tombstones-{generation:08d}.bits", bits)

    saved_indexes = {}
    for position, spec in enumerate(schema.vector_fields):
        index = indexes[spec.name]
        content = index.serialize() if index.persistent else None
        if content is not None:
            path = folder / f"index-{generation:08d}-{position}.faiss"
            saved_indexes[spec.name] = _write_file(path, content)

    fsync_directory(folder)
    return Manifest(generation, next_wal_seq, stop, segments, tombstones, saved_indexes)


def _write_file(path: Path, content: np.ndarray) -> FileRef:
    data = memoryview(np.ascontiguousarray(content))
    write_bytes_durable(path, data)  # type: ignore[arg-type]
    return FileRef(path.name, zlib.crc32(data))


def load_snapshot(
    space_dir: Path, schema: SpaceSchema, manifest: Manifest
) -> tuple[DocumentStore, dict[str, VectorIndex]]:
    """Rebuild the store and the vector indexes of the snapshot ``manifest`` names."""
    folder = space_dir / SEGMENTS_DIR
    store = DocumentStore(schema)
    indexes = {spec.name: new_field_index(schema, spec) for spec in schema.vector_fields}
    loaded = _load_saved_indexes(folder, schema, manifest, indexes)
    for segment in manifest.segments:
        directory = folder / segment.name
        data = read_segment_scalars(directory, segment.files)
        if segment.row_start != store.row_count or len(data.ids) != segment.row_count:
            raise StorageError(
                f"snapshot segment {directory} contains rows {segment.row_start}+"
                f"{len(data.ids)}, but the previous segments end at row {store.row_count}"
            )
        store.append_columns(data.ids, data.columns, data.partitions)
        for position, spec in enumerate(schema.vector_fields):
            if spec.name not in loaded:
                block = read_segment_vectors(
                    directory, segment.files, position, segment.row_count, spec.dimension
                )
                indexes[spec.name].add(block)
    if manifest.tombstones is not None:
        content = read_checked(folder / manifest.tombstones.file, manifest.tombstones.crc)
        bits = np.frombuffer(content, dtype=np.uint8)
        dead = np.unpackbits(bits, bitorder="little")[: store.row_count].astype(np.bool_)
        for row in np.flatnonzero(dead):
            store.kill(int(row))
    _restore_trained_indexes(folder, schema, manifest, indexes)
    return store, indexes


def _load_saved_indexes(
    folder: Path, schema: SpaceSchema, manifest: Manifest, indexes: dict[str, VectorIndex]
) -> set[str]:
    """Load the saved indexes that match the snapshot; others are rebuilt from the vectors."""
    loaded = set()
    for name, ref in manifest.indexes.items():
        spec = schema.get_field(name)
        if spec is None or not indexes[name].saves_vectors:
            continue
        index_spec = index_spec_for(schema, spec)
        try:
            content = read_checked(folder / ref.file, ref.crc)
            index = load_vector_index(
                index_spec.type,
                index_spec.params,
                spec.dimension,
                np.frombuffer(content, dtype=np.uint8),
            )
        except (StorageError, ValueError) as error:
            logger.warning("rebuilding the index of field %r from its vectors: %s", name, error)
            continue
        if index.ntotal != manifest.row_count:
            logger.warning(
                "rebuilding the index of field %r: the saved one has %d rows, the snapshot %d",
                name,
                index.ntotal,
                manifest.row_count,
            )
            continue
        indexes[name] = index
        loaded.add(name)
    return loaded


def _restore_trained_indexes(
    folder: Path, schema: SpaceSchema, manifest: Manifest, indexes: dict[str, VectorIndex]
) -> None:
    """Attach saved trained indexes (IVF) to the vectors read from the segments.

    An index that cannot be restored is trained again by the background indexer.
    """
    for name, ref in manifest.indexes.items():
        index = indexes.get(name)
        if index is None or index.saves_vectors:
            continue
        try:
            content = read_checked(folder / ref.file, ref.crc)
            index.restore(np.frombuffer(content, dtype=np.uint8))
        except (StorageError, ValueError) as error:
            logger.warning("training the index of field %r again: %s", name, error)
            continue
        logger.info(
            "loaded the trained %s index of field %r from %s: %d of %d rows indexed",
            index.type_name,
            name,
            ref.file,
            index.indexed_count,
            index.ntotal,
        )


def collect_garbage(space_dir: Path, manifest: Manifest) -> None:
    """Delete log files before the manifest's and segment files it does not name."""
    for sequence in wal_sequences(space_dir):
        if sequence < manifest.wal_seq:
            wal_path(space_dir, sequence).unlink()
    folder = space_dir / SEGMENTS_DIR
    if folder.is_dir():
        keep = manifest.referenced_files()
        for path in folder.iterdir():
            if path.name in keep:
                continue
            logger.debug("removing unreferenced snapshot file %s", path)
            if path.is_dir():
                remove_tree(path)
            else:
                path.unlink()
        fsync_directory(folder)
    fsync_directory(space_dir)
