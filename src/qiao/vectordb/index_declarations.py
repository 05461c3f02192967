"""Parsing of index declarations, on a field or in a schema's top-level ``indexes`` list."""

from __future__ import annotations

from typing import Any

from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.fields import FieldSpec, FieldType, IndexSpec
from qiao.vectordb.index.factory import VECTOR_INDEX_TYPES, validate_vector_index

__all__ = ["SCALAR_INDEX_TYPES", "check_store_type", "parse_field_index", "parse_top_level_indexes"]

SCALAR_INDEX_TYPES = frozenset({"SCALAR", "INVERTED", "BITMAP"})


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


def check_store_type(index: IndexSpec, spec: FieldSpec) -> None:
    if index.type == "HNSW" and spec.store_type == "RocksDB":
        raise _param_error(
            f"vector field {spec.name!r}: HNSW does not support store_type 'RocksDB'; "
            "use 'MemoryOnly' or leave store_type out"
        )
    if index.type == "IVFFLAT" and spec.store_type == "MemoryOnly":
        raise _param_error(
            f"vector field {spec.name!r}: IVFFLAT does not support store_type 'MemoryOnly'"
        )


def parse_field_index(
    raw: object, name: str, field_type: FieldType, spec: FieldSpec | None = None
) -> IndexSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _param_error(f"index of field {name!r} must be a JSON object, got {raw!r}")
    return _parse_index(raw, (name,), field_type, spec)


def _parse_index(
    raw: dict[str, Any],
    field_names: tuple[str, ...],
    field_type: FieldType | None,
    spec: FieldSpec | None,
) -> IndexSpec:
    index_type = raw.get("type")
    if not isinstance(index_type, str) or not index_type:
        raise _param_error(f"the index of {field_names} needs a 'type', got {index_type!r}")
    index_type = index_type.upper()
    index_name = raw.get("name") or field_names[0]
    if not isinstance(index_name, str):
        raise _param_error(f"index name must be a string, got {index_name!r}")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise _param_error(f"params of index {index_name!r} must be a JSON object, got {params!r}")
    if index_type in VECTOR_INDEX_TYPES:
        if field_type is not FieldType.VECTOR or spec is None:
            raise _param_error(
                f"index {index_name!r} of type {index_type} needs a vector field, "
                f"but {field_names[0]!r} is not one; use SCALAR, INVERTED or BITMAP"
            )
        params = validate_vector_index(index_type, params, spec.dimension)
        return IndexSpec(index_name, index_type, params, field_names)
    if index_type == "INVERTED_LIST":
        raise _param_error(
            f"index {index_name!r} of {field_names[0]!r} has type INVERTED_LIST, which Vearch "
            "defines but rejects; use SCALAR, INVERTED or BITMAP"
        )
    if index_type == "COMPOSITE":
        raise _param_error(
            f"index {index_name!r} on field {field_names[0]!r} is COMPOSITE; declare COMPOSITE "
            "indexes only in the top-level 'indexes' list with 'field_names' of two or more "
            "scalar fields"
        )
    if index_type not in SCALAR_INDEX_TYPES:
        raise _param_error(
            f"index type {index_type!r} is unknown; use one of "
            f"{sorted(SCALAR_INDEX_TYPES | VECTOR_INDEX_TYPES)} (COMPOSITE only in 'indexes')"
        )
    if field_type is FieldType.VECTOR:
        raise _param_error(
            f"vector field {field_names[0]!r} needs a vector index such as FLAT or HNSW, "
            f"not {index_type}"
        )
    return IndexSpec(index_name, index_type, dict(params), field_names)


def parse_top_level_indexes(raw: object, by_name: dict[str, FieldSpec]) -> list[IndexSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _param_error(f"'indexes' must be a list, got {raw!r}")
    indexes: list[IndexSpec] = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise _param_error(f"each entry of 'indexes' must be a JSON object, got {entry!r}")
        indexes.append(_parse_top_level_index(entry, by_name))
    covered = [index.field_names for index in indexes if index.type != "COMPOSITE"]
    covered += [(spec.name,) for spec in by_name.values() if spec.index is not None]
    duplicates = {names[0] for names in covered if covered.count(names) > 1}
    if duplicates:
        raise _param_error(f"fields {sorted(duplicates)} have more than one index; keep one each")
    return indexes


def _parse_top_level_index(entry: dict[str, Any], by_name: dict[str, FieldSpec]) -> IndexSpec:
    index_type = str(entry.get("type", "")).upper()
    if index_type == "COMPOSITE":
        names = entry.get("field_names")
        if not isinstance(names, list) or len(names) < 2:
            raise _param_error("a COMPOSITE index needs 'field_names' with at least two fields")
        for name in names:
            spec = by_name.get(name) if isinstance(name, str) else None
            if spec is None or spec.is_vector:
                raise _param_error(f"COMPOSITE index field {name!r} is not a scalar field")
        index_name = entry.get("name") or "_".join(names)
        return IndexSpec(
            str(index_name), "COMPOSITE", dict(entry.get("params") or {}), tuple(names)
        )
    name = entry.get("field_name")
    spec = by_name.get(name) if isinstance(name, str) else None
    if spec is None:
        raise _param_error(f"index {entry.get('name')!r} names unknown field_name {name!r}")
    index = _parse_index(entry, (spec.name,), spec.type, spec)
    if index.is_vector:
        check_store_type(index, spec)
    return index
