"""OpenAI's chat completion objects: whole responses, stream chunks and server-sent events."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from qiao.i18n import translate
from qiao.knowledge.citations import Citation

__all__ = [
    "completion_body",
    "chunk_body",
    "completion_id",
    "footnotes",
    "sse",
    "SSE_DONE",
    "usage_body",
]

SSE_DONE = b"data: [DONE]\n\n"


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(
    response_id: str,
    model: str,
    content: str,
    finish_reason: str,
    usage: dict[str, int],
    citations: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if citations is not None:
        message["citations"] = citations
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage,
    }


def chunk_body(
    response_id: str,
    model: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Return one stream chunk; ``delta`` None gives the usage-only chunk with no choices."""
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    )
    body: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def footnotes(citations: list[Citation]) -> str:
    """Return the sources as text appended to an answer: a heading and one ``[n]`` line each."""
    if not citations:
        return ""
    lines = ["", "", translate("sources")]
    for citation in citations:
        heading = f" · {citation.heading}" if citation.heading else ""
        lines.append(f"[{citation.index}] {_file_name(citation.source)}{heading}")
    return "\n".join(lines)


def _file_name(source: str) -> str:
    """Return the file name plus any record suffix, e.g. ``faq.jsonl#line=3``."""
    path, _, suffix = source.partition("#")
    name = Path(path).name
    return f"{name}#{suffix}" if suffix else name
