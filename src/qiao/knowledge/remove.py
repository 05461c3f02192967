"""Removal of files from a knowledge base, including files already deleted from disk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from qiao.errors import NotFoundError
from qiao.knowledge.base import KnowledgeBase

__all__ = ["remove_paths"]

logger = logging.getLogger(__name__)


def remove_paths(kb: KnowledgeBase, paths: Sequence[Path]) -> list[str]:
    """Remove the recorded files at ``paths`` (files or folders) and their chunks.

    A path need not exist any more: a folder removes every recorded file
    below it. Returns the removed file paths. Raises ``NotFoundError`` when a
    path matches no recorded file, before anything is removed.
    """
    matched: list[str] = []
    for path in paths:
        key = str(path.expanduser().resolve())
        found = [name for name in kb.files if name == key or name.startswith(key.rstrip("/") + "/")]
        if not found:
            raise NotFoundError(
                f"no file of knowledge base {kb.name!r} is at {str(path)!r}; list its files "
                f"with 'qiao kb show {kb.name} --json'",
                key="kb_file_not_found",
                name=kb.name,
                path=str(path),
            )
        matched.extend(name for name in found if name not in matched)

    # Chunks go first: if this stops half-way, the record stays and a rerun finishes.
    for name in matched:
        chunks = kb.store.delete_file(name)
        del kb.files[name]
        kb.save_files()
        logger.info("removed %s from %s: %d chunks", name, kb.name, chunks)
    return matched
