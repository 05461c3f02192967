"""The vector-database space behind the semantic cache: schema, search, expiry, eviction.

Layout of a cache folder::

    cache.json     {"embedder", "dim"}: the model whose vectors the space holds
    vectordb/      engine folder, database "semantic_cache", space "entries"

Each entry stores the key hash (exact-match filter), the question and its
embedding, the response as JSON, its size in bytes, the completion tokens it
cost and its creation time in epoch milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from qiao.fileio import write_json_atomic
from qiao.vectordb import Engine, Space
from qiao.vectordb.documents import MAX_STRING_BYTES

__all__ = ["CacheSpace"]

logger = logging.getLogger(__name__)

DATABASE = "semantic_cache"
SPACE = "entries"
META_FILE = "cache.json"
ENTRY_FIELDS = ["key", "question", "response", "created", "completion_tokens"]
# The space deletes at most this many ids per call.
DELETE_BATCH = 400


def _schema(dim: int) -> dict[str, Any]:
    return {
        "name": SPACE,
        "partition_num": 1,
        "replica_num": 1,
        "fields": [
            {"name": "key", "type": "keyword", "index": {"name": "key_index", "type": "INVERTED"}},
            {"name": "question", "type": "string"},
            {"name": "response", "type": "string"},
            {"name": "size", "type": "integer"},
            {"name": "completion_tokens", "type": "integer"},
            {
                "name": "created",
                "type": "long",
                "index": {"name": "created_index", "type": "INVERTED"},
            },
            {
                "name": "vector",
                "type": "vector",
                "dimension": dim,
                "format": "normalization",
                "index": {
                    "name": "vector_index",
                    "type": "FLAT",
                    "params": {"metric_type": "InnerProduct"},
                },
            },
        ],
    }


class CacheSpace:
    """Entries of one cache folder; callers serialise access (SemanticCache holds a lock)."""

    def __init__(self, folder: Path, engine: Engine, space: Space) -> None:
        self.folder = folder
        self.engine = engine
        self.space = space

    @classmethod
    def open(cls, folder: Path, embedder_name: str, dim: int) -> CacheSpace:
        """Open the cache in ``folder``; entries embedded by another model are dropped."""
        folder.mkdir(parents=True, exist_ok=True)
        engine = Engine(folder / "vectordb")
        meta = {"embedder": embedder_name, "dim": dim}
        if DATABASE not in engine.list_databases():
            engine.create_database(DATABASE)
        if SPACE in engine.list_spaces(DATABASE):
            if _read_meta(folder / META_FILE) != meta:
                # Vectors of another model cannot be compared with new ones.
                logger.warning(
                    "dropping the semantic cache in %s: it was built with another embedder, not %s",
                    folder,
                    embedder_name,
                )
                engine.drop_space(DATABASE, SPACE)
        if SPACE not in engine.list_spaces(DATABASE):
            engine.create_space(DATABASE, _schema(dim))
            write_json_atomic(folder / META_FILE, meta)
        return cls(folder, engine, engine.get_space(DATABASE, SPACE))

    def __len__(self) -> int:
        return int(self.space.doc_num)

    def nearest(
        self, vector: np.ndarray, key: str, created_after: float, limit: int
    ) -> list[tuple[dict[str, Any], float]]:
        """Return up to ``limit`` live entries under ``key``, nearest first, with cosine scores."""
        if len(self) == 0:
            return []
        conditions: list[dict[str, Any]] = [{"field": "key", "operator": "IN", "value": [key]}]
        if created_after > 0:
            conditions.append(
                {"field": "created", "operator": ">=", "value": int(created_after * 1000)}
            )
        hits = self.space.search(
            vectors=[{"field": "vector", "feature": vector.astype(np.float32).tolist()}],
            filters={"operator": "AND", "conditions": conditions},
            limit=limit,
            fields=ENTRY_FIELDS,
        )[0]
        return [(hit, float(hit["_score"])) for hit in hits]

    def put(
        self,
        key: str,
        question: str,
        response: str,
        completion_tokens: int,
        vector: np.ndarray,
        now: float,
    ) -> bool:
        """Insert or replace the entry for ``key`` and ``question``; False if it is too large."""
        size = len(response.encode("utf-8"))
        if size > MAX_STRING_BYTES or len(question.encode("utf-8")) > MAX_STRING_BYTES:
            logger.info("not caching a %d-byte response: the limit is %d", size, MAX_STRING_BYTES)
            return False
        entry_id = hashlib.sha256(f"{key}\n{question}".encode()).hexdigest()[:32]
        document = {
            "_id": entry_id,
            "key": key,
            "question": question,
            "response": response,
            "size": size,
            "completion_tokens": completion_tokens,
            "created": int(now * 1000),
            "vector": vector.astype(np.float32).tolist(),
        }
        self.space.upsert([document])
        return True

    def delete_older(self, created_before: float) -> int:
        """Delete entries created before ``created_before`` (epoch seconds); return how many."""
        if created_before <= 0 or len(self) == 0:
            return 0
        condition = {"field": "created", "operator": "<", "value": int(created_before * 1000)}
        deleted = self.space.delete(filters={"operator": "AND", "conditions": [condition]})
        return len(deleted)

    def evict_oldest(self, max_entries: int) -> int:
        """Delete the oldest entries beyond ``max_entries``; return how many."""
        excess = len(self) - max_entries
        if excess <= 0:
            return 0
        # A filter returns documents in insertion order, and every store inserts
        # a new row (an update too), so the first rows are the oldest.
        every = {
            "operator": "AND",
            "conditions": [{"field": "created", "operator": ">=", "value": 0}],
        }
        oldest = self.space.query(filters=every, fields=["created"], limit=excess)
        ids = [entry["_id"] for entry in oldest]
        for start in range(0, len(ids), DELETE_BATCH):
            self.space.delete(ids[start : start + DELETE_BATCH])
        return len(ids)

    def close(self) -> None:
        self.engine.close()


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
