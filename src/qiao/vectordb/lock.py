"""Exclusive write lock of an engine folder, held with flock on a LOCK file.

flock locks belong to an open file description, so a second writer is
rejected whether it is another process or another Engine in this process.
The kernel releases the lock when the holder exits, even after SIGKILL.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from qiao.errors import LockedError

__all__ = ["LOCK_NAME", "EngineLock"]

logger = logging.getLogger(__name__)

LOCK_NAME = "LOCK"


class EngineLock:
    """The write lock of one engine folder; the file holds the owner's process id."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder()
            os.close(self._fd)
            owner = f"process {holder}" if holder else "another process"
            raise LockedError(
                f"vector database {folder} is locked by {owner}; close the other writer, "
                "or open the engine with read_only=True",
                key="vectordb.locked",
                path=str(folder),
                pid=holder,
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(self._fd)
        logger.debug("locked %s", self.path)

    def _read_holder(self) -> int | None:
        try:
            text = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        """Release the lock; the LOCK file stays for the next writer."""
        if self._fd < 0:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1
