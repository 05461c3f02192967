"""Response descriptions shared by every route of the OpenAPI document."""

from __future__ import annotations

from typing import Any

__all__ = ["ENVELOPE_RESPONSES", "ENVELOPE_SCHEMA", "add_query_parameters"]

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


_TIMEOUT = {
    "name": "timeout",
    "in": "query",
    "required": False,
    "description": "Request timeout in milliseconds (default 10000); past it the answer is 504.",
    "schema": {"type": "integer"},
}
_TRACE = {
    "name": "trace",
    "in": "query",
    "required": False,
    "description": "Log the timing of this request when true.",
    "schema": {"type": "string", "enum": ["true", "false"]},
}
_DETAIL = {
    "name": "detail",
    "in": "query",
    "required": False,
    "description": "Return more detail when true.",
    "schema": {"type": "string", "enum": ["true", "false"]},
}
_DETAIL_PATHS = frozenset(
    {
        "/dbs/{db}/spaces",
        "/dbs/{db}/spaces/{space}",
        "/dbs/{db}/spaces/{space}/indexes",
        "/cluster/health",
    }
)


def add_query_parameters(document: dict[str, Any]) -> dict[str, Any]:
    """Add the query parameters that routes read directly to an OpenAPI ``document``."""
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            parameters = operation.setdefault("parameters", [])
            parameters.extend([_TIMEOUT, _TRACE])
            if path in _DETAIL_PATHS:
                parameters.append(_DETAIL)
            if path == "/cluster/health":
                for name in ("db", "space"):
                    parameters.append(
                        {
                            "name": name,
                            "in": "query",
                            "required": False,
                            "description": f"Only this {name}.",
                            "schema": {"type": "string"},
                        }
                    )
    return document
