"""Space updates, following Vearch v3.5's space PUT (``UpdateSpace`` and
``UpdateSpaceResource`` in ``internal/master/services/space_service.go``).

An update is committed by replacing ``space.json`` atomically. Work that
follows the commit is redone on the next open when a crash interrupts it:
documents of dropped partitions are deleted by ``reconcile_partitions`` and a
rename finishes in ``finish_interrupted_renames``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiao.fileio import fsync_directory
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.names import validate_name
from qiao.vectordb.partitions import (
    Partition,
    PartitionLayout,
    RangeRule,
    assign_slots,
    parse_ranges,
    range_value_nanos,
)
from qiao.vectordb.schema import MAX_PARTITION_NUM, SpaceSchema, parse_field
from qiao.vectordb.space_meta import SPACE_FILE

if TYPE_CHECKING:
    from qiao.vectordb.space import Space

__all__ = ["finish_interrupted_renames", "update_space"]

logger = logging.getLogger(__name__)

_OPERATORS = ("ADD", "DROP")


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


def update_space(
    space: Space,
    changes: object,
    next_id: Callable[[str], int],
    commit_ids: Callable[[], None] = lambda: None,
) -> Path | None:
    """Apply ``changes`` to ``space``; return the new folder after a rename, else None.

    ``next_id("next_partition_id")`` returns the id of a new partition, and
    ``commit_ids()`` persists the ids taken before the update commits.
    """
    if not isinstance(changes, dict):
        raise _param_error(f"a space update must be a JSON object, got {changes!r}")
    meta = space.meta
    schema, layout = meta.schema, meta.layout
    if changes.get("indexes"):
        raise _param_error(
            "a space update cannot change indexes; add or remove them with the space's "
            "indexes endpoints (POST or DELETE /dbs/<db>/spaces/<space>/indexes)"
        )
    replica_num = changes.get("replica_num")
    if replica_num not in (None, 0, schema.replica_num):
        raise _param_error(f"replica_num can not change; it is {schema.replica_num}")

    operator = changes.get("operator_type", changes.get("partition_operator_type"))
    if operator:
        schema, layout = _change_ranges(schema, layout, operator, changes, next_id)
    elif changes.get("partition_num") not in (None, 0, schema.partition_num):
        schema, layout = _expand(schema, layout, changes["partition_num"], next_id)
    if changes.get("fields"):
        schema = _add_fields(schema, changes["fields"])

    new_name = changes.get("name")
    renamed = isinstance(new_name, str) and bool(new_name) and new_name != schema.name
    if renamed:
        schema = replace(schema, name=validate_name(new_name, "space"))
    enabled = changes.get("enabled", meta.enabled)
    if not isinstance(enabled, bool):
        raise _param_error(f"enabled must be true or false, got {enabled!r}")

    target = space.directory.parent / schema.name
    if renamed and target.exists():
        raise VectorDBError(
            ErrorCode.SPACE_EXIST,
            f"space {schema.name!r} already exists in {meta.db_name!r}; choose another name",
        )
    updated = meta.with_changes(schema=schema, layout=layout, enabled=enabled)
    commit_ids()
    space.apply_meta(updated)
    logger.info("updated space %s/%s to version %d", meta.db_name, meta.name, updated.version)
    if not renamed:
        return None

    space.close()
    os.rename(space.directory, target)
    fsync_directory(target.parent)
    logger.info("renamed space %s/%s to %s", meta.db_name, meta.name, schema.name)
    return target


def _expand(
    schema: SpaceSchema, layout: PartitionLayout, partition_num: object, next_id: Callable
) -> tuple[SpaceSchema, PartitionLayout]:
    if isinstance(partition_num, bool) or not isinstance(partition_num, int):
        raise _param_error(f"partition_num must be an integer, got {partition_num!r}")
    if partition_num > MAX_PARTITION_NUM:
        raise _param_error(
            f"partition_num {partition_num} is above the maximum {MAX_PARTITION_NUM}; "
            "use fewer partitions"
        )
    if partition_num < schema.partition_num:
        raise _param_error(
            f"paritition_num: {partition_num} now should greater than origin space "
            f"partition_num: {schema.partition_num}"
        )
    if layout.rule is not None:
        raise _param_error(
            "partition_num of a space with a RANGE partition_rule cannot change; add ranges "
            'with {"operator_type": "ADD", "partition_rule": {...}} instead'
        )
    added = [
        Partition(next_id("next_partition_id"), "", 0)
        for _ in range(partition_num - schema.partition_num)
    ]
    partitions = assign_slots(layout.partitions + tuple(added))
    return (
        replace(schema, partition_num=partition_num),
        PartitionLayout(partitions, partition_num, None),
    )


def _change_ranges(
    schema: SpaceSchema,
    layout: PartitionLayout,
    operator: object,
    changes: dict[str, Any],
    next_id: Callable,
) -> tuple[SpaceSchema, PartitionLayout]:
    if operator not in _OPERATORS:
        raise _param_error(f"partition operator type should be ADD or DROP, but is {operator!r}")
    rule = layout.rule
    if rule is None:
        raise _param_error(
            f"space {schema.name!r} has no RANGE partition_rule, so it has no range "
            "partitions to ADD or DROP"
        )
    if operator == "DROP":
        name = changes.get("partition_name")
        if not isinstance(name, str) or not name:
            raise _param_error("partition name is empty; send partition_name to DROP")
        if name not in {range_name for range_name, _ in rule.ranges}:
            raise _param_error(f"partition name {name} not exist")
        ranges = tuple(entry for entry in rule.ranges if entry[0] != name)
        if not ranges:
            raise _param_error(
                f"partition {name!r} is the last range; a space needs at least one, so add "
                "another range first or drop the space"
            )
        partitions = tuple(p for p in layout.partitions if p.name != name)
    else:
        raw_rule = changes.get("partition_rule")
        if not isinstance(raw_rule, dict):
            raise _param_error("partition rule is empty; send partition_rule with ranges to ADD")
        added = parse_ranges(raw_rule.get("ranges"), rule.ranges)
        ranges = tuple(sorted(rule.ranges + tuple(added), key=lambda r: range_value_nanos(r[1])))
        new_partitions = [
            Partition(next_id("next_partition_id"), range_name, 0)
            for range_name, _ in added
            for _ in range(schema.partition_num)
        ]
        partitions = layout.partitions + tuple(new_partitions)
    new_rule = RangeRule(rule.field, ranges)
    return (
        replace(schema, partition_rule=new_rule),
        PartitionLayout(assign_slots(partitions), layout.partition_num, new_rule),
    )


def _add_fields(schema: SpaceSchema, raw_fields: object) -> SpaceSchema:
    """Return ``schema`` with the new fields of ``raw_fields``; listed old fields must match."""
    if not isinstance(raw_fields, list):
        raise _param_error(f"fields must be a list of field objects, got {raw_fields!r}")
    added = []
    known = {spec.name for spec in schema.fields}
    for raw in raw_fields:
        spec = parse_field(raw)
        old = schema.get_field(spec.name)
        if old is not None:
            if old != spec:
                raise _param_error(
                    f"not equals by field:[{spec.name}]; an update can add fields but not "
                    f"change one, and {raw!r} differs from the existing {old.to_dict()!r}"
                )
            continue
        if spec.is_vector:
            raise _param_error(
                f"field {spec.name!r} is a vector field; an update can add scalar fields only, "
                "because the documents already stored have no vector for it"
            )
        if spec.name in known:
            raise _param_error(f"field name {spec.name!r} is duplicated in the update")
        known.add(spec.name)
        added.append(spec)
    return replace(schema, fields=schema.fields + tuple(added))


def finish_interrupted_renames(dbs_dir: Path) -> None:
    """Rename space folders whose ``space.json`` already carries a new name."""
    for space_file in dbs_dir.glob(f"*/spaces/*/{SPACE_FILE}"):
        directory = space_file.parent
        if directory.name.startswith("."):
            continue
        try:
            name = json.loads(space_file.read_text(encoding="utf-8"))["name"]
        except (OSError, ValueError, KeyError):
            continue
        target = directory.parent / name
        if name != directory.name and not target.exists():
            logger.info("finishing the rename of space %s to %s", directory, name)
            os.rename(directory, target)
            fsync_directory(directory.parent)
