"""Create, list, open and delete the knowledge bases of a Qiao home."""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from qiao.config import Settings
from qiao.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from qiao.fileio import write_json_atomic
from qiao.knowledge.base import KnowledgeBase, KnowledgeBaseInfo, read_info

__all__ = ["KnowledgeBaseRegistry", "validate_name"]

logger = logging.getLogger(__name__)

# Letters (Chinese included), digits, "_" and "-"; must not start with "-" or "_".
_NAME = re.compile(r"^[^\W_][\w-]{0,63}$")


def validate_name(name: str) -> str:
    """Return ``name`` or raise an error that says which names are allowed."""
    if not _NAME.match(name):
        raise InvalidInputError(
            f"invalid knowledge base name {name!r}: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit",
            key="kb_bad_name",
            name=name,
        )
    return name


class KnowledgeBaseRegistry:
    """The knowledge bases stored under ``settings.kb_dir``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.kb_dir

    def path_of(self, name: str) -> Path:
        return self.root / validate_name(name)

    def exists(self, name: str) -> bool:
        return (self.path_of(name) / "kb.json").is_file()

    def create(self, name: str) -> KnowledgeBaseInfo:
        """Create an empty knowledge base that records the current embedder and chunking."""
        path = self.path_of(name)
        if self.exists(name):
            raise AlreadyExistsError(
                f"knowledge base {name!r} already exists; choose another name or delete it first",
                key="kb_exists",
                name=name,
            )
        settings = self.settings
        info = KnowledgeBaseInfo(
            name=name,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            embedder_kind=settings.embedder.kind,
            embedder_path=settings.embedder.path,
            embedder_model=settings.embedder.model,
            chunk_size=settings.chunking.size,
            chunk_overlap=settings.chunking.overlap,
            tokenizer=settings.retrieval.tokenizer,
        )
        path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path / "kb.json", info.to_json())
        # Create the empty store now, so that readers find a complete base.
        self.open(name).close()
        logger.info("created knowledge base %s at %s", name, path)
        return info

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "kb.json").is_file())

    def info(self, name: str) -> KnowledgeBaseInfo:
        self._require(name)
        return read_info(self.path_of(name))

    def open(self, name: str, read_only: bool = False) -> KnowledgeBase:
        """Open a knowledge base; a writer takes its lock until ``close``."""
        self._require(name)
        return KnowledgeBase(self.path_of(name), self.settings, read_only=read_only)

    def delete(self, name: str) -> None:
        self._require(name)
        path = self.path_of(name)
        # Take the writer lock first, so that a running ingestion is not cut off.
        self.open(name).close()
        # Remove the marker first: a half-deleted folder then no longer lists.
        (path / "kb.json").unlink()
        shutil.rmtree(path)
        logger.info("deleted knowledge base %s", name)

    def _require(self, name: str) -> None:
        if not self.exists(name):
            known = ", ".join(self.names()) or "none"
            raise NotFoundError(
                f"knowledge base {name!r} not found (existing: {known}); create it with "
                f"'qiao kb create {name}'",
                key="kb_not_found",
                name=name,
                known=known,
            )
