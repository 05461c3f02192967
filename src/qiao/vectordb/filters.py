"""Vearch filters: parsing ``{"operator", "conditions"}`` and evaluating them to row masks.

Range operators ``< <= > >= = <> !=`` apply to numeric, boolean and date
fields. ``IN`` and ``NOT IN`` take a list of strings and apply to string and
stringArray fields. On a stringArray field, IN matches a row when any
element is listed.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from qiao.vectordb.columns import NumericColumn
from qiao.vectordb.dates import date_to_nanos, seconds_to_nanos
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.fields import FieldSpec, FieldType
from qiao.vectordb.schema import SpaceSchema
from qiao.vectordb.store import DocumentStore

__all__ = ["Condition", "Filter", "parse_filter"]

_RANGE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "<>": operator.ne,
    "!=": operator.ne,
}
_TERM_OPERATORS = frozenset({"IN", "NOT IN"})
_STRING_TYPES = frozenset({FieldType.STRING, FieldType.STRINGARRAY})


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


@dataclass(frozen=True)
class Condition:
    """One condition with its value converted to the field's storage form."""

    field: FieldSpec
    operator: str
    value: Any

    def evaluate(self, store: DocumentStore) -> np.ndarray:
        """Return a mask over all rows, deleted ones included, True where the condition holds."""
        column = store.columns[self.field.name]
        if isinstance(column, NumericColumn):
            return np.asarray(_RANGE_OPERATORS[self.operator](column.values(), self.value))
        mask = np.zeros(store.row_count, dtype=np.bool_)
        mask[column.rows_with_any(self.value)] = True  # type: ignore[attr-defined]
        return ~mask if self.operator == "NOT IN" else mask


@dataclass(frozen=True)
class Filter:
    """Conditions joined by AND or OR."""

    operator: str
    conditions: tuple[Condition, ...]

    def evaluate(self, store: DocumentStore) -> np.ndarray:
        """Return a mask over all rows, True for live rows that match."""
        masks = [condition.evaluate(store) for condition in self.conditions]
        combine = np.logical_and if self.operator == "AND" else np.logical_or
        result = masks[0]
        for mask in masks[1:]:
            result = combine(result, mask)
        return result & store.live_mask()


def parse_filter(raw: object, schema: SpaceSchema) -> Filter | None:
    """Validate a Vearch filter; return None for no filter or an empty condition list.

    Raises FILTER_OPERATOR_TYPE_ERR (300) for a top-level operator other than
    AND or OR, FILTER_CONDITION_OPERATOR_TYPE_ERR (301) for an unknown
    condition operator, and PARAM_ERROR for other problems, among them a
    condition on a field without a scalar index ("not set index", as in Vearch).
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _param_error(f"filters must be an object with operator and conditions, got {raw!r}")
    top = raw.get("operator")
    if top not in ("AND", "OR"):
        raise VectorDBError(
            ErrorCode.FILTER_OPERATOR_TYPE_ERR,
            f"filter operator {top!r} is invalid; use 'AND' or 'OR'",
        )
    conditions = raw.get("conditions")
    if conditions is None:
        return None
    if not isinstance(conditions, list):
        raise _param_error(f"filter conditions must be a list, got {conditions!r}")
    if not conditions:
        return None
    return Filter(top, tuple(_parse_condition(entry, schema) for entry in conditions))


def _parse_condition(entry: object, schema: SpaceSchema) -> Condition:
    if not isinstance(entry, dict):
        raise _param_error(f"each filter condition must be an object, got {entry!r}")
    condition_operator = entry.get("operator")
    if condition_operator not in _RANGE_OPERATORS and condition_operator not in _TERM_OPERATORS:
        raise VectorDBError(
            ErrorCode.FILTER_CONDITION_OPERATOR_TYPE_ERR,
            f"condition operator {condition_operator!r} is invalid; use one of "
            f"{sorted(_RANGE_OPERATORS) + sorted(_TERM_OPERATORS)}",
        )
    name = entry.get("field")
    spec = schema.get_field(name) if isinstance(name, str) else None
    if spec is None:
        raise _param_error(f"filter field {name!r} is not a field of space {schema.name!r}")
    if spec.is_vector:
        raise _param_error(f"filter field {name!r} is a vector field; filter on scalar fields")
    if not schema.is_indexed(name):
        raise _param_error(
            f"field:[{name}] not set index; a filter needs a scalar index on the field. "
            f'Declare one, such as "index": {{"name": "{name}_index", "type": "INVERTED"}}, '
            "when creating the space, or add it with Engine.add_indexes "
            "(POST /dbs/:db/spaces/:space/indexes)"
        )
    if "value" not in entry:
        raise _param_error(f"filter condition on {name!r} has no 'value'")
    value = entry["value"]
    if condition_operator in _TERM_OPERATORS:
        return Condition(spec, condition_operator, _term_value(spec, condition_operator, value))
    return Condition(spec, condition_operator, _range_value(spec, condition_operator, value))


def _term_value(spec: FieldSpec, condition_operator: str, value: object) -> tuple[str, ...]:
    if spec.type not in _STRING_TYPES:
        raise _param_error(
            f"{condition_operator} works on string and stringArray fields, but {spec.name!r} "
            f"has type {spec.type_name}; use < <= > >= = != instead"
        )
    if not isinstance(value, list) or not all(isinstance(term, str) for term in value):
        raise _param_error(
            f"{condition_operator} on {spec.name!r} needs a list of strings, got {value!r}"
        )
    return tuple(value)


def _range_value(spec: FieldSpec, condition_operator: str, value: object) -> Any:
    if spec.type in _STRING_TYPES:
        raise _param_error(
            f"operator {condition_operator!r} works on numeric and date fields, but "
            f"{spec.name!r} has type {spec.type_name}; use IN or NOT IN"
        )
    if spec.type is FieldType.DATE:
        return _date_value(spec, value)
    if spec.type is FieldType.BOOL:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise _param_error(f"filter value for boolean field {spec.name!r} must be true or false")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _param_error(f"filter value for {spec.name!r} must be a number, got {value!r}")
    if spec.type is FieldType.FLOAT:
        # Compare in float32 so that "= 0.1" matches a stored float 0.1.
        return np.float32(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)  # beyond every integer column, and numpy 1.x cannot cast it
    return value


def _date_value(spec: FieldSpec, value: object) -> int:
    try:
        if isinstance(value, str | date):
            return date_to_nanos(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return seconds_to_nanos(value)
    except ValueError as error:
        raise _param_error(f"filter value for date field {spec.name!r}: {error}") from None
    raise _param_error(
        f"filter value for date field {spec.name!r} must be a date string or integer seconds, "
        f"got {value!r}"
    )
