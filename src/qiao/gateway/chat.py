"""``POST /v1/chat/completions``: whole responses and server-sent event streams."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from qiao.errors import QiaoError
from qiao.gateway.access import authenticate, check_model_access
from qiao.gateway.bodies import read_json_body
from qiao.gateway.chat_run import ChatRun
from qiao.gateway.errors import APIError, from_qiao_error
from qiao.gateway.requests import ChatRequest, parse_chat_request
from qiao.gateway.responses import (
    SSE_DONE,
    chunk_body,
    completion_body,
    completion_id,
    sse,
    usage_body,
)
from qiao.gateway.state import GatewayState

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()

# HTTP status recorded in the audit log for a client that left before the answer ended.
CLIENT_CLOSED = 499


class ClosingStreamingResponse(StreamingResponse):
    """A streaming response that always stops its generation when the response ends.

    Starlette cancels the body when the client disconnects, but when sending fails
    it leaves the async generator to the garbage collector, and a body cancelled
    before its first item never runs its ``finally`` block.
    """

    def __init__(self, run: ChatRun, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run = run

    async def stream_response(self, send: Any) -> None:
        try:
            await super().stream_response(send)
        finally:
            self.run.close()
            await self.body_iterator.aclose()  # type: ignore[union-attr]


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    began = time.monotonic()
    key = authenticate(request, state.keys, state.auth)
    body = await read_json_body(request, state.settings.gateway.max_body_bytes)
    chat = parse_chat_request(body, state.settings.gateway.max_input_chars)
    no_cache = "no-cache" in request.headers.get("cache-control", "").lower()
    # Sampled answers and answers cut at stop sequences are neither served from nor
    # stored in the cache, which holds complete greedy answers.
    sampled = chat.temperature is not None and chat.temperature > 0
    run = ChatRun(
        state.catalog,
        chat,
        deadline=began + state.settings.gateway.request_timeout_s,
        use_cache=chat.cache and not no_cache and not sampled and not chat.stop,
        background=state.run_in_background,
    )
    audit = AuditContext(state, key.id if key else None, chat, began)
    try:
        check_model_access(key, chat.model)
    except APIError as error:
        audit.write(run, error.status)
        raise
    try:
        await run.start(request.is_disconnected)
    except ConnectionAbortedError:
        logger.info("client left while its request to %s waited in the queue", chat.model)
        audit.write(run, CLIENT_CLOSED)
        return Response(status_code=CLIENT_CLOSED)
    except (APIError, QiaoError) as failure:
        error = failure if isinstance(failure, APIError) else from_qiao_error(failure)
        audit.write(run, error.status)
        raise error from failure
    headers = cache_headers(run)
    if chat.stream:
        return ClosingStreamingResponse(
            run,
            stream_events(run, chat, audit),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    try:
        async for _ in run.pieces(request.is_disconnected):
            pass
    except ConnectionAbortedError:
        logger.info("client left before the answer of %s ended; generation stopped", chat.model)
        audit.write(run, CLIENT_CLOSED)
        return Response(status_code=CLIENT_CLOSED)
    except (APIError, QiaoError) as failure:
        error = failure if isinstance(failure, APIError) else from_qiao_error(failure)
        audit.write(run, error.status)
        raise error from failure
    usage = usage_body(run.prompt_tokens(), run.completion_tokens())
    body = completion_body(
        completion_id(), chat.model, run.whole_content(), run.finish_reason, usage, run.citations
    )
    audit.write(run, 200)
    return JSONResponse(body, headers=headers)


async def stream_events(
    run: ChatRun, chat: ChatRequest, audit: AuditContext
) -> AsyncIterator[bytes]:
    """Yield the SSE events of a streamed completion, ending with ``data: [DONE]``."""
    response_id = completion_id()
    status = CLIENT_CLOSED
    try:
        yield sse(chunk_body(response_id, chat.model, {"role": "assistant", "content": ""}))
        async for piece in run.pieces():
            yield sse(chunk_body(response_id, chat.model, {"content": piece}))
        final: dict[str, Any] = {}
        if run.citations is not None:
            final["citations"] = run.citations
        yield sse(chunk_body(response_id, chat.model, final, run.finish_reason))
        if chat.include_usage:
            usage = usage_body(run.prompt_tokens(), run.completion_tokens())
            yield sse(chunk_body(response_id, chat.model, None, usage=usage))
        status = 200
    except (APIError, QiaoError) as failure:
        # The status line is already sent: report the error as an event, as OpenAI does.
        error = failure if isinstance(failure, APIError) else from_qiao_error(failure)
        logger.warning("streamed completion of %s failed: %s", chat.model, error.message)
        status = error.status
        yield sse(error.to_json())
    finally:
        run.close()
        audit.write(run, status)
    yield SSE_DONE


def cache_headers(run: ChatRun) -> dict[str, str]:
    if run.cache_status == "hit":
        return {"X-Qiao-Cache": f"hit; similarity={run.similarity:.3f}"}
    if run.cache_status in ("shared", "miss", "bypass"):
        return {"X-Qiao-Cache": run.cache_status}
    return {}


class AuditContext:
    """Writes the audit record of one request once it ends."""

    def __init__(
        self, state: GatewayState, key_id: str | None, chat: ChatRequest, began: float
    ) -> None:
        self.state = state
        self.key_id = key_id
        self.chat = chat
        self.began = began
        self.written = False

    def write(self, run: ChatRun, status: int) -> None:
        if self.written or self.state.audit is None:
            return
        self.written = True
        question = next((m.content for m in reversed(self.chat.messages) if m.role == "user"), "")
        extra = {}
        if run.prepared is not None:
            # How a follow-up question was turned into the retrieval query.
            extra["rewrite"] = run.prepared.rewrite_method
        self.state.audit.record(
            key_id=self.key_id,
            model=self.chat.model,
            question=question,
            status=status,
            latency_ms=(time.monotonic() - self.began) * 1000,
            cache=run.cache_status,
            stream=self.chat.stream,
            **extra,
        )
