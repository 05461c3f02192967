"""Document store of a space: ids, live-row mask and scalar columns, row by row.

Rows are append-only. Updating a document appends a new row and marks the
old one deleted, so a row's values never change once written. Snapshots
rely on this and write each row once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qiao.vectordb.columns import BoolMask, Column, GrowableArray, create_column
from qiao.vectordb.schema import SpaceSchema

__all__ = ["NO_PARTITION", "DocumentStore"]

# Partition id of rows written before partitions were stored; a space reads
# them as rows of its first partition.
NO_PARTITION = -1


class DocumentStore:
    """Ids, liveness and scalar values of every row of one space."""

    def __init__(self, schema: SpaceSchema) -> None:
        self.schema = schema
        self.ids: list[str] = []
        self.id_to_row: dict[str, int] = {}
        self._live = BoolMask()
        self._partitions = GrowableArray(np.int64)
        self._dead_count = 0
        self.columns: dict[str, Column] = {
            spec.name: create_column(spec.type) for spec in schema.scalar_fields
        }

    @property
    def row_count(self) -> int:
        """Number of rows, deleted ones included."""
        return len(self.ids)

    @property
    def live_count(self) -> int:
        """Number of documents (live rows)."""
        return len(self.ids) - self._dead_count

    @property
    def dead_count(self) -> int:
        return self._dead_count

    def live_mask(self) -> np.ndarray:
        """Return a boolean view, True for live rows; it is invalidated by the next append."""
        return self._live.view()

    def partition_ids(self) -> np.ndarray:
        """Return a view of each row's partition id; it is invalidated by the next append."""
        return self._partitions.view()

    def row_of(self, doc_id: str) -> int | None:
        """Return the live row of ``doc_id``, or None when there is no such document."""
        return self.id_to_row.get(doc_id)

    def append_rows(
        self,
        ids: Sequence[str],
        rows: Sequence[dict[str, Any]],
        partitions: Sequence[int] | None = None,
    ) -> int:
        """Append one live row per id from per-row scalar values; return the first new row.

        A field missing from a row gets its type's default (0, false, "" or []).
        A document that already has a row must be deleted first with ``kill``.
        """
        columns = {
            name: [row.get(name, column.default) for row in rows]
            for name, column in self.columns.items()
        }
        return self.append_columns(ids, columns, partitions)

    def append_columns(
        self,
        ids: Sequence[str],
        columns: dict[str, Sequence[Any]],
        partitions: Sequence[int] | None = None,
    ) -> int:
        """Append one live row per id from whole columns; return the first new row.

        ``partitions`` contains each row's partition id; without it the rows get
        NO_PARTITION.
        """
        first = len(self.ids)
        for name, column in self.columns.items():
            values = columns.get(name)
            column.extend(values if values is not None else [column.default] * len(ids))
        for offset, doc_id in enumerate(ids):
            self.id_to_row[doc_id] = first + offset
        self.ids.extend(ids)
        self._live.extend(np.ones(len(ids), dtype=np.bool_))
        if partitions is None:
            partitions = [NO_PARTITION] * len(ids)
        self._partitions.extend(np.asarray(partitions, dtype=np.int64))
        return first

    def add_column(self, name: str, column: Column) -> None:
        """Add an empty scalar column for a new field; every existing row gets its default."""
        column.extend([column.default] * len(self.ids))
        self.columns[name] = column

    def kill(self, row: int) -> None:
        """Mark ``row`` deleted and forget its id if the id still points to it."""
        if not self._live.view()[row]:
            return
        self._live.set(row, False)
        self._dead_count += 1
        doc_id = self.ids[row]
        if self.id_to_row.get(doc_id) == row:
            del self.id_to_row[doc_id]

    def compacted(self) -> tuple[DocumentStore, np.ndarray]:
        """Return a store of the live rows only, renumbered from 0, and their old row numbers."""
        rows = np.flatnonzero(self.live_mask())
        store = DocumentStore(self.schema)
        ids = [self.ids[row] for row in rows.tolist()]
        store.append_columns(
            ids,
            {name: column.take(rows) for name, column in self.columns.items()},
            self.partition_ids()[rows],
        )
        return store, rows

    def scalar_values(self, row: int) -> dict[str, Any]:
        """Return every scalar value of ``row`` in storage form."""
        return {name: column.get(row) for name, column in self.columns.items()}
