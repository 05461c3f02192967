"""Partitions of a space: their ids, names and slots, the RANGE rule and document routing.

Vearch v3.5 splits a space into partitions, each a separate engine on a
partition server. A document goes to the partition whose ``partition_slot``
is the largest one not above ``murmur3_32(_id, seed 0)``; slots are
``i * (MaxUint32 // count)``. With a RANGE ``partition_rule`` on a date
field, the document goes to the first range whose value is above its date,
and among that range's ``partition_num`` partitions to number
``murmur3 % partition_num`` (``internal/client/client.go``,
``internal/entity/space.go``, ``internal/master/services/space_service.go``).

On one node this engine keeps one store and one vector index per field. The
partition is an attribute of each row. It routes upserts, restricts requests
to named partitions and gives per-partition counts.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import mmh3

from qiao.vectordb.dates import date_to_nanos, seconds_to_nanos
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.fields import FieldType

__all__ = [
    "MAX_UINT32",
    "Partition",
    "PartitionLayout",
    "RangeRule",
    "id_hash",
    "parse_partition_rule",
]

MAX_UINT32 = 2**32 - 1


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


def id_hash(doc_id: str) -> int:
    """Return Vearch's routing hash of a document id: murmur3 32-bit, seed 0, unsigned."""
    return mmh3.hash(doc_id.encode("utf-8"), 0, signed=False)


def range_value_nanos(value: str) -> int:
    """Parse a range bound like Vearch's ``ToTimestamp``: integer seconds or a date string."""
    try:
        return seconds_to_nanos(int(value.strip()))
    except ValueError:
        pass
    try:
        return date_to_nanos(value)
    except ValueError as error:
        raise _param_error(f"range partition value {value!r} is not a date: {error}") from None


@dataclass(frozen=True)
class RangeRule:
    """A RANGE partition rule: ``ranges`` are ``(name, value)`` with increasing values."""

    field: str
    ranges: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "RANGE",
            "field": self.field,
            "partitions": len(self.ranges),
            "ranges": [{"name": name, "value": value} for name, value in self.ranges],
        }

    def bounds(self) -> list[int]:
        return [range_value_nanos(value) for _, value in self.ranges]


def parse_ranges(raw: object, existing: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Validate a ``ranges`` list; names and values must be new and not repeat ``existing``."""
    if not isinstance(raw, list) or not raw:
        raise _param_error("empty space partition rule of ranges; send ranges=[{name, value}]")
    names = {name for name, _ in existing}
    values = {value for _, value in existing}
    ranges = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise _param_error(f"each range must be an object {{name, value}}, got {entry!r}")
        name, value = entry.get("name"), entry.get("value")
        if not isinstance(name, str) or not name:
            raise _param_error(f"range name must be a non-empty string, got {name!r}")
        if not isinstance(value, str) or not value:
            raise _param_error(
                f"range partition {name} value is empty or not a string, got {value!r}; "
                "send a date string or integer seconds as a string"
            )
        if name in names:
            raise _param_error(f"space partition rule range name {name} has same one")
        if value in values:
            raise _param_error(f"space partition rule range value {value} has same one")
        range_value_nanos(value)
        names.add(name)
        values.add(value)
        ranges.append((name, value))
    return ranges


def parse_partition_rule(raw: object, field_types: dict[str, FieldType]) -> RangeRule | None:
    """Validate a schema's ``partition_rule``; return None when there is none."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _param_error(f"partition_rule must be an object, got {raw!r}")
    if raw.get("type") != "RANGE":
        raise _param_error(
            f"partition_rule type {raw.get('type')!r} is not supported; now only support "
            "partition type of RANGE"
        )
    field = raw.get("field")
    if not isinstance(field, str) or not field:
        raise _param_error("space partition rule field is empty; name a date field")
    if field not in field_types:
        raise _param_error(f"partition rule field {field} not in space fields")
    if field_types[field] is not FieldType.DATE:
        raise _param_error(
            f"partition rule field {field!r} is not a date field; currently only partition "
            "field with DATE data type are supported"
        )
    ranges = parse_ranges(raw.get("ranges"))
    rule = RangeRule(field, tuple(ranges))
    bounds = rule.bounds()
    if any(later <= earlier for earlier, later in zip(bounds, bounds[1:], strict=False)):
        raise _param_error(
            f"range partition value needs to be increasing, got {[v for _, v in ranges]}"
        )
    return rule


@dataclass(frozen=True)
class Partition:
    """One partition: its global id, its range name ("" without a rule) and its slot."""

    id: int
    name: str
    slot: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "slot": self.slot}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Partition:
        return cls(int(raw["id"]), str(raw.get("name", "")), int(raw.get("slot", 0)))


