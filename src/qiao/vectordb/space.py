"""A space: a table of typed documents with vector indexes, and its document API."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qiao.errors import StorageError
from qiao.vectordb.documents import DocumentPatch, validate_documents
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.filters import parse_filter
from qiao.vectordb.ids import new_document_id
from qiao.vectordb.index_admin import IndexAdmin
from qiao.vectordb.indexer import index_progress, start_indexer
from qiao.vectordb.mutations import apply_delete, apply_upsert
from qiao.vectordb.persistence import SpacePersistence
from qiao.vectordb.records import encode_delete, encode_upsert
from qiao.vectordb.render import DocumentRenderer, select_fields
from qiao.vectordb.requests import (
    id_list,
    parse_delete_target,
    parse_query_target,
    positive_limit,
)
from qiao.vectordb.schema import SpaceSchema
from qiao.vectordb.search import (
    check_index_params,
    merge_fields,
    parse_vector_queries,
    parse_weights,
    search_field,
    use_brute_force,
)

__all__ = ["DEFAULT_SNAPSHOT_WAL_BYTES", "Space"]

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
# A snapshot is taken when the write-ahead log grows past this size.
DEFAULT_SNAPSHOT_WAL_BYTES = 64 * 1024 * 1024


class Space:
    """Documents of one space; every method is thread-safe.

    Get one from :meth:`qiao.vectordb.Engine.create_space` or
    :meth:`~qiao.vectordb.Engine.get_space` rather than constructing it.
    """

    def __init__(
        self,
        directory: Path,
        db_name: str,
        space_id: int,
        schema: SpaceSchema,
        *,
        read_only: bool = False,
        snapshot_wal_bytes: int = DEFAULT_SNAPSHOT_WAL_BYTES,
    ) -> None:
        self.directory = directory
        self.db_name = db_name
        self.id = space_id
        self.schema = schema
        self.read_only = read_only
        self._snapshot_wal_bytes = snapshot_wal_bytes
        self._next_snapshot_bytes = snapshot_wal_bytes
        self._lock = threading.RLock()
        self._closed = False
        self._persistence = SpacePersistence(directory, schema, read_only=read_only)
        self._store, self._indexes = self._persistence.load()
        self._indexer = None if read_only else start_indexer(self)

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def doc_num(self) -> int:
        """Number of documents in the space."""
        with self._lock:
            return self._store.live_count

    # Writes.

    def upsert(self, documents: list[dict[str, Any]]) -> list[str]:
        """Insert or update documents and return their ids, in order; durable on return.

        A document without ``_id`` gets a generated one and must set every
        vector field. A document whose ``_id`` exists is updated: the fields
        it sets replace the stored ones and the others, vectors included, stay.
        """
        patches = validate_documents(self.schema, documents)
        with self._lock:
            self._check_writable()
            self._assign_ids(patches)
            self._persistence.log(encode_upsert(self.schema, patches))
            apply_upsert(self._store, self._indexes, patches)
            self._after_write()
        if self._indexer is not None:
            self._indexer.wake()
        logger.info("upserted %d documents into %s/%s", len(patches), self.db_name, self.name)
        return [patch.doc_id for patch in patches]  # type: ignore[misc]

    def _assign_ids(self, patches: list[DocumentPatch]) -> None:
        """Give id-less patches new ids; reject new documents that lack a vector field."""
        batch_ids: set[str] = set()
        vector_names = [spec.name for spec in self.schema.vector_fields]
        for position, patch in enumerate(patches):
            if patch.doc_id is None:
                patch.doc_id = new_document_id()
                while patch.doc_id in batch_ids or self._store.row_of(patch.doc_id) is not None:
                    patch.doc_id = new_document_id()
                known = False
            else:
                known = patch.doc_id in batch_ids or self._store.row_of(patch.doc_id) is not None
            batch_ids.add(patch.doc_id)
            missing = [name for name in vector_names if name not in patch.vectors]
            if missing and not known:
                raise VectorDBError(
                    ErrorCode.UPSERT_INVALID_PARAMS,
                    f"document {position} ({patch.doc_id!r}) is new, so it needs every vector "
                    f"field; missing {missing}",
                )

    def delete(
        self,
        document_ids: list[str] | None = None,
        filters: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        """Delete documents by id or by filter and return the ids deleted; durable on return.

        Exactly one of ``document_ids`` (fewer than 500) and ``filters`` is
        required; ``limit`` caps how many documents a filter deletes.
        """
        ids, parsed = parse_delete_target(self.schema, document_ids, filters)
        if limit is not None:
            positive_limit(limit)
        with self._lock:
            self._check_writable()
            if ids is not None:
                targets = [i for i in dict.fromkeys(ids) if self._store.row_of(i) is not None]
            else:
                rows = np.flatnonzero(parsed.evaluate(self._store))[:limit]
                targets = [self._store.ids[row] for row in rows.tolist()]
            if targets:
                self._persistence.log(encode_delete(targets))
                apply_delete(self._store, targets)
                self._after_write()
        if targets and self._indexer is not None:
            self._indexer.wake()
        logger.info("deleted %d documents from %s/%s", len(targets), self.db_name, self.name)
        return targets

    def _after_write(self) -> None:
        """Take a snapshot once the log is large; a failure is logged, not raised.

        The write that triggered the snapshot is already durable in the log.
        After a failure the next attempt waits for the log to grow by another
        ``snapshot_wal_bytes``.
        """
        if self._persistence.wal_bytes < self._next_snapshot_bytes:
            return
        try:
            self._snapshot()
        except (StorageError, OSError) as error:
            self._next_snapshot_bytes = self._persistence.wal_bytes + self._snapshot_wal_bytes
            logger.error(
                "snapshot of %s/%s failed, the write-ahead log keeps every write: %s",
                self.db_name,
                self.name,
                error,
            )

    def _snapshot(self, *, compact: bool = False) -> None:
        self._store, self._indexes = self._persistence.snapshot(
            self._store, self._indexes, compact=compact
        )
        self._next_snapshot_bytes = self._snapshot_wal_bytes

    def flush(self) -> None:
        """Write a snapshot now, so that the next open replays no log."""
        with self._lock:
            self._check_writable()
            if self._persistence.needs_snapshot(self._store):
                self._snapshot()

    # Reads.

    def get(
        self,
        ids: Sequence[str],
        fields: Sequence[str] | None = None,
        vector_value: bool = False,
    ) -> list[dict[str, Any]]:
        """Return the documents with ``ids`` in the given order; missing ids are left out."""
        ids = id_list(ids, "ids")
        with self._lock:
            self._check_open()
            scalars, vectors = select_fields(self.schema, fields, vector_value)
            rows = [self._store.row_of(doc_id) for doc_id in ids]
            found = [row for row in rows if row is not None]
            return self._renderer().render(found, scalars, vectors)

    def query(
        self,
        document_ids: Sequence[str] | None = None,
        filters: dict[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        vector_value: bool = False,
    ) -> list[dict[str, Any]]:
        """Return documents by id (fewer than 500) or the first ``limit`` that match ``filters``.

        Documents matched by a filter come in insertion order; a duplicated id
        returns its document twice, as in Vearch.
        """
        ids, parsed = parse_query_target(self.schema, document_ids, filters)
        if ids is not None:
            return self.get(ids, fields, vector_value)
        positive_limit(limit)
        with self._lock:
            self._check_open()
            scalars, vectors = select_fields(self.schema, fields, vector_value)
            rows = np.flatnonzero(parsed.evaluate(self._store))[:limit]  # type: ignore[union-attr]
            return self._renderer().render(rows.tolist(), scalars, vectors)

    def search(
        self,
        vectors: list[dict[str, Any]],
        filters: dict[str, Any] | None = None,
        limit: int = DEFAULT_LIMIT,
        fields: Sequence[str] | None = None,
        index_params: dict[str, Any] | None = None,
        l2_sqrt: bool = False,
        vector_value: bool = False,
        *,
        is_brute_search: int = 0,
        ranker: dict[str, Any] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Return the top ``limit`` documents per query vector, each with ``_id`` and ``_score``.

        ``vectors`` is ``[{"field", "feature"}]`` where ``feature`` contains nq
        query vectors, flattened. With ``filters`` the hits are the best
        ``limit`` among the matching documents. ``index_params`` may set
        ``metric_type`` (another metric than the index's is searched exactly),
        ``nprobe``, ``recall_num`` and ``efSearch``.

        ``is_brute_search`` follows Vearch: 1 always compares the query with
        every vector, 2 does so while an index is not trained, and 0 uses the
        indexes. With 0, a search fails with SEARCH_ENGINE_ERR (461) while an
        index is not trained and the space has more than 100 documents,
        unless the space sets ``enable_realtime``.
        """
        queries = parse_vector_queries(self.schema, vectors)
        positive_limit(limit)
        index_params = check_index_params(index_params)
        weights = parse_weights(ranker, len(queries))
        parsed = parse_filter(filters, self.schema)
        with self._lock:
            self._check_open()
            brute_force = use_brute_force(
                is_brute_search,
                index_progress(self._indexes)[0],
                self._store.row_count,
                bool(self.schema.options.get("enable_realtime")),
                self.name,
            )
            scalars, vector_fields = select_fields(self.schema, fields, vector_value)
            allowed = self._allowed_rows(parsed)
            per_field = [
                search_field(
                    self._indexes[query.field.name],
                    query,
                    limit,
                    allowed,
                    index_params,
                    brute_force=brute_force,
                    l2_sqrt=l2_sqrt,
                )
                for query in queries
            ]
            if len(per_field) == 1:
                hits = list(zip(per_field[0].result.rows, per_field[0].result.scores, strict=True))
            else:
                hits = merge_fields(per_field, weights, limit)
            renderer = self._renderer()
            return [
                renderer.render(rows.tolist(), scalars, vector_fields, scores.tolist())
                for rows, scores in hits
            ]

    def _allowed_rows(self, parsed: Any) -> np.ndarray | None:
        if parsed is not None:
            return parsed.evaluate(self._store)
        if self._store.dead_count:
            return self._store.live_mask()
        return None

    def _renderer(self) -> DocumentRenderer:
        return DocumentRenderer(self._store, self._indexes)

    # Indexes.

    def index_progress(self) -> tuple[int, int]:
        """Return ``(index_status, n)`` over the vector indexes of the space.

        ``index_status`` is 0, 1 or 2 (unindexed, indexing, indexed) and every
        vector index contains the leading rows ``[0, n)``.
        """
        with self._lock:
            return index_progress(self._indexes)

    def indexes_info(self, detail: bool = False) -> dict[str, Any]:
        """Return ``{db_name, space_name, indexes, build_state}`` for GET .../indexes."""
        return IndexAdmin(self).info(detail)

    def rebuild_index(
        self,
        drop_before_rebuild: bool = False,
        limit_cpu: int = 0,
        describe: int = 0,
        partition_id: int | None = None,
    ) -> None:
        """Rebuild the vector indexes from the stored vectors; IVF indexes train in the background.

        See :meth:`qiao.vectordb.index_admin.IndexAdmin.rebuild`.
        """
        IndexAdmin(self).rebuild(drop_before_rebuild, limit_cpu, describe, partition_id)

    def forcemerge(self, partition_id: int | None = None) -> None:
        """Compact deleted rows out of the segments and the indexes now.

        See :meth:`qiao.vectordb.index_admin.IndexAdmin.forcemerge`.
        """
        IndexAdmin(self).forcemerge(partition_id)

    def describe(self) -> dict[str, Any]:
        """Return the space in the shape of Vearch's space GET response (SpaceInfo)."""
        with self._lock:
            schema = self.schema.to_dict()
            doc_num = self._store.live_count
            index_status, index_num = index_progress(self._indexes)
            return {
                "space_name": self.name,
                "db_name": self.db_name,
                "doc_num": doc_num,
                "partition_num": self.schema.partition_num,
                "replica_num": self.schema.replica_num,
                "schema": {"fields": schema["fields"], "indexes": schema.get("indexes", [])},
                "status": "green",
                "partitions": [
                    {
                        "pid": self.id,
                        "doc_num": doc_num,
                        "index_status": index_status,
                        "index_num": index_num,
                        "max_docid": self._store.row_count - 1,
                    }
                ],
            }

    def _replace_schema(self, schema: SpaceSchema) -> None:
        """Use ``schema``, which differs from the current one in its scalar indexes only."""
        with self._lock:
            self.schema = schema
            self._persistence.schema = schema
            self._store.schema = schema

    # Lifecycle.

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(
                f"space {self.db_name}/{self.name} is closed; get it from an open engine"
            )

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise StorageError(
                f"space {self.db_name}/{self.name} is open read-only; open the engine with "
                "read_only=False to write"
            )

    def close(self, *, snapshot: bool = True) -> None:
        """Close the space; unless ``snapshot`` is False, first snapshot any logged writes."""
        if self._indexer is not None:
            self._indexer.stop()
        with self._lock:
            if self._closed:
                return
            try:
                if (
                    snapshot
                    and not self.read_only
                    and self._persistence.needs_snapshot(self._store)
                ):
                    self._snapshot()
            finally:
                self._persistence.close()
                self._closed = True
        logger.info("closed space %s/%s", self.db_name, self.name)

    def __repr__(self) -> str:
        return f"Space({self.db_name!r}/{self.name!r}, doc_num={self._store.live_count})"
