"""On-disk snapshots of a space: immutable segments of rows and the manifest naming them."""

from __future__ import annotations

from qiao.vectordb.segments.manifest import Manifest, SegmentInfo, read_manifest, write_manifest
from qiao.vectordb.segments.snapshot import collect_garbage, load_snapshot, write_snapshot

__all__ = [
    "Manifest",
    "SegmentInfo",
    "collect_garbage",
    "load_snapshot",
    "read_manifest",
    "write_manifest",
    "write_snapshot",
]
