"""Validation of vector index parameters with Vearch's ranges and messages naming the value."""

from __future__ import annotations

from typing import Any

from qiao.vectordb.errors import ErrorCode, VectorDBError

__all__ = ["int_param", "nested_params", "param_error"]


def param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


def int_param(
    params: dict[str, Any],
    key: str,
    default: int | None,
    *,
    owner: str,
    low: int = 1,
    high: int | None = None,
) -> int | None:
    """Return ``params[key]`` (or ``default``) after checking it is an integer in [low, high]."""
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise param_error(f"{owner} {key} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise param_error(f"{owner} {key} {value} is out of range; use a value in {bounds}")
    return value


def nested_params(params: dict[str, Any], key: str, owner: str) -> dict[str, Any] | None:
    """Return the object ``params[key]``, None when absent, or raise PARAM_ERROR."""
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise param_error(f"{owner} {key} must be a JSON object, got {value!r}")
    return value
