"""Typed space schema, parsed and validated from Vearch's JSON shape."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.fields import FieldSpec, FieldType, IndexSpec
from qiao.vectordb.index_declarations import (
    check_store_type,
    parse_field_index,
    parse_top_level_indexes,
)
from qiao.vectordb.names import validate_name
from qiao.vectordb.partitions import RangeRule, parse_partition_rule

__all__ = ["SpaceSchema", "parse_field"]

logger = logging.getLogger(__name__)

_TYPE_NAMES = {
    "text": FieldType.STRING,
    "keyword": FieldType.STRING,
    "string": FieldType.STRING,
    "integer": FieldType.INT,
    "short": FieldType.INT,
    "byte": FieldType.INT,
    "long": FieldType.LONG,
    "float": FieldType.FLOAT,
    "double": FieldType.DOUBLE,
    "boolean": FieldType.BOOL,
    "bool": FieldType.BOOL,
    "date": FieldType.DATE,
    "stringArray": FieldType.STRINGARRAY,
    "StringArray": FieldType.STRINGARRAY,
    "string_array": FieldType.STRINGARRAY,
    "vector": FieldType.VECTOR,
}
_RESERVED_FIELD_NAMES = frozenset({"_id", "_score"})
_VECTOR_FORMATS = frozenset({"normalization", "normal", "no"})
_STORE_TYPES = frozenset({"MemoryOnly", "RocksDB"})
# Partitions share one store and one index per field on this engine, so many
# partitions cost little; the cap only stops absurd values.
MAX_PARTITION_NUM = 1024


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


@dataclass(frozen=True)
class SpaceSchema:
    """A validated space schema in Vearch's shape."""

    name: str
    fields: tuple[FieldSpec, ...]
    indexes: tuple[IndexSpec, ...] = ()
    partition_num: int = 1
    replica_num: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    partition_rule: RangeRule | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {spec.name: spec for spec in self.fields})

    def get_field(self, name: str) -> FieldSpec | None:
        """Return the field called ``name``, or None."""
        return self._by_name.get(name)  # type: ignore[attr-defined]

    @property
    def vector_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.is_vector)

    @property
    def scalar_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if not spec.is_vector)

    def index_for(self, name: str) -> IndexSpec | None:
        """Return the single-field index of field ``name``, declared on the field or top level."""
        spec = self.get_field(name)
        if spec is not None and spec.index is not None:
            return spec.index
        for index in self.indexes:
            if index.type != "COMPOSITE" and index.field_names == (name,):
                return index
        return None

    def is_indexed(self, name: str) -> bool:
        """Return True when field ``name`` has its own index or is part of a composite index."""
        if self.index_for(name) is not None:
            return True
        return any(name in index.field_names for index in self.indexes)

    def to_dict(self) -> dict[str, Any]:
        """Return the schema as a Vearch space request; ``from_dict`` reads it back unchanged."""
        result: dict[str, Any] = {
            "name": self.name,
            "partition_num": self.partition_num,
            "replica_num": self.replica_num,
            "fields": [spec.to_dict() for spec in self.fields],
        }
        if self.indexes:
            result["indexes"] = [index.to_dict(top_level=True) for index in self.indexes]
        if self.partition_rule is not None:
            result["partition_rule"] = self.partition_rule.to_dict()
        result.update(self.options)
        return result

    @classmethod
    def from_dict(cls, raw: object) -> SpaceSchema:
        """Validate a Vearch space request and return its schema; raise PARAM_ERROR if invalid."""
        if not isinstance(raw, dict):
            raise _param_error(f"a space schema must be a JSON object, got {type(raw).__name__}")
        name = validate_name(raw.get("name"), "space")
        partition_num, replica_num = _parse_partitioning(raw)

        fields = _parse_fields(raw.get("fields"))
        by_name = {spec.name: spec for spec in fields}
        indexes = parse_top_level_indexes(raw.get("indexes"), by_name)

        options = {
            key: raw[key]
            for key in ("refresh_interval", "enable_id_cache", "enable_realtime")
            if key in raw
        }
        field_types = {spec.name: spec.type for spec in fields}
        rule = parse_partition_rule(raw.get("partition_rule"), field_types)
        schema = cls(name, tuple(fields), tuple(indexes), partition_num, replica_num, options, rule)

        if not any(schema.index_for(spec.name) is not None for spec in schema.vector_fields):
            raise _param_error(
                f"space {name!r} needs at least one vector field with a vector index, "
                'such as {"type": "vector", "dimension": 384, "index": {"name": "v", '
                '"type": "FLAT", "params": {"metric_type": "InnerProduct"}}}'
            )
        return schema


