"""Run a blocking generator in its own thread and hand its items to the event loop.

The thread is the only one that touches the generator: it calls ``next`` and,
when the request ends early (client disconnect, timeout, stop sequence), it
closes the generator, which releases llama.cpp's lock or the HTTP stream to a
remote backend. The queue slot is released only after that, so a new request
never starts while the old generation still occupies the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from qiao.gateway.backpressure import DISCONNECT_POLL_S, timed_out
from qiao.llm import ChatMessage, Completion, Generator

__all__ = ["CancellableGenerator", "GenerationCancelled", "ThreadedStream"]

logger = logging.getLogger(__name__)

_END = object()


class ThreadedStream:
    """Items of a blocking iterator, produced in a worker thread and awaited one at a time.

    ``produce`` receives the stop event, so that an iterator whose items are far
    apart (an answer released sentence by sentence) can stop between tokens.
    """

    def __init__(
        self,
        produce: Callable[[threading.Event], Iterator[Any]],
        on_finished: Callable[[], None],
        name: str = "generation",
    ) -> None:
        self._produce = produce
        self._on_finished = on_finished
        self._stop = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[Any] = asyncio.Queue()
        self._checked = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"qiao-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        iterator: Iterator[Any] | None = None
        try:
            iterator = self._produce(self._stop)
            for item in iterator:
                if self._stop.is_set():
                    break
                self._deliver(item)
            else:
                self._deliver(_END)
        except GenerationCancelled:
            logger.info("generation cancelled")
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting request
            self._deliver(error)
        finally:
            if iterator is not None and hasattr(iterator, "close"):
                try:
                    iterator.close()
                except Exception:
                    logger.exception("closing a generation failed")
            self._on_finished()

    def _deliver(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)
        except RuntimeError:
            # The event loop has stopped, so no request reads the items any more.
            self._stop.set()

    def stop(self) -> None:
        """Ask the thread to close the generator after the item it is producing now."""
        self._stop.set()

    async def next(
        self, deadline: float, disconnected: Callable[[], Awaitable[bool]] | None = None
    ) -> Any:
        """Return the next item, or raise StopAsyncIteration at the end.

        Raises APIError 504 when ``deadline`` (time.monotonic) passes, and
        ConnectionAbortedError when ``disconnected`` reports that the client left;
        in both cases the generation is stopped.
        """
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise timed_out("generating the answer")
            try:
                item = await asyncio.wait_for(self._items.get(), min(remaining, DISCONNECT_POLL_S))
            except TimeoutError:
                item = None
            await self._check_client(disconnected)
            if item is None:
                continue
            if item is _END:
                raise StopAsyncIteration
            if isinstance(item, BaseException):
                raise item
            return item

    async def _check_client(self, disconnected: Callable[[], Awaitable[bool]] | None) -> None:
        """Stop the generation if the client left; checked at most every DISCONNECT_POLL_S."""
        now = time.monotonic()
        if disconnected is None or now - self._checked < DISCONNECT_POLL_S:
            return
        self._checked = now
        if await disconnected():
            self.stop()
            raise ConnectionAbortedError("the client disconnected")


class GenerationCancelled(Exception):
    """Raised inside a worker thread when its request no longer wants the generation."""


class CancellableGenerator(Generator):
    """A generator whose streams end, between two tokens, once ``stop`` is set."""

    def __init__(self, inner: Generator, stop: threading.Event) -> None:
        self.inner = inner
        self.stop = stop
        self.name = inner.name

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        if self.stop.is_set():
            raise GenerationCancelled
        return self.inner.generate(
            messages, max_tokens=max_tokens, temperature=temperature, stop=stop
        )

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        deltas = self.inner.stream(
            messages, max_tokens=max_tokens, temperature=temperature, stop=stop
        )
        # Closing the inner stream releases llama.cpp's lock or the HTTP connection.
        with contextlib.closing(deltas):
            for delta in deltas:
                if self.stop.is_set():
                    raise GenerationCancelled
                yield delta

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
