"""A space: a table of typed documents with vector indexes, and its document API."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qiao.errors import StorageError
from qiao.vectordb.columns import create_column
from qiao.vectordb.describe import describe_space, space_entity
from qiao.vectordb.documents import DocumentPatch, validate_documents
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.filters import parse_filter
from qiao.vectordb.ids import new_document_id
from qiao.vectordb.index.base import INDEXED
from qiao.vectordb.index_admin import IndexAdmin
from qiao.vectordb.indexer import index_progress, start_indexer
from qiao.vectordb.mutations import apply_delete, apply_upsert
from qiao.vectordb.paging import parse_paging, parse_sort, sort_hits, sort_rows
from qiao.vectordb.partition_rows import (
    direct_get,
    partition_mask,
    reconcile_partitions,
    route_patches,
)
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
from qiao.vectordb.space_meta import SpaceMeta, read_space_meta, write_space_meta

__all__ = ["DEFAULT_SNAPSHOT_WAL_BYTES", "Space"]

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
# A snapshot is taken when the write-ahead log grows past this size.
DEFAULT_SNAPSHOT_WAL_BYTES = 64 * 1024 * 1024


def _allowed(mask: np.ndarray | None, row: int) -> bool:
    return mask is None or bool(mask[row])


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
        meta: SpaceMeta | None = None,
    ) -> None:
        self.directory = directory
        self.meta = meta if meta is not None else read_space_meta(directory)
        self.db_name = db_name
        self.id = space_id
        self.schema = schema
        self.read_only = read_only
        self._snapshot_wal_bytes = snapshot_wal_bytes
        self._next_snapshot_bytes = snapshot_wal_bytes
        self._lock = threading.RLock()
        self._closed = False
        self._dropped = False
        self._persistence = SpacePersistence(directory, schema, read_only=read_only)
        self._store, self._indexes = self._persistence.load()
        orphans = reconcile_partitions(self._store, self.meta.layout)
        if orphans:
            self._delete_rows_of_dropped_partitions(orphans)
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

    def upsert(
        self, documents: list[dict[str, Any]], partitions: list[int | str] | None = None
    ) -> list[str]:
        """Insert or update documents and return their ids, in order; durable on return.

        A document without ``_id`` gets a generated one and must set every
        vector field. A document whose ``_id`` exists is updated: the fields
        it sets replace the stored ones and the others, vectors included, stay.
        Each document goes to a partition by the hash of its id; with
        ``partitions`` (partition ids) by that hash among them; with a RANGE
        rule by its date, and then ``partitions`` is ignored, as in Vearch.
        """
        patches = validate_documents(self.schema, documents)
        with self._lock:
            self._check_writable()
            self._assign_ids(patches)
            route_patches(self.meta.layout, patches, partitions)
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
        *,
        partition_id: int | str | None = None,
        get_by_hash: bool = False,
        next: bool = False,
        partition_names: Sequence[str] | None = None,
        sort: Any = None,
        page_size: int | None = None,
        page_num: int | None = None,
        offset: int | None = None,
    ) -> list[dict[str, Any]]:
        """Return documents by id (fewer than 500) or the ones that match ``filters``.

        Documents matched by a filter come in insertion order unless ``sort``
        is given; paging (``offset`` or ``page_size``/``page_num``, see
        :mod:`qiao.vectordb.paging`) and ``limit`` apply to them. A duplicated
        id returns its document twice, as in Vearch. ``partition_names``
        restricts the request to those partitions. ``partition_id`` or
        ``get_by_hash`` makes it a direct get: a missing id comes back as
        ``{"_id", "code": 404, "msg"}``, and with ``partition_id`` only that
        partition is read. With ``partition_id`` and ``next``, each id is an
        internal docid and the result is the next live document of that
        partition after it, with ``_docid`` added.
        """
        ids, parsed = parse_query_target(self.schema, document_ids, filters)
        skip, limit = parse_paging(limit, page_size, page_num, offset)
        sort_keys = parse_sort(sort, self.schema, allow_score=False)
        with self._lock:
            self._check_open()
            scalars, vectors = select_fields(self.schema, fields, vector_value)
            restrict = partition_mask(
                self._store, self.meta.layout, partition_id, partition_names, next=next
            )
            if ids is not None and (partition_id is not None or get_by_hash):
                found = direct_get(self._store, ids, restrict, next=next)
                return self._render_direct(found, scalars, vectors, with_docid=next)
            if ids is not None:
                rows = [self._store.row_of(doc_id) for doc_id in ids]
                found_rows = [row for row in rows if row is not None and _allowed(restrict, row)]
                return self._renderer().render(found_rows, scalars, vectors)
            mask = parsed.evaluate(self._store)  # type: ignore[union-attr]
            if restrict is not None:
                mask = mask & restrict
            matched = np.flatnonzero(mask).tolist()
            if sort_keys:
                matched = sort_rows(self._store, matched, sort_keys)
            return self._renderer().render(matched[skip : skip + limit], scalars, vectors)

    def _render_direct(
        self, found: list[tuple[str, int | None]], scalars: Any, vectors: Any, *, with_docid: bool
    ) -> list[dict[str, Any]]:
        """Render a direct get: a document per found row, a 404 entry per missing id."""
        renderer = self._renderer()
        results = []
        for doc_id, row in found:
            if row is None:
                results.append({"_id": doc_id, "code": 404, "msg": "document not found"})
                continue
            (document,) = renderer.render([row], scalars, vectors)
            if with_docid:
                document["_docid"] = row
            results.append(document)
        return results

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
        partition_names: Sequence[str] | None = None,
        sort: Any = None,
        page_size: int | None = None,
        page_num: int | None = None,
        offset: int | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Return the top ``limit`` documents per query vector, each with ``_id`` and ``_score``.

        ``vectors`` is ``[{"field", "feature"}]`` where ``feature`` contains nq
        query vectors, flattened. With ``filters`` the hits are the best
        ``limit`` among the matching documents. ``index_params`` may set
        ``metric_type`` (another metric than the index's is searched exactly),
        ``nprobe``, ``recall_num`` and ``efSearch``. ``partition_names``
        restricts the search to those partitions; ``sort`` and paging work as
        described in :mod:`qiao.vectordb.paging`.

        ``is_brute_search`` follows Vearch: 1 always compares the query with
        every vector, 2 does so while an index is not trained, and 0 uses the
        indexes. With 0, a search fails with SEARCH_ENGINE_ERR (461) while an
        index is not trained and the space has more than 100 documents,
        unless the space sets ``enable_realtime``.
        """
        queries = parse_vector_queries(self.schema, vectors)
        skip, limit = parse_paging(limit, page_size, page_num, offset)
        sort_keys = parse_sort(sort, self.schema, allow_score=True)
        index_params = check_index_params(index_params)
        weights = parse_weights(ranker, len(queries))
        parsed = parse_filter(filters, self.schema)
        with self._lock:
            self._check_open()
            row_count = self._store.row_count
            brute_force = use_brute_force(
                is_brute_search,
                self._index_status(),
                row_count,
                bool(self.schema.options.get("enable_realtime")),
                self.name,
            )
            # No search finds more hits than the space has rows, and faiss allocates k
            # results per query up front, so a huge limit must not reach the index.
            k = min(skip + limit, max(row_count, 1))
            scalars, vector_fields = select_fields(self.schema, fields, vector_value)
            allowed = self._allowed_rows(parsed)
            if partition_names is not None:
                restrict = partition_mask(self._store, self.meta.layout, None, partition_names)
                if restrict is not None:
                    allowed = restrict if allowed is None else allowed & restrict
            per_field = [
                search_field(
                    self._indexes[query.field.name],
                    query,
                    k,
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
                hits = merge_fields(per_field, weights, k)
            renderer = self._renderer()
            results = []
            for rows, scores in hits:
                row_list, score_list = rows.tolist(), scores.tolist()
                if sort_keys:
                    row_list, score_list = sort_hits(self._store, row_list, score_list, sort_keys)
                if skip or len(row_list) > limit:
                    row_list = row_list[skip : skip + limit]
                    score_list = score_list[skip : skip + limit]
                results.append(renderer.render(row_list, scalars, vector_fields, score_list))
            return results

    @contextlib.contextmanager
    def lock_if_free(self) -> Iterator[bool]:
        """Hold the space's lock if no other thread holds it, and yield whether it is held.

        The server runs a quick search on its event loop only while it holds
        the lock this way, so the loop never waits for a write in another thread.
        """
        acquired = self._lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._lock.release()

    def _index_status(self) -> int:
        """Return the lowest index_status over the vector indexes (INDEXED without any)."""
        status = INDEXED
        for index in self._indexes.values():
            index_status = index.index_status
            if index_status < status:
                status = index_status
        return status

    def _allowed_rows(self, parsed: Any) -> np.ndarray | None:
        if parsed is not None:
            return parsed.evaluate(self._store)
        if self._store.dead_count:
            return self._store.live_mask()
        return None

    def _renderer(self) -> DocumentRenderer:
        return DocumentRenderer(self._store, self._indexes)

    def describe(self, detail: bool = False) -> dict[str, Any]:
        """Return the space in the shape of Vearch's space GET response (SpaceInfo).

        ``partitions`` lists every partition with its document count and index
        progress; ``detail`` adds each partition's ``raft_status``.
        """
        with self._lock:
            return describe_space(self.meta, self._store, self.index_progress(), detail)

    def entity(self) -> dict[str, Any]:
        """Return the Vearch Space entity (the create-space response and the cached space)."""
        with self._lock:
            return space_entity(self.meta)

    # Partitions and space updates.

    def _delete_rows_of_dropped_partitions(self, doc_ids: list[str]) -> None:
        """Delete documents whose partition is gone; logged unless the space is read-only."""
        if not self.read_only:
            self._persistence.log(encode_delete(doc_ids))
        apply_delete(self._store, doc_ids)
        logger.info(
            "deleted %d documents of dropped partitions from %s/%s",
            len(doc_ids),
            self.db_name,
            self.name,
        )

    def apply_meta(self, meta: SpaceMeta) -> None:
        """Commit updated metadata to ``space.json`` and switch to it.

        Called by :meth:`qiao.vectordb.Engine.update_space`. The space lock is
        held throughout, so no write is routed by the old partitions after the
        commit. Documents of partitions the new layout lacks are then deleted
        durably, and new scalar fields get columns of default values.
        """
        with self._lock:
            self._check_writable()
            write_space_meta(self.directory, meta)
            for spec in meta.schema.scalar_fields:
                if spec.name not in self._store.columns:
                    self._store.add_column(spec.name, create_column(spec.type))
            self._store.schema = meta.schema
            self._persistence.schema = meta.schema
            self.schema = meta.schema
            self.meta = meta
            orphans = reconcile_partitions(self._store, meta.layout)
            if orphans:
                self._delete_rows_of_dropped_partitions(orphans)
                self._after_write()

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

    def _replace_schema(self, schema: SpaceSchema) -> None:
        """Use ``schema``, which differs from the current one in its scalar indexes only."""
        with self._lock:
            self.schema = schema
            self._persistence.schema = schema
            self._store.schema = schema

    # Lifecycle.

    def _check_open(self) -> None:
        if self._dropped:
            raise VectorDBError(
                ErrorCode.SPACE_NOT_EXIST,
                f"space {self.name!r} does not exist in database {self.db_name!r}; it was dropped",
            )
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

    def close(self, *, snapshot: bool = True, dropped: bool = False) -> None:
        """Close the space; unless ``snapshot`` is False, first snapshot any logged writes.

        With ``dropped``, later calls on this object raise SPACE_NOT_EXIST.
        """
        self._dropped = self._dropped or dropped
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
