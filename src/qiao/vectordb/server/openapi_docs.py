"""Response descriptions shared by every route of the OpenAPI document."""

from __future__ import annotations

from typing import Any

__all__ = ["ENVELOPE_RESPONSES", "ENVELOPE_SCHEMA"]

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": {"type": "integer", "description": "0 on success, else a Vearch error code."},
        "request_id": {"type": "string", "description": "The X-Request-Id header, if sent."},
        "msg": {"type": "string", "description": "Error name and detail; absent on success."},
        "data": {"description": "The result; absent when there is none."},
    },
}

_ENVELOPE_CONTENT = {"application/json": {"schema": ENVELOPE_SCHEMA}}

ENVELOPE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Success: code 0.", "content": _ENVELOPE_CONTENT},
    400: {
        "description": "Invalid request: bad JSON, parameters or filter.",
        "content": _ENVELOPE_CONTENT,
    },
    401: {"description": "Authentication failed: code 3.", "content": _ENVELOPE_CONTENT},
    404: {
        "description": "Database, space, alias, user or role not found.",
        "content": _ENVELOPE_CONTENT,
    },
    422: {
        "description": "Already exists, or the request could not be executed.",
        "content": _ENVELOPE_CONTENT,
    },
    500: {
        "description": "Vearch answers some request errors with 500, e.g. code 6 for an unknown "
        "database or space on a document call.",
        "content": _ENVELOPE_CONTENT,
    },
    504: {"description": "Timed out: code 5.", "content": _ENVELOPE_CONTENT},
}
