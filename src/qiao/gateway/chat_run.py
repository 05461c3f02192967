"""One chat completion from admission to the last token, independent of the response format.

:class:`ChatRun` takes a queue slot for the backend, runs generation in a
worker thread and yields text pieces. After the pieces it holds the finish
reason, token counts, citations and cache status that the response needs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from qiao.gateway.backpressure import timed_out
from qiao.gateway.errors import APIError
from qiao.gateway.in_flight import SharedAnswer
from qiao.gateway.knowledge import PreparedQuestion, require_user_last
from qiao.gateway.models import KB_PREFIX, GeneratorModel, ModelCatalog
from qiao.gateway.requests import ChatRequest
from qiao.gateway.responses import footnotes
from qiao.gateway.stops import StopFilter
from qiao.gateway.worker import CancellableGenerator, ThreadedStream
from qiao.knowledge.answer import Answer
from qiao.knowledge.retriever import check_query
from qiao.llm import estimate_tokens

__all__ = ["ChatRun"]

logger = logging.getLogger(__name__)

# Tokens added per message by chat templates (role markers); used in prompt token counts.
TEMPLATE_TOKENS_PER_MESSAGE = 4


class ChatRun:
    """A chat completion in progress. Call :meth:`start`, then iterate :meth:`pieces`."""

    def __init__(
        self,
        catalog: ModelCatalog,
        chat: ChatRequest,
        deadline: float,
        use_cache: bool,
        background: Callable[[Callable[[], None]], None],
    ) -> None:
        self.catalog = catalog
        self.chat = chat
        self.deadline = deadline
        self.use_cache = use_cache
        self._background = background
        self.is_kb = chat.model.startswith(KB_PREFIX)
        self.content = ""
        self.finish_reason = "stop"
        self.citations: list[dict[str, Any]] | None = [] if self.is_kb else None
        # "hit", "shared" (the answer of the same question in flight), "miss", "bypass"
        # or "off"; "off" also for models without a cache.
        self.cache_status = "off"
        self.similarity: float | None = None
        self.prepared: PreparedQuestion | None = None
        self.answer: Answer | None = None
        self._stream: ThreadedStream | None = None
        # The model whose tokenizer counts usage; None for extractive answers.
        self._model: GeneratorModel | None = None
        # (key, future) while this request leads an in-flight question.
        self._flight: tuple[str, asyncio.Future[SharedAnswer | None]] | None = None
        # Text produced so far, before stop sequences cut it.
        self._produced = ""
        # True when the final Answer replaced text that was already streamed.
        self._replaced = False

    async def start(self, disconnected: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Resolve the model, look up the cache and take a queue slot; raises APIError.

        Raises ConnectionAbortedError when ``disconnected`` reports that the client
        left while the request waited for a slot.
        """
        chat = self.chat
        if not self.is_kb:
            model = self.catalog.resolve_generator(chat.model)
            self._model = model
            self._check_context(model.kind)
            await model.queue.acquire(self.deadline, disconnected)
            self._stream = ThreadedStream(
                lambda stop: model.generator().stream(
                    chat.messages,
                    max_tokens=chat.max_tokens or self.catalog.settings.generator.max_tokens,
                    temperature=0.0 if chat.temperature is None else chat.temperature,
                    stop=chat.stop or None,
                ),
                model.queue.release_threadsafe,
                name=model.id,
            )
            return

        name = chat.model[len(KB_PREFIX) :]
        knowledge = self.catalog.knowledge
        if not knowledge.exists(name):
            raise self.catalog.not_found(chat.model)
        require_user_last(chat.messages, chat.model)
        check_query(chat.messages[-1].content)
        if knowledge.cache_enabled:
            self.cache_status = "miss" if self.use_cache else "bypass"
        remaining = self.deadline - time.monotonic()
        try:
            self.prepared = await asyncio.wait_for(
                asyncio.to_thread(
                    knowledge.prepare, name, chat.model, chat.messages, self.use_cache
                ),
                remaining,
            )
        except TimeoutError:
            raise timed_out("retrieving from the knowledge base") from None
        hit = self.prepared.cache_hit
        if (
            hit is not None
            and chat.max_tokens is not None
            and hit.completion_tokens > chat.max_tokens
        ):
            # The cached answer is longer than this request allows: generate a shorter one.
            hit = self.prepared.cache_hit = None
        if hit is not None:
            self.cache_status = "hit"
            self.similarity = float(hit.similarity)
            return

        if self.prepared.cache_key is not None and await self._share_in_flight():
            return

        answering = self.catalog.answering
        queue = self.catalog.queue_for_kb()
        try:
            await queue.acquire(self.deadline, disconnected)
        except BaseException:
            self._finish_flight(None)
            raise
        self._model = answering
        prepared = self.prepared
        self._stream = ThreadedStream(
            lambda stop: knowledge.answer(
                prepared,
                CancellableGenerator(answering.generator(), stop) if answering else None,
                chat.max_tokens,
                chat.temperature,
            ),
            queue.release_threadsafe,
            name=chat.model,
        )

    async def _share_in_flight(self) -> bool:
        """Wait for the same question generating for another request; return whether it answered.

        Without a leader, this request becomes the leader and returns False.
        """
        assert self.prepared is not None
        flights = self.catalog.knowledge.in_flight
        key = flights.key(self.prepared.cache_key, self.prepared.query)
        while True:
            leader = flights.leader(key)
            if leader is None:
                self._flight = (key, flights.lead(key))
                return False
            remaining = max(0.0, self.deadline - time.monotonic())
            try:
                answer = await asyncio.wait_for(asyncio.shield(leader), remaining)
            except TimeoutError:
                raise timed_out("waiting for the same question asked by another request") from None
            if answer is None:
                # The leader failed or its client left: try again, possibly as the leader.
                continue
            if self.chat.max_tokens is not None and answer.completion_tokens > self.chat.max_tokens:
                return False
            self.prepared.cache_hit = answer
            self.cache_status = "shared"
            self.similarity = answer.similarity
            return True

    def _finish_flight(self, answer: SharedAnswer | None) -> None:
        if self._flight is not None:
            key, future = self._flight
            self.catalog.knowledge.in_flight.finish(key, future, answer)
            self._flight = None

    async def pieces(
        self, disconnected: Callable[[], Awaitable[bool]] | None = None
    ) -> AsyncIterator[str]:
        """Yield the answer text; the generation stops if the caller stops iterating."""
        if self.prepared is not None and self.prepared.cache_hit is not None:
            response = self.prepared.cache_hit.response
            self.citations = list(response.get("citations") or [])
            self.content = str(response.get("content") or "")
            yield self.content
            return
        assert self._stream is not None
        stops = StopFilter(self.chat.stop if self.is_kb else [])
        try:
            while True:
                try:
                    item = await self._stream.next(self.deadline, disconnected)
                except StopAsyncIteration:
                    break
                text = self._finish_answer(item) if isinstance(item, Answer) else item
                self._produced += text
                emitted = stops.feed(text)
                if emitted:
                    self.content += emitted
                    yield emitted
                if stops.stopped:
                    self._stream.stop()
                    break
            tail = stops.flush()
            if tail:
                self.content += tail
                yield tail
            self._after_generation()
        finally:
            self._stream.stop()
            # Followers fall back to generating unless _after_generation shared the answer.
            self._finish_flight(None)

    def _finish_answer(self, answer: Answer) -> str:
        """Return the text still to send for the final Answer: replacement text and footnotes."""
        self.answer = answer
        self.citations = [citation.to_json() for citation in answer.citations]
        text = ""
        # The answerer replaces a generated answer that the passages do not support
        # by an extractive one, possibly after part of it was sent. The replacement
        # then follows the sent text, as `qiao ask --stream` prints it.
        sent = self._produced.strip()
        if not answer.answer.startswith(sent):
            self._replaced = True
            text = "\n\n" + answer.answer
        elif len(answer.answer) > len(sent):
            text = answer.answer[len(sent) :]
        return text + footnotes(answer.citations)

    def _after_generation(self) -> None:
        if not self.is_kb:
            max_tokens = self.chat.max_tokens or self.catalog.settings.generator.max_tokens
            if self.completion_tokens() >= max_tokens:
                self.finish_reason = "length"
            return
        # NOTE: a kb: answer reports finish_reason "stop" even when the answerer's
        # generation reached max_tokens, because the Answer does not record it.
        prepared = self.prepared
        # An answer cut short by this request's max_tokens is not stored for others.
        max_tokens = self.chat.max_tokens
        full_length = max_tokens is None or max_tokens >= self.catalog.settings.generator.max_tokens
        if (
            prepared is not None
            and prepared.cache_key is not None
            and self.answer is not None
            and full_length
        ):
            response = {"content": self.whole_content(), "citations": self.citations}
            tokens = self.completion_tokens()
            knowledge = self.catalog.knowledge
            self._background(lambda: knowledge.store(prepared, response, tokens))
            self._finish_flight(SharedAnswer(response, tokens))

    def whole_content(self) -> str:
        """Return the content of a whole response, without streamed text that was replaced."""
        if self.answer is None or not self._replaced:
            return self.content
        stops = StopFilter(self.chat.stop)
        text = self.answer.answer + footnotes(self.answer.citations)
        return stops.feed(text) + stops.flush()

    def _check_context(self, kind: str) -> None:
        """Reject a prompt that cannot fit the local model's context window."""
        context_size = self.catalog.settings.generator.context_size
        if kind != "llama":
            return
        prompt_tokens = self.prompt_tokens()
        if prompt_tokens >= context_size:
            raise APIError(
                400,
                f"the messages take about {prompt_tokens} tokens; model {self.chat.model} reads "
                f"at most {context_size} (setting generator.context_size); send a shorter "
                "conversation",
                param="messages",
                code="context_length_exceeded",
            )

    def count(self, text: str) -> int:
        generator = self._model.loaded if self._model is not None else None
        return generator.count_tokens(text) if generator is not None else estimate_tokens(text)

    def prompt_tokens(self) -> int:
        # NOTE: the chat template's own tokens are estimated, not counted.
        return sum(
            self.count(message.content) + TEMPLATE_TOKENS_PER_MESSAGE
            for message in self.chat.messages
        )

    def completion_tokens(self) -> int:
        return self.count(self.content)

    def close(self) -> None:
        """Stop a generation that was started but never iterated."""
        if self._stream is not None:
            self._stream.stop()
        self._finish_flight(None)
