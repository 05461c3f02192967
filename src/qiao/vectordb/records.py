"""Encoding of write-ahead log payloads for upsert and delete batches.

An upsert payload is ``b"U"``, a u32 header length, a JSON header with each
document's id, scalar values, vector field names and partition id (``p``,
absent in records written before partitions were stored), then for each vector
field in schema order the float32 vectors of the documents that set it,
concatenated. A delete payload is ``b"D"`` followed by a JSON list of ids.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence

import numpy as np

from qiao.vectordb.documents import DocumentPatch
from qiao.vectordb.schema import SpaceSchema

__all__ = ["decode_record", "encode_delete", "encode_upsert"]

_UPSERT = b"U"
_DELETE = b"D"
_LENGTH = struct.Struct("<I")


def encode_upsert(schema: SpaceSchema, patches: Sequence[DocumentPatch]) -> bytes:
    """Return the log payload of an upsert batch; every patch must have an id."""
    docs = []
    for patch in patches:
        doc = {"_id": patch.doc_id, "s": patch.scalars, "v": sorted(patch.vectors)}
        if patch.partition is not None:
            doc["p"] = patch.partition
        docs.append(doc)
    header = {"docs": docs}
    header_bytes = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    parts = [_UPSERT, _LENGTH.pack(len(header_bytes)), header_bytes]
    for spec in schema.vector_fields:
        vectors = [patch.vectors[spec.name] for patch in patches if spec.name in patch.vectors]
        if vectors:
            parts.append(np.ascontiguousarray(np.stack(vectors), dtype="<f4").tobytes())
    return b"".join(parts)


def encode_delete(ids: Sequence[str]) -> bytes:
    """Return the log payload of a delete batch."""
    return _DELETE + json.dumps(list(ids), ensure_ascii=False).encode("utf-8")


def decode_record(
    schema: SpaceSchema, payload: bytes
) -> tuple[str, list[DocumentPatch] | list[str]]:
    """Return ``("upsert", patches)`` or ``("delete", ids)``; raise ValueError if malformed."""
    kind = payload[:1]
    if kind == _DELETE:
        return "delete", json.loads(payload[1:])
    if kind != _UPSERT:
        raise ValueError(f"unknown record type {kind!r}")
    (header_length,) = _LENGTH.unpack_from(payload, 1)
    body_start = 1 + _LENGTH.size
    header = json.loads(payload[body_start : body_start + header_length])
    docs = header["docs"]
    patches = [DocumentPatch(doc["_id"], doc["s"], partition=doc.get("p")) for doc in docs]
    offset = body_start + header_length
    for spec in schema.vector_fields:
        owners = [i for i, doc in enumerate(docs) if spec.name in doc["v"]]
        if not owners:
            continue
        count = len(owners) * spec.dimension
        block = np.frombuffer(payload, dtype="<f4", count=count, offset=offset)
        offset += count * 4
        block = block.reshape(len(owners), spec.dimension).astype(np.float32)
        for position, owner in enumerate(owners):
            patches[owner].vectors[spec.name] = block[position]
    if offset != len(payload):
        raise ValueError(f"record has {len(payload) - offset} unexpected trailing bytes")
    return "upsert", patches
