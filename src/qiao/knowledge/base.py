"""One knowledge base: its settings, its files and its chunks."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiao.config import EmbedderSettings, Settings
from qiao.errors import StorageError
from qiao.fileio import write_json_atomic
from qiao.knowledge.chunk_store import ChunkStore
from qiao.knowledge.embedders import Embedder, create_embedder

__all__ = ["FileRecord", "KnowledgeBase", "KnowledgeBaseInfo", "read_info"]

logger = logging.getLogger(__name__)


@dataclass
class KnowledgeBaseInfo:
    """Settings fixed when a knowledge base is created."""

    name: str
    created: str
    embedder_kind: str
    embedder_path: str
    embedder_model: str
    chunk_size: int
    chunk_overlap: int
    tokenizer: str
    # Incremented on every change; caches derived from the chunks compare it.
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FileRecord:
    """An ingested file: its content hash and what it produced."""

    sha256: str
    size: int
    documents: int
    chunks: int
    added: str


def read_info(path: Path) -> KnowledgeBaseInfo:
    """Read and check ``kb.json``; a damaged file raises an error that names it and the fix."""
    file = path / "kb.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        info = KnowledgeBaseInfo(**data)
        for field in dataclasses.fields(KnowledgeBaseInfo):
            expected = int if field.type in ("int", int) else str
            if not isinstance(getattr(info, field.name), expected):
                raise TypeError(f"field {field.name!r} must be a {expected.__name__}")
        return info
    except (OSError, ValueError, TypeError) as error:
        raise StorageError(
            f"cannot read {file}: {error}; restore the file, or delete the knowledge base "
            f"with 'qiao kb delete {path.name}' and create it again",
            key="kb_damaged",
            file=str(file),
            name=path.name,
            detail=str(error),
        ) from error


class KnowledgeBase:
    """An open knowledge base. Writers hold its lock until :meth:`close`."""

    def __init__(self, path: Path, settings: Settings, read_only: bool = False) -> None:
        self.path = path
        self.settings = settings
        self.read_only = read_only
        self.info = read_info(path)
        self._embedder: Embedder | None = None
        self.store = ChunkStore(path / "store", dim=self.embedder.dim, read_only=read_only)
        self.files = self._read_files()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def embedder(self) -> Embedder:
        """The embedder recorded at creation.

        A base is always searched with the model that embedded its chunks;
        only the endpoint address and key come from the current settings.
        """
        if self._embedder is None:
            recorded = EmbedderSettings(
                kind=self.info.embedder_kind,
                path=self.info.embedder_path,
                model=self.info.embedder_model,
                base_url=self.settings.embedder.base_url,
                api_key=self.settings.embedder.api_key,
            )
            self._embedder = create_embedder(recorded)
        return self._embedder

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_files(self) -> dict[str, FileRecord]:
        path = self.path / "files.json"
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return {name: FileRecord(**record) for name, record in data.items()}
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise StorageError(
                f"cannot read {path}: {error}; delete the file and run 'qiao kb add' again "
                "(unchanged files are then re-embedded once)",
                key="files_damaged",
                file=str(path),
                detail=str(error),
            ) from error

    def save_files(self) -> None:
        """Persist the file records and bump the version (writers only)."""
        write_json_atomic(
            self.path / "files.json",
            {name: dataclasses.asdict(record) for name, record in self.files.items()},
        )
        self.info.version += 1
        write_json_atomic(self.path / "kb.json", self.info.to_json())
        # Indexes cached for older versions can no longer be used.
        shutil.rmtree(self.path / "cache", ignore_errors=True)

    def stats(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "created": self.info.created,
            "embedder": self.embedder.name,
            "dim": self.embedder.dim,
            "chunk_size": self.info.chunk_size,
            "chunk_overlap": self.info.chunk_overlap,
            "tokenizer": self.info.tokenizer,
            "files": len(self.files),
            "documents": sum(record.documents for record in self.files.values()),
            "chunks": len(self.store),
            "version": self.info.version,
        }
