"""Validation of upserted documents against a schema, following Vearch's doc_parse.go rules.

A valid document becomes a DocumentPatch holding values in storage form:
int for integer and long, float for float and double, bool, int nanoseconds
for date, str, list of str, and float32 arrays for vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from qiao.vectordb.dates import date_to_nanos, seconds_to_nanos
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.fields import FieldSpec, FieldType
from qiao.vectordb.schema import SpaceSchema

__all__ = ["DocumentPatch", "validate_documents"]

MAX_STRING_BYTES = 65535
MAX_INDEXED_STRING_BYTES = 1024
_INT_RANGES = {
    FieldType.INT: (-(2**31), 2**31 - 1),
    FieldType.LONG: (-(2**63), 2**63 - 1),
}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class DocumentPatch:
    """The fields one upserted document sets; ``doc_id`` is None until an id is assigned.

    ``partition`` is the id of the partition the document is routed to, set
    with the id; None in log records written before partitions were stored.
    """

    doc_id: str | None
    scalars: dict[str, Any] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    partition: int | None = None


class _FieldError(ValueError):
    """A value that does not fit its field; the caller adds the document position."""


def validate_documents(schema: SpaceSchema, documents: object) -> list[DocumentPatch]:
    """Return one patch per document or raise VectorDBError (UPSERT_INVALID_PARAMS).

    Unknown fields, null values, values of the wrong type, a JSON array for a
    field that is not an array, vectors of the wrong length and NaN or
    infinite values are rejected. The whole batch is checked before any
    document is stored.
    """
    if not isinstance(documents, list | tuple) or not documents:
        raise VectorDBError(
            ErrorCode.UPSERT_INVALID_PARAMS,
            f"documents must be a non-empty list of objects, got {type(documents).__name__}",
        )
    return [_validate_document(schema, position, doc) for position, doc in enumerate(documents)]


def _validate_document(schema: SpaceSchema, position: int, doc: object) -> DocumentPatch:
    if not isinstance(doc, dict):
        raise VectorDBError(
            ErrorCode.UPSERT_INVALID_PARAMS,
            f"document {position} must be an object, got {type(doc).__name__}",
        )
    patch = DocumentPatch(_validate_id(position, doc.get("_id")))
    for name, value in doc.items():
        if name == "_id":
            continue
        spec = schema.get_field(name)
        if spec is None:
            raise VectorDBError(
                ErrorCode.UPSERT_INVALID_PARAMS,
                f"document {position}: unknown field {name!r}; the space has fields "
                f"{[field.name for field in schema.fields]}",
            )
        try:
            if spec.is_vector:
                patch.vectors[name] = _vector_value(spec, value)
            else:
                patch.scalars[name] = _scalar_value(spec, value, schema.is_indexed(name))
        except _FieldError as error:
            raise VectorDBError(
                ErrorCode.UPSERT_INVALID_PARAMS, f"document {position}: field {name!r} {error}"
            ) from None
    return patch


def _validate_id(position: int, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise VectorDBError(
            ErrorCode.PRIMARY_KEY_IS_INVALID,
            f"document {position}: _id must be a non-empty string, got {value!r}",
        )
    try:
        _utf8_size(value)
    except _FieldError as error:
        raise VectorDBError(
            ErrorCode.PRIMARY_KEY_IS_INVALID, f"document {position}: _id {error}"
        ) from None
    return value


def _vector_value(spec: FieldSpec, value: object) -> np.ndarray:
    if value is None:
        raise _FieldError("is null; send a list of numbers or leave the field out")
    if not isinstance(value, list | tuple | np.ndarray):
        raise _FieldError(f"must be a list of {spec.dimension} numbers, got {type(value).__name__}")
    if not isinstance(value, np.ndarray) and any(isinstance(item, bool) for item in value):
        # numpy turns [true, 0] into integers; Vearch's float parser rejects true and false.
        raise _FieldError("must contain only numbers, got true or false")
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise _FieldError(f"must contain only numbers, got array of {array.dtype}")
    if array.shape != (spec.dimension,):
        raise _FieldError(
            f"has length {array.shape[0] if array.ndim == 1 else array.shape}, "
            f"but the dimension is {spec.dimension}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        vector = array.astype(np.float32)
    if not np.isfinite(vector).all():
        index = int(np.flatnonzero(~np.isfinite(vector))[0])
        raise _FieldError(f"has a NaN or infinite value (or one beyond float32) at index {index}")
    if spec.normalizes:
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            raise _FieldError("is all zeros and cannot be normalized; send a non-zero vector")
        vector /= norm
    return vector


def _scalar_value(spec: FieldSpec, value: object, indexed: bool) -> Any:
    if value is None:
        raise _FieldError("is null; send a value or leave the field out")
    if isinstance(value, list | tuple) and spec.type is not FieldType.STRINGARRAY:
        raise _FieldError(f"has type {spec.type_name} and does not accept an array")
    converter = _CONVERTERS[spec.type]
    result = converter(spec, value)
    if spec.type in (FieldType.STRING, FieldType.STRINGARRAY):
        _check_string_size(result, indexed)
    return result


def _utf8_size(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise _FieldError("contains a lone surrogate, which is not valid Unicode text") from None


def _check_string_size(value: str | list[str], indexed: bool) -> None:
    limit = MAX_INDEXED_STRING_BYTES if indexed else MAX_STRING_BYTES
    # Vearch joins array elements with one separator byte before the size check.
    text = "\x01".join(value) if isinstance(value, list) else value
    size = _utf8_size(text)
    if size > limit:
        kind = "an indexed" if indexed else "a"
        raise _FieldError(
            f"is {size} bytes long, over the {limit}-byte limit of {kind} string field"
        )


def _to_string(spec: FieldSpec, value: object) -> str:
    if not isinstance(value, str):
        raise _FieldError(f"has type {spec.type_name} and needs a string, got {value!r}")
    return value


def _to_string_array(spec: FieldSpec, value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _FieldError(f"has type {spec.type_name} and needs a list of strings, got {value!r}")
    for element in value:
        if not isinstance(element, str):
            raise _FieldError(f"needs a list of strings, but contains {element!r}")
    return list(value)


def _to_int(spec: FieldSpec, value: object) -> int:
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise _FieldError(
                f"has type {spec.type_name} and needs an integer, got {value!r}"
            ) from None
    elif isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        number = int(value)
    else:
        raise _FieldError(f"has type {spec.type_name} and needs an integer, got {value!r}")
    low, high = _INT_RANGES[spec.type]
    if not low <= number <= high:
        raise _FieldError(f"value {number} is outside the {spec.type_name} range [{low}, {high}]")
    return number


def _to_float(spec: FieldSpec, value: object) -> float:
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _FieldError(
                f"has type {spec.type_name} and needs a number, got {value!r}"
            ) from None
    elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    ):
        number = float(value)
    else:
        raise _FieldError(f"has type {spec.type_name} and needs a number, got {value!r}")
    if not math.isfinite(number):
        raise _FieldError(f"must be a finite number, got {value!r}")
    if spec.type is FieldType.FLOAT:
        if abs(number) > _FLOAT32_MAX:
            raise _FieldError(f"value {number} does not fit a 32-bit float; use type double")
        number = float(np.float32(number))
    return number


def _to_bool(spec: FieldSpec, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise _FieldError(f"has type {spec.type_name} and needs true or false, got {value!r}")
    return bool(value)


def _to_date(spec: FieldSpec, value: object) -> int:
    try:
        if isinstance(value, str | date):
            return date_to_nanos(value)
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            return seconds_to_nanos(int(value))
    except ValueError as error:
        raise _FieldError(f"is not a valid date: {error}") from None
    raise _FieldError(
        f"has type date and needs a date string or integer seconds since 1970, got {value!r}"
    )


_CONVERTERS = {
    FieldType.STRING: _to_string,
    FieldType.STRINGARRAY: _to_string_array,
    FieldType.INT: _to_int,
    FieldType.LONG: _to_int,
    FieldType.FLOAT: _to_float,
    FieldType.DOUBLE: _to_float,
    FieldType.BOOL: _to_bool,
    FieldType.DATE: _to_date,
}
