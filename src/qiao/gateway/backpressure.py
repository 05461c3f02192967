"""A bounded queue in front of each backend: a few requests run, a few wait, the rest get 429.

llama.cpp decodes one request at a time, so a local model runs with one slot.
A request that finds every slot busy and ``queue_size`` requests already
waiting is rejected at once with HTTP 429 and a Retry-After header, instead of
piling up until every client times out. When the server shuts down, waiting
requests are rejected with HTTP 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from qiao.gateway.errors import APIError

__all__ = ["GenerationQueue"]

logger = logging.getLogger(__name__)

# Seconds between checks for a client that left while its request waits or generates.
DISCONNECT_POLL_S = 0.25


class GenerationQueue:
    """Admission control for one backend: ``slots`` running requests and ``queue_size`` waiting.

    Only the event loop's thread may call :meth:`acquire`; :meth:`release` may be
    called from any thread through :meth:`release_threadsafe`.
    """

    def __init__(self, name: str, slots: int, queue_size: int, retry_after_s: int) -> None:
        self.name = name
        self.slots = slots
        self.queue_size = queue_size
        self.retry_after_s = retry_after_s
        self.running = 0
        self.waiting = 0
        self.rejected = 0
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._condition: asyncio.Condition | None = None

    def _ensure_condition(self) -> asyncio.Condition:
        if self._condition is None:
            self._loop = asyncio.get_running_loop()
            self._condition = asyncio.Condition()
        return self._condition

    async def acquire(
        self, deadline: float, disconnected: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        """Take a slot, waiting until ``deadline`` (a time.monotonic value) at most.

        Raises APIError 429 when the queue is full, 503 when the server is
        shutting down and 504 when the deadline passes first. Raises
        ConnectionAbortedError when ``disconnected`` reports that the client left
        while waiting, so that a gone client does not keep its place in the queue.
        """
        condition = self._ensure_condition()
        if self.closing:
            raise shutting_down()
        if self.running >= self.slots and self.waiting >= self.queue_size:
            self.rejected += 1
            logger.warning(
                "queue of %s is full (%d running, %d waiting); rejected a request",
                self.name,
                self.running,
                self.waiting,
            )
            raise APIError(
                429,
                f"model {self.name} is busy: {self.running} requests running and {self.waiting} "
                f"waiting; retry after {self.retry_after_s} s",
                "rate_limit_error",
                code="queue_full",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.waiting += 1
        try:
            async with condition:
                while self.running >= self.slots and not self.closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise timed_out(f"waiting for model {self.name}")
                    # Waking up every DISCONNECT_POLL_S also recovers a notification
                    # that went to a waiter cancelled at the same moment.
                    try:
                        await asyncio.wait_for(condition.wait(), min(remaining, DISCONNECT_POLL_S))
                    except TimeoutError:
                        pass
                    if disconnected is not None and await disconnected():
                        logger.info("a client left while waiting for %s", self.name)
                        raise ConnectionAbortedError("the client disconnected")
                if self.closing:
                    raise shutting_down()
                self.running += 1
        finally:
            self.waiting -= 1

    async def release(self) -> None:
        condition = self._ensure_condition()
        async with condition:
            self.running -= 1
            condition.notify()

    def release_threadsafe(self) -> None:
        """Release a slot from a worker thread once its generation has really stopped."""
        assert self._loop is not None
        try:
            asyncio.run_coroutine_threadsafe(self.release(), self._loop)
        except RuntimeError:
            # The event loop has already stopped, so no request waits for the slot.
            logger.info("released a slot of %s after the event loop stopped", self.name)

    async def close(self) -> None:
        """Reject waiting and new requests with 503; running ones finish."""
        self.closing = True
        if self._condition is None:
            return
        async with self._condition:
            self._condition.notify_all()


def shutting_down() -> APIError:
    return APIError(
        503,
        "the server is shutting down; retry against a running instance",
        "api_error",
        code="shutting_down",
    )


def timed_out(step: str) -> APIError:
    return APIError(
        504,
        f"the request timed out while {step}; retry later or raise gateway.request_timeout_s",
        "timeout_error",
        code="timeout",
    )
