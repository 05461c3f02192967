"""Waiting for a space's vector indexes: ``wait_for_progress(space, (status, rows))``."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["wait_for_progress"]


def wait_for_progress(space: Any, expected: tuple[int, int], timeout: float = 20.0) -> None:
    """Poll ``space.index_progress()`` (embedded or remote) until it equals ``expected``."""
    deadline = time.monotonic() + timeout
    while (progress := space.index_progress()) != expected:
        assert time.monotonic() < deadline, f"{space!r}: index_progress {progress}"
        time.sleep(0.02)
