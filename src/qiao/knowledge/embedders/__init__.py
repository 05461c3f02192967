"""Embedding models behind one interface, chosen by :func:`create_embedder`."""

from qiao.knowledge.embedders.base import Embedder, normalize_rows
from qiao.knowledge.embedders.factory import create_embedder

__all__ = ["Embedder", "create_embedder", "normalize_rows"]