def _parse_partitioning(raw: dict[str, Any]) -> tuple[int, int]:
    """Return ``(partition_num, replica_num)``; only one replica works on one node."""
    partition_num = _positive_int(raw.get("partition_num", 1), "partition_num")
    if partition_num > MAX_PARTITION_NUM:
        raise _param_error(
            f"partition_num {partition_num} is above the maximum {MAX_PARTITION_NUM}; "
            "use fewer partitions"
        )

    # NOTE: Vearch defaults replica_num to 3, which fails on one node. This
    # single-node engine defaults to 1 so that a schema without it works.
    replica_num = _positive_int(raw.get("replica_num", 1), "replica_num")
    if replica_num != 1:
        raise VectorDBError(
            ErrorCode.MASTER_PS_NOT_ENOUGH_SELECT,
            f"replica_num {replica_num} needs {replica_num} partition servers but this "
            "single-node engine has one; set replica_num to 1",
        )
    return partition_num, replica_num


def _positive_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _param_error(f"{key} must be a positive integer, got {value!r}")
    return value


def _parse_fields(raw_fields: object) -> list[FieldSpec]:
    if not isinstance(raw_fields, list) or not raw_fields:
        raise _param_error("a space schema needs a non-empty 'fields' list")
    fields: list[FieldSpec] = []
    seen: set[str] = set()
    for raw in raw_fields:
        spec = parse_field(raw)
        if spec.name in seen:
            raise _param_error(
                f"field name {spec.name!r} is duplicated; field names must be unique"
            )
        seen.add(spec.name)
        fields.append(spec)
    return fields


def parse_field(raw: object) -> FieldSpec:
    """Validate one field declaration of a space schema and return it."""
    if not isinstance(raw, dict):
        raise _param_error(f"each field must be a JSON object, got {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _param_error(f"a field needs a non-empty string 'name', got {name!r}")
    if name in _RESERVED_FIELD_NAMES:
        raise _param_error(f"field name {name!r} is reserved; choose another name")
    type_name = raw.get("type")
    field_type = _TYPE_NAMES.get(type_name) if isinstance(type_name, str) else None
    if field_type is None:
        raise _param_error(
            f"field {name!r} has unknown type {type_name!r}; use one of {sorted(_TYPE_NAMES)}"
        )
    if field_type is FieldType.VECTOR:
        return _parse_vector_field(raw, name, type_name)
    index = parse_field_index(raw.get("index"), name, field_type)
    return FieldSpec(name, field_type, type_name, index=index)


def _parse_vector_field(raw: dict[str, Any], name: str, type_name: str) -> FieldSpec:
    dimension = raw.get("dimension")
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
        raise _param_error(
            f"vector field {name!r} needs a positive integer 'dimension', got {dimension!r}"
        )
    vector_format = raw.get("format") or None
    if vector_format is not None and vector_format not in _VECTOR_FORMATS:
        raise _param_error(
            f"vector field {name!r} has unknown format {vector_format!r}; "
            f"use one of {sorted(_VECTOR_FORMATS)}"
        )
    store_type = raw.get("store_type") or None
    if store_type is not None and store_type not in _STORE_TYPES:
        raise _param_error(
            f"vector field {name!r} has unknown store_type {store_type!r}; "
            f"use one of {sorted(_STORE_TYPES)}"
        )
    spec = FieldSpec(name, FieldType.VECTOR, type_name, dimension, vector_format, store_type)
    index = parse_field_index(raw.get("index"), name, FieldType.VECTOR, spec)
    if index is not None:
        check_store_type(index, spec)
    return FieldSpec(name, FieldType.VECTOR, type_name, dimension, vector_format, store_type, index)
