"""Read and parse JSON request bodies with a size limit and clear 400 and 413 errors."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import Request

from qiao.gateway.errors import APIError, invalid

__all__ = ["parse_json_body", "read_json_body"]

logger = logging.getLogger(__name__)

# A JSON escape of a UTF-16 surrogate; only these can decode to text that is not valid Unicode.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


async def read_json_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """Return the JSON object of the request body, or raise APIError 400 or 413.

    The body is read piece by piece, so a client that sends more than
    ``max_bytes`` is rejected before the server holds all of it in memory.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(int(declared), max_bytes)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(size, max_bytes)
        chunks.append(chunk)
    return parse_json_body(b"".join(chunks))


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """Return the JSON object in ``raw`` or raise a 400 that names what is wrong with it."""
    if not raw.strip():
        raise invalid("the request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as error:
        raise invalid(f"the request body is not UTF-8: {error}") from error
    except json.JSONDecodeError as error:
        raise invalid(
            f"the request body is not valid JSON: {error.msg} at line {error.lineno} column "
            f"{error.colno}"
        ) from error
    except RecursionError as error:
        raise invalid("the request body nests arrays or objects too deeply") from error
    if not isinstance(data, dict):
        raise invalid(f"the request body must be a JSON object, not {type(data).__name__}")

    # json.loads accepts escapes of unpaired surrogates such as "\ud800", which no
    # UTF-8 encoder, tokenizer or embedder can take.
    if SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise invalid(
                "the request body contains an unpaired UTF-16 surrogate escape "
                f"({error.object[error.start : error.end]!r}); send valid Unicode text"
            ) from error
    return data


def too_large(size: int, max_bytes: int) -> APIError:
    logger.warning("rejected a request body of %d bytes; the maximum is %d", size, max_bytes)
    return APIError(
        413,
        f"the request body has {size} bytes or more; the maximum is {max_bytes} "
        "(setting gateway.max_body_bytes); send a smaller request",
        code="request_too_large",
    )
