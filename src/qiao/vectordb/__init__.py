"""Embedded vector database with Vearch's data model: databases, spaces, typed documents.

Storage layout of an engine folder::

    LOCK                             flock of the single writer; holds its process id
    engine.json                      format version and id counters
    dbs/<db>/db.json                 {"id", "name"}
    dbs/<db>/spaces/<space>/
        space.json                   {"id", "name", "db_name", "schema"}
        manifest.json                the current snapshot (absent before the first)
        wal-<seq>.log                write-ahead log of writes after that snapshot
        segments/seg-<gen>/          rows added by snapshot <gen>: scalars.json, vectors-<i>.f32
        segments/tombstones-<gen>.bits   bitmap of deleted rows
        segments/index-<gen>-<i>.faiss   saved HNSW graph of vector field <i>

Durability contract: ``Space.upsert`` and ``Space.delete`` append one record
(length, CRC32, payload) to the write-ahead log and fsync it before they
return, so an acknowledged write survives a crash of the process or the
machine. A snapshot writes new segment files and fsyncs them, replaces
``manifest.json`` atomically (temporary file, fsync, rename, directory
fsync) and only then deletes the old log. Opening a space loads the
snapshot, replays the log and truncates a torn last record, which belongs
to a write that never returned. FLAT indexes are rebuilt from the vectors
on open; HNSW graphs are loaded from the snapshot.
"""

from __future__ import annotations

from qiao.vectordb.engine import Engine
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.facade import VectorDatabase, VectorSpace, connect
from qiao.vectordb.space import Space

__all__ = [
    "Engine",
    "ErrorCode",
    "Space",
    "VectorDBError",
    "VectorDatabase",
    "VectorSpace",
    "connect",
]
