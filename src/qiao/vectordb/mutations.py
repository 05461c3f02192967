"""Applying upsert and delete batches to a space's store and vector indexes in memory.

The same functions apply a batch when it is written and when the
write-ahead log is replayed, so both produce the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qiao.errors import StorageError
from qiao.vectordb.documents import DocumentPatch
from qiao.vectordb.index import VectorIndex
from qiao.vectordb.store import NO_PARTITION, DocumentStore

__all__ = ["apply_delete", "apply_upsert"]


@dataclass
class _NewRow:
    old_row: int | None
    scalars: dict[str, Any]
    partition: int
    vectors: dict[str, np.ndarray] = field(default_factory=dict)


def apply_upsert(
    store: DocumentStore, indexes: dict[str, VectorIndex], patches: Sequence[DocumentPatch]
) -> None:
    """Write each patch as a new row; an existing document keeps the fields the patch omits.

    Several patches for one id in a batch merge into one row, in order. The
    row moves to the patch's partition; a patch without one keeps the old
    row's partition.
    """
    pending: dict[str, _NewRow] = {}
    for patch in patches:
        assert patch.doc_id is not None
        entry = pending.get(patch.doc_id)
        if entry is None:
            old_row = store.row_of(patch.doc_id)
            scalars = store.scalar_values(old_row) if old_row is not None else {}
            partition = int(store.partition_ids()[old_row]) if old_row is not None else NO_PARTITION
            entry = pending[patch.doc_id] = _NewRow(old_row, scalars, partition)
        if patch.partition is not None:
            entry.partition = patch.partition
        entry.scalars.update(patch.scalars)
        entry.vectors.update(patch.vectors)
    rows = list(pending.values())
    blocks = {name: _vector_block(name, index, rows) for name, index in indexes.items()}
    for entry in rows:
        if entry.old_row is not None:
            store.kill(entry.old_row)
    store.append_rows(
        list(pending), [entry.scalars for entry in rows], [entry.partition for entry in rows]
    )
    for name, index in indexes.items():
        index.add(blocks[name])


def _vector_block(name: str, index: VectorIndex, rows: list[_NewRow]) -> np.ndarray:
    """Stack the new rows' vectors of one field, copying omitted ones from the old row."""
    block = np.empty((len(rows), index.dimension), dtype=np.float32)
    for position, entry in enumerate(rows):
        vector = entry.vectors.get(name)
        if vector is not None:
            block[position] = vector
        elif entry.old_row is not None:
            block[position] = index.vectors_view()[entry.old_row]
        else:
            raise StorageError(f"a new document has no value for vector field {name!r}")
    return block


def apply_delete(store: DocumentStore, ids: Sequence[str]) -> None:
    """Delete the documents ``ids``; ids without a document are skipped."""
    for doc_id in ids:
        row = store.row_of(doc_id)
        if row is not None:
            store.kill(row)
