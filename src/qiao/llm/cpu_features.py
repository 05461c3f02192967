"""Work around llama.cpp's AMX matrix code, which crashes on some AMX CPUs.

llama-cpp-python 0.3.36, built natively on a CPU with AMX (Intel Sapphire
Rapids and later), places weights in an AMX buffer and crashes with a
general-protection fault in ``ggml_backend_amx_mul_mat`` on the first
prompt longer than one token (seen on a 2-core Xeon VM). Loading the model
without "extra buffer types" keeps weights in plain CPU buffers and avoids
that code.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["cpu_has_amx", "without_extra_buffers"]

logger = logging.getLogger(__name__)

_patch_lock = threading.Lock()


def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Return whether the CPU reports the ``amx_tile`` flag (Linux only; False elsewhere)."""
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return any(
        line.startswith("flags") and "amx_tile" in line.split() for line in text.splitlines()
    )


@contextlib.contextmanager
def without_extra_buffers(low_level: Any) -> Iterator[None]:
    """Make ``llama_cpp.Llama`` created inside the block load without extra buffer types.

    ``Llama.__init__`` takes its model parameters from
    ``llama_model_default_params``, and offers no argument for
    ``use_extra_bufts``, so the default is wrapped for the duration of the block.
    """
    with _patch_lock:
        original = low_level.llama_model_default_params

        def default_params() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        low_level.llama_model_default_params = default_params
        try:
            yield
        finally:
            low_level.llama_model_default_params = original
