"""Write-ahead log: length-prefixed, CRC32-checked records appended and fsynced.

Record layout: ``<u32 payload length><u32 crc32 of payload><payload>``, little
endian. ``append`` returns only after the record is on disk, so a crash can
leave only the last record incomplete (a torn tail). Reading stops at a torn
tail and, unless read-only, truncates the file to the last complete record.
A bad record followed by more data is corruption and raises StorageError.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from qiao.errors import StorageError

__all__ = ["WalContents", "WriteAheadLog", "read_wal"]

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
# A length beyond this is garbage from a torn or corrupted header.
_MAX_RECORD_BYTES = 1 << 30


@dataclass
class WalContents:
    """Complete records of a log file and where the valid part ends."""

    records: list[bytes]
    valid_bytes: int
    torn_bytes: int


def read_wal(path: Path, *, repair: bool) -> WalContents:
    """Read every complete record of ``path``; with ``repair``, truncate a torn tail."""
    data = path.read_bytes() if path.exists() else b""
    records: list[bytes] = []
    offset = 0
    while offset < len(data):
        payload = _read_record(data, offset)
        if payload is None:
            break
        records.append(payload)
        offset += _HEADER.size + len(payload)
    torn = len(data) - offset
    if torn:
        _check_torn_tail(path, data, offset)
        logger.warning(
            "write-ahead log %s ends with a torn record of %d bytes after %d records%s",
            path,
            torn,
            len(records),
            "; truncating it" if repair else "",
        )
        if repair:
            with open(path, "r+b") as handle:
                handle.truncate(offset)
                handle.flush()
                os.fsync(handle.fileno())
    return WalContents(records, offset, torn)


def _read_record(data: bytes, offset: int) -> bytes | None:
    """Return the payload at ``offset``, or None if the record there is incomplete or bad."""
    if offset + _HEADER.size > len(data):
        return None
    length, checksum = _HEADER.unpack_from(data, offset)
    start = offset + _HEADER.size
    if length == 0 or length > _MAX_RECORD_BYTES or start + length > len(data):
        return None
    payload = data[start : start + length]
    if zlib.crc32(payload) != checksum:
        return None
    return payload


def _check_torn_tail(path: Path, data: bytes, offset: int) -> None:
    """Raise StorageError unless the bad record at ``offset`` can be the last, torn write."""
    if not data[offset:].strip(b"\0"):
        return  # a zero-filled tail, as some file systems leave after a crash
    if offset + _HEADER.size > len(data):
        return
    length, _ = _HEADER.unpack_from(data, offset)
    if offset + _HEADER.size + length >= len(data):
        return
    raise StorageError(
        f"write-ahead log {path} is corrupt at byte {offset}: a damaged record is followed "
        f"by {len(data) - offset - _HEADER.size - length} more bytes. Restore the space "
        "from a backup, or truncate the file at that byte to drop the later records."
    )


class WriteAheadLog:
    """An append-only log file open for writing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size
        self._broken = False

    @property
    def size(self) -> int:
        """Bytes in the log file."""
        return self._size

    def append(self, payload: bytes) -> None:
        """Write one record and fsync it; on failure remove the partial record and raise."""
        if self._broken:
            raise StorageError(
                f"write-ahead log {self.path} failed earlier and could not be repaired; "
                "close and reopen the engine"
            )
        if len(payload) > _MAX_RECORD_BYTES:
            raise StorageError(
                f"a write of {len(payload)} bytes exceeds the {_MAX_RECORD_BYTES}-byte log "
                "record limit; split it into smaller batches"
            )
        record = memoryview(_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
        try:
            written = 0
            while written < len(record):
                written += os.write(self._fd, record[written:])
            os.fsync(self._fd)
        except OSError as error:
            self._undo_partial_write()
            raise StorageError(
                f"could not write to the write-ahead log {self.path}: {error}"
            ) from error
        self._size += len(record)

    def _undo_partial_write(self) -> None:
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError:
            logger.exception("could not truncate %s after a failed write", self.path)
            self._broken = True

    def close(self) -> None:
        """Close the file; every appended record is already on disk."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
