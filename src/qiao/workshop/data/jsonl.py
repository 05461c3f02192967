"""JSONL files of conversations: atomic writes and validated reads."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, NotFoundError
from qiao.fileio import fsync_directory

__all__ = ["commit_file", "read_conversations", "write_jsonl_temporary"]


def write_jsonl_temporary(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write ``rows`` to a new temporary file beside ``path``, fsync it and return its path.

    :func:`commit_file` renames it over ``path``; until then ``path`` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False))
                handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def commit_file(temporary: Path, path: Path) -> None:
    """Rename ``temporary`` over ``path`` and flush the directory entry."""
    os.replace(temporary, path)
    fsync_directory(path.parent)


def read_conversations(path: Path) -> list[dict[str, Any]]:
    """Read a prepared JSONL file: every line an object with a ``messages`` list.

    Raises :class:`InvalidInputError` naming the file and line of the first
    invalid row, or when the file has no rows.
    """
    if not path.is_file():
        raise NotFoundError(f"data file {path} not found; check the path")
    rows = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise InvalidInputError(
                    f"{path} line {number} is not UTF-8 ({error.reason}); prepared files are"
                    " UTF-8, so run 'qiao workshop data prepare' on the original file"
                ) from error
            if line.strip():
                rows.append(_parse_row(path, number, line))
    if not rows:
        raise InvalidInputError(
            f"{path} is empty: it has no rows; run 'qiao workshop data prepare' to fill it"
        )
    return rows


def _parse_row(path: Path, number: int, line: str) -> dict[str, Any]:
    fix = 'each line must be {"messages": [{"role": ..., "content": ...}]}'
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"{path} line {number} is not valid JSON ({error.msg}); {fix}"
        ) from error
    messages = row.get("messages") if isinstance(row, dict) else None
    if not isinstance(messages, list) or not messages:
        raise InvalidInputError(f"{path} line {number} has no 'messages' list; {fix}")
    for message in messages:
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise InvalidInputError(
                f"{path} line {number} has a message without text 'role' and 'content'; {fix}"
            )
    return row
