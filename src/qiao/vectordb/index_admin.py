"""Index maintenance of a space: index info, rebuild, force-merge, adding and removing indexes.

``rebuild_index`` trains the trained indexes (IVFFLAT, IVFPQ) again on the
current vectors, in the background. Without ``drop_before_rebuild`` the old
index keeps serving searches until the new one is swapped in. With it, the
old index is dropped at once, so the space is UNINDEXED until the new one
is trained, and searches follow the brute-force rules meanwhile. FLAT and
HNSW indexes are rebuilt from the stored vectors at once, under the lock.

``forcemerge`` compacts now: deleted rows leave the segments and the
indexes, rows are renumbered, and a snapshot is written. Trained indexes
keep their training; the indexer adds the remaining rows again.

Scalar indexes can be added and removed on an existing space; the schema
in ``space.json`` is replaced atomically. Vector indexes are fixed when the
space is created, as Vearch rejects index changes through space updates:
adding or removing one fails with PARAM_ERROR.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.field_indexes import index_spec_for
from qiao.vectordb.index.base import INDEXED, INDEXING, UNINDEXED
from qiao.vectordb.index.factory import VECTOR_INDEX_TYPES
from qiao.vectordb.index.trained import TrainedIndex
from qiao.vectordb.indexer import index_progress
from qiao.vectordb.schema import SpaceSchema

if TYPE_CHECKING:
    from qiao.vectordb.space import Space

__all__ = ["IndexAdmin", "schema_with_indexes", "schema_without_index"]

logger = logging.getLogger(__name__)

_STATE_NAMES = {UNINDEXED: "unindexed", INDEXING: "indexing", INDEXED: "indexed"}


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


def _flag(value: object, name: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int) or value < 0:
        raise _param_error(f"{name} must be a non-negative integer or a boolean, got {value!r}")
    return value


class IndexAdmin:
    """Index maintenance operations on one open space."""

    def __init__(self, space: Space) -> None:
        self.space = space

    def info(self, detail: bool) -> dict[str, Any]:
        """Return ``{db_name, space_name, indexes, build_state}``.

        ``indexes`` lists every declared index as in the schema; with
        ``detail`` each vector index adds ``index_status``, ``indexed_num``
        and ``total``. ``build_state`` is ``{index_status, state, index_num,
        max_docid}`` of the space as a whole.
        """
        space = self.space
        with space._lock:
            space._check_open()
            schema = space.schema
            indexes = []
            for spec in schema.fields:
                if spec.index is not None:
                    indexes.append(spec.index.to_dict(top_level=True))
            indexes += [index.to_dict(top_level=True) for index in schema.indexes]
            if detail:
                for entry in indexes:
                    field = schema.get_field(entry.get("field_name", ""))
                    index = space._indexes.get(field.name) if field is not None else None
                    if index is not None:
                        entry["index_status"] = index.index_status
                        entry["indexed_num"] = index.indexed_count
                        entry["total"] = index.ntotal
            status, rows = index_progress(space._indexes)
            return {
                "db_name": space.db_name,
                "space_name": space.name,
                "indexes": indexes,
                "build_state": {
                    "index_status": status,
                    "state": _STATE_NAMES[status],
                    "index_num": rows,
                    "max_docid": space._store.row_count - 1,
                },
            }

    def _check_partition(self, partition_id: object) -> None:
        """Accept None or 0 (every partition, as in Vearch) or an id of this space."""
        if partition_id is None:
            return
        if isinstance(partition_id, bool) or not isinstance(partition_id, int):
            raise _param_error(f"partition_id must be an integer, got {partition_id!r}")
        partition_ids = self.space.meta.layout.ids
        if partition_id != 0 and partition_id not in partition_ids:
            raise _param_error(
                f"partition {partition_id} does not belong to space {self.space.name!r}; "
                f"its partitions are {partition_ids}, and 0 means all of them"
            )

    def rebuild(
        self, drop_before_rebuild: object, limit_cpu: object, describe: object, partition_id: object
    ) -> None:
        """Train the vector indexes again; see the module docstring.

        ``limit_cpu`` caps the OpenMP threads of the training (0: no cap);
        ``describe`` 1 only logs the index state and rebuilds nothing.
        """
        drop = bool(_flag(drop_before_rebuild, "drop_before_rebuild"))
        threads = _flag(limit_cpu, "limit_cpu")
        only_describe = bool(_flag(describe, "describe"))
        self._check_partition(partition_id)
        space = self.space
        if only_describe:
            logger.info("indexes of %s/%s: %s", space.db_name, space.name, self.info(True))
            return
        with space._lock:
            space._check_writable()
            rows = np.arange(space._store.row_count, dtype=np.int64)
            live_count = space._store.live_count
            for name, index in list(space._indexes.items()):
                if not isinstance(index, TrainedIndex):
                    # NOTE: an HNSW graph is rebuilt while the space lock is held, so
                    # writes and searches wait for it on a large space.
                    space._indexes[name] = index.compacted(rows)
                elif drop or live_count < index.training_threshold:
                    fresh = type(index)(index.dimension, index.metric, index.params)
                    fresh.add(np.ascontiguousarray(index.vectors_view()))
                    space._indexes[name] = fresh
                else:
                    index.rebuild_requested = True
            if space._indexer is not None:
                space._indexer.limit_cpu = threads
                space._indexer.wake()
        logger.info(
            "rebuilding the indexes of %s/%s%s",
            space.db_name,
            space.name,
            ", old index dropped" if drop else "",
        )

    def forcemerge(self, partition_id: object) -> None:
        """Compact deleted rows out of the segments and indexes and write a snapshot."""
        self._check_partition(partition_id)
        space = self.space
        with space._lock:
            space._check_writable()
            dead = space._store.dead_count
            try:
                space._snapshot(compact=True)
            except OSError as error:
                raise VectorDBError(
                    ErrorCode.FORCE_MERGE_BUILD_INDEX_ERR,
                    f"force merge of {space.db_name}/{space.name} failed: {error}",
                ) from error
            if space._indexer is not None:
                space._indexer.wake()
        logger.info("force-merged %s/%s: %d deleted rows removed", space.db_name, space.name, dead)


def schema_with_indexes(schema: SpaceSchema, indexes: object) -> SpaceSchema:
    """Return ``schema`` with the scalar ``indexes`` (top-level shape) added."""
    if not isinstance(indexes, list) or not indexes:
        raise _param_error(f"indexes must be a non-empty list of index objects, got {indexes!r}")
    existing = _index_names(schema)
    raw = schema.to_dict()
    for entry in indexes:
        if not isinstance(entry, dict):
            raise _param_error(f"each index must be a JSON object, got {entry!r}")
        index_type = str(entry.get("type", "")).upper()
        if index_type in VECTOR_INDEX_TYPES:
            raise _param_error(
                f"index {entry.get('name')!r}: vector indexes are fixed when a space is "
                "created; create a new space to change one, or call rebuild_index"
            )
        name = (
            entry.get("name") or entry.get("field_name") or "_".join(entry.get("field_names") or [])
        )
        if name in existing:
            raise _param_error(f"index {name!r} already exists in space {schema.name!r}")
        existing.add(name)
        raw.setdefault("indexes", []).append(dict(entry))
    return SpaceSchema.from_dict(raw)


def schema_without_index(schema: SpaceSchema, index_name: str) -> SpaceSchema:
    """Return ``schema`` without the scalar index called ``index_name``."""
    raw = schema.to_dict()
    for field in raw["fields"]:
        index = field.get("index")
        if index is not None and index.get("name") == index_name:
            if index.get("type") in VECTOR_INDEX_TYPES:
                raise _param_error(
                    f"index {index_name!r} is the vector index of field {field['name']!r}; "
                    "vector indexes cannot be removed, drop the space instead"
                )
            del field["index"]
            return SpaceSchema.from_dict(raw)
    remaining = [entry for entry in raw.get("indexes", []) if entry.get("name") != index_name]
    if len(remaining) == len(raw.get("indexes", [])):
        raise _param_error(
            f"index {index_name!r} does not exist in space {schema.name!r}; "
            f"its indexes are {sorted(_index_names(schema))}"
        )
    removed = next(entry for entry in raw["indexes"] if entry.get("name") == index_name)
    if removed.get("type") in VECTOR_INDEX_TYPES:
        raise _param_error(
            f"index {index_name!r} is a vector index; vector indexes cannot be removed, "
            "drop the space instead"
        )
    raw["indexes"] = remaining
    if not remaining:
        del raw["indexes"]
    return SpaceSchema.from_dict(raw)


def _index_names(schema: SpaceSchema) -> set[str]:
    names = {spec.index.name for spec in schema.fields if spec.index is not None}
    names.update(index.name for index in schema.indexes)
    for spec in schema.vector_fields:
        names.add(index_spec_for(schema, spec).name)
    return names
