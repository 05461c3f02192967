"""Ingestion: files in, chunks with vectors out, skipping files that did not change."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qiao.errors import IngestError, NotFoundError
from qiao.knowledge.base import FileRecord, KnowledgeBase
from qiao.knowledge.chunker import Chunk, chunk_context, chunk_document, chunk_label
from qiao.knowledge.loaders import LoadOptions, iter_files, load_file

__all__ = ["IngestProgress", "IngestReport", "ingest_paths"]

logger = logging.getLogger(__name__)

EMBED_BATCH = 32


class IngestProgress(Protocol):
    """Receives progress of a long ingestion (the CLI draws a progress bar)."""

    def start(self, total_chunks: int) -> None: ...

    def advance(self, chunks: int) -> None: ...


@dataclass
class IngestReport:
    """Files, counts and timings of one ingestion."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "failed": [{"file": path, "error": error} for path, error in self.failed],
            "documents": self.documents,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
        }


@dataclass
class _PendingFile:
    key: str
    sha256: str
    size: int
    documents: int
    chunks: list[Chunk]


def ingest_paths(
    kb: KnowledgeBase,
    paths: Sequence[Path],
    options: LoadOptions | None = None,
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Add files and folders to ``kb``; unreadable files are reported in the result, not raised."""
    options = options or LoadOptions()
    report = IngestReport()
    began = time.perf_counter()

    # Collect files, so that a missing path fails before anything changes.
    for path in paths:
        if not path.exists():
            raise NotFoundError(
                f"path {str(path)!r} not found; check the file or folder name",
                key="path_not_found",
                path=str(path),
            )
    files = list(iter_files(list(paths)))

    # Load and chunk every new or changed file.
    pending: list[_PendingFile] = []
    for path in files:
        key = str(path.resolve())
        try:
            data = path.read_bytes()
        except OSError as error:
            report.failed.append((str(path), f"cannot read file: {error}"))
            logger.warning("cannot read %s: %s", path, error)
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        known = kb.files.get(key)
        if known is not None and known.sha256 == sha256:
            report.unchanged.append(str(path))
            continue
        try:
            documents = load_file(path, options)
            chunks = [
                chunk
                for document in documents
                for chunk in chunk_document(document, kb.info.chunk_size, kb.info.chunk_overlap)
            ]
        except IngestError as error:
            report.failed.append((str(path), str(error)))
            logger.warning("skipped %s: %s", path, error)
            continue
        if not chunks:
            report.failed.append((str(path), "no text found in the file"))
            logger.warning("skipped %s: no text", path)
            continue
        pending.append(_PendingFile(key, sha256, len(data), len(documents), chunks))
        (report.replaced if known is not None else report.added).append(str(path))

    # Embed and store file by file, so that an interruption keeps finished files.
    if progress is not None:
        progress.start(sum(len(item.chunks) for item in pending))
    for item in pending:
        vectors, label_vectors, seconds = _embed(kb, item.chunks, progress)
        report.embed_seconds += seconds
        stored = [_stored(item.key, i, chunk) for i, chunk in enumerate(item.chunks)]
        kb.store.replace_file(item.key, stored, vectors, label_vectors)
        kb.files[item.key] = FileRecord(
            sha256=item.sha256,
            size=item.size,
            documents=item.documents,
            chunks=len(item.chunks),
            added=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        kb.save_files()
        report.documents += item.documents
        report.chunks += len(item.chunks)
        logger.info("ingested %s: %d chunks", item.key, len(item.chunks))

    report.seconds = time.perf_counter() - began
    logger.info(
        "ingestion into %s: %d added, %d replaced, %d unchanged, %d failed, %d chunks in %.1f s",
        kb.name,
        len(report.added),
        len(report.replaced),
        len(report.unchanged),
        len(report.failed),
        report.chunks,
        report.seconds,
    )
    return report


def _embed(
    kb: KnowledgeBase, chunks: list[Chunk], progress: IngestProgress | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Return context vectors, label vectors and the seconds spent embedding."""
    began = time.perf_counter()
    contexts = [chunk_context(chunk) for chunk in chunks]
    batches = []
    for start in range(0, len(chunks), EMBED_BATCH):
        batches.append(kb.embedder.embed_passages(contexts[start : start + EMBED_BATCH]))
        if progress is not None:
            progress.advance(min(EMBED_BATCH, len(chunks) - start))
    vectors = np.vstack(batches)

    # Chunks of one document share a label, so each distinct label is embedded once.
    # A chunk without a label uses its context vector.
    labels = [chunk_label(chunk) for chunk in chunks]
    distinct = sorted({label for label in labels if label})
    label_vectors = vectors.copy()
    if distinct:
        embedded = np.vstack(
            [
                kb.embedder.embed_passages(distinct[start : start + EMBED_BATCH])
                for start in range(0, len(distinct), EMBED_BATCH)
            ]
        )
        row_of = {label: row for row, label in enumerate(distinct)}
        for i, label in enumerate(labels):
            if label:
                label_vectors[i] = embedded[row_of[label]]
    return vectors, label_vectors, time.perf_counter() - began


def _stored(file_key: str, index: int, chunk: Chunk) -> dict[str, Any]:
    # ``index`` counts chunks across the whole file, which may hold many documents.
    return {
        "_id": chunk_id(file_key, index),
        "doc_id": chunk.doc_id,
        "file": file_key,
        "source": chunk.source,
        "title": chunk.title,
        "heading": chunk.heading,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "chunk_index": index,
    }


def chunk_id(file_key: str, index: int) -> str:
    """Return a stable chunk id, so that re-ingesting a file overwrites its chunks."""
    return f"{hashlib.sha1(file_key.encode('utf-8')).hexdigest()[:16]}-{index}"
