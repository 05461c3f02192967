"""Embedded vector database with Vearch's data model: databases, spaces, typed documents.

Storage layout of an engine folder::

    LOCK                             flock of the single writer; holds its process id
    engine.json                      format version and id counters (databases, spaces,
                                     partitions)
    dbs/<db>/db.json                 {"id", "name"}
    dbs/<db>/spaces/<space>/
        space.json                   {"id", "name", "db_name", "db_id", "schema",
                                     "partitions": [{"id", "name", "slot"}], "enabled",
                                     "version"}, replaced atomically by a space update
        manifest.json                the current snapshot (absent before the first)
        wal-<seq>.log                write-ahead log of writes after that snapshot; each
                                     upserted document records its partition id
        segments/seg-<gen>/          rows added by snapshot <gen>: scalars.json (ids,
                                     scalar columns, partition id of each row),
                                     vectors-<i>.f32
        segments/tombstones-<gen>.bits   bitmap of deleted rows
        segments/index-<gen>-<i>.faiss   saved index of vector field <i>: an HNSW graph
                                         with its vectors, or a trained IVFFLAT/IVFPQ
                                         index (faiss format) over the leading rows

Durability contract: ``Space.upsert`` and ``Space.delete`` append one record
(length, CRC32, payload) to the write-ahead log and fsync it before they
return, so an acknowledged write survives a crash of the process or the
machine. A snapshot writes new segment files and fsyncs them, replaces
``manifest.json`` atomically (temporary file, fsync, rename, directory
fsync) and only then deletes the old log. Opening a space loads the
snapshot, replays the log and truncates a torn last record, which belongs
to a write that never returned. FLAT indexes are rebuilt from the vectors
on open; HNSW graphs are loaded from the snapshot.

Partitions are an attribute of each row (see :mod:`qiao.vectordb.partitions`):
one store and one vector index per field serve every partition. A space
update commits by replacing ``space.json``. Opening a space deletes rows
whose partition a committed DROP removed. Opening the engine finishes a
rename whose ``space.json`` already has the new name.

IVFFLAT and IVFPQ indexes are trained by a background thread per space
(``qiao.vectordb.indexer``) once the space holds ``training_threshold``
live documents; until then the space reports index_status 0 and searches
follow Vearch's brute-force rules. After a training the thread takes a
snapshot, so the trained index is in the manifest and a reopened space
loads it (vectors from the segments, the index from its ``.faiss`` file)
and appends the rows of the replayed log, without training again.
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
