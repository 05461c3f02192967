"""Chunks of a knowledge base stored in a space of the embedded vector database."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qiao.vectordb import Engine, Space

__all__ = ["CHUNK_FIELDS", "LABEL_VECTOR", "VECTOR", "ChunkStore", "StoredChunk"]

logger = logging.getLogger(__name__)

DATABASE = "qiao"
SPACE = "chunks"
# Each chunk has two vectors: of its label line plus text, and of its label
# alone (the title and heading path, e.g. an FAQ question).
VECTOR = "vector"
LABEL_VECTOR = "label_vector"
CHUNK_FIELDS = [
    "doc_id",
    "file",
    "source",
    "title",
    "heading",
    "text",
    "start",
    "end",
    "chunk_index",
]
# Vearch limits indexed strings to 1,024 bytes; titles and headings are cut to stay well below.
MAX_LABEL_CHARS = 300


@dataclass
class StoredChunk:
    """One chunk as stored: its id, text, position and provenance."""

    id: str
    doc_id: str
    file: str
    source: str
    title: str
    heading: str
    text: str
    start: int
    end: int
    chunk_index: int

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> StoredChunk:
        return cls(id=document["_id"], **{name: document[name] for name in CHUNK_FIELDS})


def _schema(dim: int) -> dict[str, Any]:
    def scalar(name: str, kind: str, indexed: bool = False) -> dict[str, Any]:
        field: dict[str, Any] = {"name": name, "type": kind}
        if indexed:
            field["index"] = {"name": f"{name}_index", "type": "INVERTED"}
        return field

    return {
        "name": SPACE,
        "partition_num": 1,
        "replica_num": 1,
        "fields": [
            scalar("doc_id", "keyword", indexed=True),
            scalar("file", "keyword", indexed=True),
            scalar("source", "string"),
            scalar("title", "string"),
            scalar("heading", "string"),
            scalar("text", "string"),
            scalar("start", "integer"),
            scalar("end", "integer"),
            scalar("chunk_index", "integer", indexed=True),
            _vector_field(VECTOR, dim),
            _vector_field(LABEL_VECTOR, dim),
        ],
    }


def _vector_field(name: str, dim: int) -> dict[str, Any]:
    return {
        "name": name,
        "type": "vector",
        "dimension": dim,
        "format": "normalization",
        "index": {
            "name": f"{name}_index",
            "type": "FLAT",
            "params": {"metric_type": "InnerProduct"},
        },
    }


class ChunkStore:
    """Upsert, delete, scan and search the chunks of one knowledge base."""

    def __init__(self, path: Path, dim: int, read_only: bool = False) -> None:
        self.dim = dim
        self.space: Space | None = None
        self.engine: Engine | None = None
        if read_only and not path.exists():
            # A base created but never written to has no store yet: it is empty.
            return
        self.engine = Engine(path, read_only=read_only)
        has_database = DATABASE in _names(self.engine.list_databases())
        if has_database and SPACE in _names(self.engine.list_spaces(DATABASE)):
            self.space = self.engine.get_space(DATABASE, SPACE)
        elif not read_only:
            # A reader of a base that has no chunks yet sees an empty store.
            if not has_database:
                self.engine.create_database(DATABASE)
            self.space = self.engine.create_space(DATABASE, _schema(dim))

    def __len__(self) -> int:
        return 0 if self.space is None else int(self.space.doc_num)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()

    def replace_file(
        self,
        file: str,
        chunks: Sequence[dict[str, Any]],
        vectors: np.ndarray,
        label_vectors: np.ndarray,
    ) -> None:
        """Delete the chunks of ``file`` and store ``chunks`` in its place."""
        assert self.space is not None
        self.delete_file(file)
        documents = []
        for chunk, vector, label_vector in zip(chunks, vectors, label_vectors, strict=True):
            document = dict(chunk)
            document["title"] = document["title"][:MAX_LABEL_CHARS]
            document["heading"] = document["heading"][:MAX_LABEL_CHARS]
            document[VECTOR] = vector.tolist()
            document[LABEL_VECTOR] = label_vector.tolist()
            documents.append(document)
        for start in range(0, len(documents), 256):
            self.space.upsert(documents[start : start + 256])

    def delete_file(self, file: str) -> int:
        assert self.space is not None
        deleted = 0
        while True:
            # Deletes go in batches, because Vearch caps one delete by filter.
            ids = self.space.delete(filters=_file_filter(file), limit=10_000)
            deleted += len(ids)
            if len(ids) < 10_000:
                return deleted

    def scan(self) -> list[StoredChunk]:
        """Return every chunk; used to build the keyword index."""
        if self.space is None or len(self) == 0:
            return []
        documents = self.space.query(
            filters={
                "operator": "AND",
                "conditions": [{"field": "chunk_index", "operator": ">=", "value": 0}],
            },
            fields=CHUNK_FIELDS,
            limit=len(self) + 1,
        )
        return [StoredChunk.from_document(document) for document in documents]

    def get(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        if self.space is None or not ids:
            return {}
        found: dict[str, StoredChunk] = {}
        for start in range(0, len(ids), 400):
            for document in self.space.get(list(ids[start : start + 400]), fields=CHUNK_FIELDS):
                found[document["_id"]] = StoredChunk.from_document(document)
        return found

    def search(
        self, vector: np.ndarray, k: int, field: str = VECTOR
    ) -> list[tuple[StoredChunk, float]]:
        """Return the ``k`` chunks whose ``field`` vector is nearest, with cosine similarity."""
        if self.space is None or len(self) == 0:
            return []
        hits = self.space.search(
            vectors=[{"field": field, "feature": vector.astype(np.float32).tolist()}],
            limit=k,
            fields=CHUNK_FIELDS,
        )[0]
        return [(StoredChunk.from_document(hit), float(hit["_score"])) for hit in hits]


def _names(items: Sequence[Any]) -> list[str]:
    return [item if isinstance(item, str) else item["name"] for item in items]


def _file_filter(file: str) -> dict[str, Any]:
    return {"operator": "AND", "conditions": [{"field": "file", "operator": "IN", "value": [file]}]}