def assign_slots(partitions: Sequence[Partition]) -> tuple[Partition, ...]:
    """Return the partitions with slot ``i * (MaxUint32 // count)``, as Vearch assigns them."""
    width = MAX_UINT32 // max(len(partitions), 1)
    return tuple(replace(partition, slot=i * width) for i, partition in enumerate(partitions))


@dataclass(frozen=True)
class PartitionLayout:
    """The partitions of a space, in Vearch's order, and its RANGE rule if any."""

    partitions: tuple[Partition, ...]
    partition_num: int
    rule: RangeRule | None = None

    @property
    def ids(self) -> list[int]:
        return [partition.id for partition in self.partitions]

    def by_id(self, partition_id: int) -> Partition | None:
        for partition in self.partitions:
            if partition.id == partition_id:
                return partition
        return None

    def ids_named(self, names: Sequence[str]) -> list[int]:
        """Return the ids of the partitions called ``names``; PARAM_ERROR for an unknown name."""
        chosen = []
        for name in names:
            if not isinstance(name, str):
                raise _param_error(f"partition_names must contain strings, got {name!r}")
            matches = [partition.id for partition in self.partitions if partition.name == name]
            if not matches:
                known = sorted({partition.name for partition in self.partitions if partition.name})
                raise _param_error(f"partition name {name!r} does not exist; known names {known}")
            chosen.extend(matches)
        return chosen

    def route_by_hash(self, doc_id: str) -> int:
        """Return the partition of ``doc_id`` by slot: the last slot not above its hash."""
        slots = [partition.slot for partition in self.partitions]
        position = bisect.bisect_right(slots, id_hash(doc_id)) - 1
        return self.partitions[max(position, 0)].id

    def route_by_date(self, doc_id: str, nanos: int) -> int:
        """Return the partition of a document dated ``nanos`` under the RANGE rule."""
        assert self.rule is not None
        for (name, _), bound in zip(self.rule.ranges, self.rule.bounds(), strict=True):
            if nanos < bound:
                candidates = [p.id for p in self.partitions if p.name == name]
                return candidates[id_hash(doc_id) % len(candidates)]
        raise _param_error(
            f"can't set partition for {self.rule.field} value {nanos // 1_000_000_000} seconds; "
            f"it is not below any range value {[value for _, value in self.rule.ranges]}. Add a "
            "range with a later value"
        )

    def to_json(self) -> list[dict[str, Any]]:
        return [partition.to_dict() for partition in self.partitions]

    @classmethod
    def create(cls, partition_num: int, rule: RangeRule | None, new_id: Any) -> PartitionLayout:
        """Return the partitions of a new space; ``new_id()`` returns the next partition id."""
        if rule is None:
            names = [""] * partition_num
        else:
            names = [name for name, _ in rule.ranges for _ in range(partition_num)]
        partitions = [Partition(new_id(), name, 0) for name in names]
        return cls(assign_slots(partitions), partition_num, rule)


def explicit_partition(doc_id: str, partition_ids: Sequence[int]) -> int:
    """Return the partition for an upsert that lists ``partitions``: by hash among them."""
    return partition_ids[id_hash(doc_id) % len(partition_ids)]
