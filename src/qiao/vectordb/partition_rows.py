"""The partition attribute of rows: routing upserts, restricting reads and direct gets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qiao.vectordb.documents import DocumentPatch
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.partitions import PartitionLayout, explicit_partition
from qiao.vectordb.store import NO_PARTITION, DocumentStore

__all__ = ["direct_get", "partition_mask", "reconcile_partitions", "route_patches"]


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


def _partition_id(layout: PartitionLayout, value: object) -> int:
    """Return ``value`` as the id of an existing partition; PARTITION_NOT_EXIST otherwise."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError
        partition_id = int(value)
    except ValueError:
        raise _param_error(f"partition id must be an integer, got {value!r}") from None
    if layout.by_id(partition_id) is None:
        raise VectorDBError(
            ErrorCode.PARTITION_NOT_EXIST,
            f"partition {partition_id} does not exist; the space has partitions {layout.ids}",
        )
    return partition_id


def route_patches(
    layout: PartitionLayout, patches: Sequence[DocumentPatch], partitions: object = None
) -> None:
    """Set the partition of each patch, as Vearch's router does for an upsert."""
    rule = layout.rule
    if rule is not None:
        for patch in patches:
            value = patch.scalars.get(rule.field)
            if value is None:
                raise _param_error(
                    f"document {patch.doc_id!r} has no {rule.field!r}; document must have "
                    "partition rule field, because the space is partitioned by its date"
                )
            patch.partition = layout.route_by_date(patch.doc_id, value)  # type: ignore[arg-type]
        return
    if partitions:
        if not isinstance(partitions, list | tuple):
            raise _param_error(f"partitions must be a list of partition ids, got {partitions!r}")
        chosen = [_partition_id(layout, value) for value in partitions]
        for patch in patches:
            patch.partition = explicit_partition(patch.doc_id, chosen)  # type: ignore[arg-type]
        return
    for patch in patches:
        patch.partition = layout.route_by_hash(patch.doc_id)  # type: ignore[arg-type]


def partition_mask(
    store: DocumentStore,
    layout: PartitionLayout,
    partition_id: object = None,
    partition_names: Sequence[str] | None = None,
    *,
    next: bool = False,
) -> np.ndarray | None:
    """Return a row mask of the partitions a request names, or None when it names none."""
    if next and partition_id is None:
        raise _param_error("next needs partition_id; send the partition to iterate")
    if partition_names is not None and (
        isinstance(partition_names, str) or not isinstance(partition_names, list | tuple)
    ):
        raise _param_error(f"partition_names must be a list of names, got {partition_names!r}")
    chosen: set[int] | None = None
    if partition_id is not None:
        chosen = {_partition_id(layout, partition_id)}
    if partition_names:
        named = set(layout.ids_named(partition_names))
        chosen = named if chosen is None else chosen & named
    if chosen is None:
        return None
    return np.isin(store.partition_ids(), sorted(chosen))


def direct_get(
    store: DocumentStore, ids: Sequence[str], restrict: np.ndarray | None, *, next: bool
) -> list[tuple[str, int | None]]:
    """Return ``(id, row)`` per requested id; row is None when the document is missing.

    With ``next`` each id is an internal docid (row number) and the row is the
    first live row after it within ``restrict``.
    """
    results: list[tuple[str, int | None]] = []
    live = store.live_mask()
    for doc_id in ids:
        if not next:
            row = store.row_of(doc_id)
            if row is not None and restrict is not None and not restrict[row]:
                row = None
            results.append((doc_id, row))
            continue
        try:
            docid = int(doc_id)
        except ValueError:
            raise _param_error(
                f"with next, document_ids are internal docids (integers), got {doc_id!r}"
            ) from None
        start = max(docid + 1, 0)
        candidates = live[start:] if restrict is None else live[start:] & restrict[start:]
        following = np.flatnonzero(candidates)
        results.append((doc_id, int(following[0]) + start if following.size else None))
    return results


def reconcile_partitions(store: DocumentStore, layout: PartitionLayout) -> list[str]:
    """Assign rows without a partition to the first one; return ids in no current partition.

    Rows written before partitions were stored have NO_PARTITION. Rows of a
    partition that a DROP removed remain when the process stopped between
    the new ``space.json`` and the delete; the caller deletes them.
    """
    partition_ids = store.partition_ids()
    partition_ids[partition_ids == NO_PARTITION] = layout.partitions[0].id
    orphaned = store.live_mask() & ~np.isin(partition_ids, layout.ids)
    return [store.ids[row] for row in np.flatnonzero(orphaned).tolist()]
