"""Reading request bodies the way Vearch's JSON binding does.

Vearch binds bodies into Go structs with ``ShouldBindJSON``. Malformed JSON
and values of the wrong type fail there with HTTP 400 and ``code: 1``;
unknown keys are ignored and ``null`` counts as absent. Python's ``json``
also reads ``NaN`` and ``Infinity``, which JSON forbids, so they are
rejected here too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request

from qiao.vectordb.errors import ErrorCode
from qiao.vectordb.server.envelope import ApiError

__all__ = ["BodyField", "bind_body", "body_schema", "read_json"]

# Largest request body read, as a guard against memory exhaustion.
MAX_BODY_BYTES = 256 * 1024 * 1024

# Longer integers are far outside every field's range, and int() rejects over 4300 digits.
_MAX_INT_DIGITS = 4000

_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
}


def _binding_error(detail: str) -> ApiError:
    return ApiError(400, int(ErrorCode.INTERNAL_ERROR), f"invalid request body: {detail}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; send finite numbers")


def _finite_float(text: str) -> float:
    # Python reads 1e309 as inf; Go's decoder rejects a number out of float64 range.
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of the float64 range; send finite numbers")
    return value


def _bounded_int(text: str) -> int:
    # int() rejects over 4300 digits with a message about Python's internals, so check first.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"a number has {len(text)} digits; send numbers in the 64-bit range")
    return int(text)


def _lone_surrogate(value: Any) -> str | None:
    """Return the first string in ``value`` with a lone UTF-16 surrogate, else None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


# Digits map to "0", the decimal point stays, every other byte becomes a space.
_DIGIT_SHAPE = bytes(
    ord("0") if ord("0") <= byte <= ord("9") else byte if byte == ord(".") else ord(" ")
    for byte in range(256)
)
_LONG_DIGIT_RUN = 19


def _may_hold_long_integer(raw: bytes) -> bool:
    """Return True when ``raw`` has 19 digits in a row outside a fraction.

    orjson (about ten times faster than ``json``) reads an integer beyond 64
    bits as a float, where ``json`` keeps it an integer; such bodies go to ``json``.
    """
    shape = raw.translate(_DIGIT_SHAPE)
    run = b"0" * _LONG_DIGIT_RUN
    return shape.startswith(run) or b" " + run in shape


async def read_json(request: Request, *, required: bool = True) -> Any:
    """Return the parsed JSON body; an empty body is None unless ``required``."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise _binding_error(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        if required:
            raise _binding_error("the body is empty; send a JSON object")
        return None
    if not _may_hold_long_integer(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            # orjson also rejects some input Python reads (a byte order mark, UTF-16, lone
            # surrogates, 1e400); the standard parser decides and words the error.
            pass
    try:
        body = json.loads(
            raw,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except UnicodeDecodeError as error:
        raise _binding_error(f"the body is not UTF-8: {error}") from None
    except ValueError as error:
        raise _binding_error(f"malformed JSON: {error}") from None
    except RecursionError:
        raise _binding_error("the JSON is nested too deeply") from None

    # An escape such as "\ud800" decodes to a string that no file or index can store.
    if b"\\u" in raw:
        bad = _lone_surrogate(body)
        if bad is not None:
            raise _binding_error(
                f"the string {ascii(bad)[:80]} has a lone UTF-16 surrogate escape; "
                "send valid Unicode text"
            )
    return body


@dataclass(frozen=True)
class BodyField:
    """One field of a request body: its JSON kind and a description for the OpenAPI document.

    ``kind`` is one of ``string``, ``boolean``, ``int32``, ``int64``,
    ``uint32``, ``number``, ``object``, ``array`` (of anything),
    ``string_array`` or ``any``.
    """

    name: str
    kind: str
    description: str = ""


def _kind_error(field: BodyField, value: Any) -> ApiError:
    return _binding_error(
        f"field {field.name!r} must be {_KIND_WORDS[field.kind]}, got {json.dumps(value)[:80]}"
    )


_KIND_WORDS = {
    "string": "a string",
    "boolean": "true or false",
    "int32": "a 32-bit integer",
    "int64": "a 64-bit integer",
    "uint32": "a non-negative 32-bit integer",
    "number": "a number",
    "object": "a JSON object",
    "array": "a JSON array",
    "string_array": "an array of strings",
    "any": "a JSON value",
}


def _check_kind(field: BodyField, value: Any) -> None:
    kind = field.kind
    if kind == "any":
        return
    if kind == "string":
        ok = isinstance(value, str)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "object":
        ok = isinstance(value, dict)
    elif kind == "array":
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    if not ok:
        raise _kind_error(field, value)


def bind_body(body: Any, fields: tuple[BodyField, ...]) -> dict[str, Any]:
    """Return the known fields of a JSON object body, type-checked; nulls and unknown keys drop."""
    if not isinstance(body, dict):
        raise _binding_error(f"the body must be a JSON object, got {type(body).__name__}")
    bound: dict[str, Any] = {}
    for field in fields:
        value = body.get(field.name)
        if value is None:
            continue
        _check_kind(field, value)
        bound[field.name] = value
    return bound


_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "uint32": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
    "number": {"type": "number"},
    "object": {"type": "object"},
    "array": {"type": "array"},
    "string_array": {"type": "array", "items": {"type": "string"}},
    "any": {},
}


def body_schema(fields: tuple[BodyField, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the JSON schema of a body made of ``fields``, for the OpenAPI document."""
    properties = {}
    for field in fields:
        schema = dict(_KIND_SCHEMAS[field.kind])
        if field.description:
            schema["description"] = field.description
        properties[field.name] = schema
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def request_body(fields: tuple[BodyField, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return ``openapi_extra`` that documents a JSON request body made of ``fields``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body_schema(fields, required)}},
        }
    }
