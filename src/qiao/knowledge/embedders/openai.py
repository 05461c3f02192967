"""Embedder that calls an OpenAI-compatible ``/v1/embeddings`` endpoint."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
import numpy as np

from qiao.errors import ConfigError, ModelError
from qiao.knowledge.embedders.base import Embedder, normalize_rows

__all__ = ["OpenAIEmbedder"]

logger = logging.getLogger(__name__)


class OpenAIEmbedder(Embedder):
    """Embeddings from ``POST {base_url}/embeddings``; the dimension is probed once."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        batch_size: int = 32,
        timeout_s: float = 60.0,
        query_prefix: str = "",
        passage_prefix: str = "",
    ) -> None:
        if not base_url or not model:
            raise ConfigError(
                "the openai embedder needs a base URL and a model name; set "
                "QIAO_EMBEDDER_BASE_URL and QIAO_EMBEDDER_MODEL"
            )
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s
        )
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._batch_size = batch_size
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self.name = f"openai:{model}"
        self.dim = int(self._request(["dimension probe"]).shape[1])
        logger.info("using embeddings endpoint %s model %s (dim %d)", self._url, model, self.dim)

    def _request(self, texts: list[str]) -> np.ndarray:
        try:
            response = self._client.post("/embeddings", json={"model": self._model, "input": texts})
        except httpx.HTTPError as error:
            raise ModelError(f"embeddings request to {self._url} failed: {error}") from error
        if response.status_code != 200:
            raise ModelError(
                f"embeddings request to {self._url} failed with HTTP {response.status_code}: "
                f"{response.text[:300]}"
            )
        try:
            rows = sorted(response.json()["data"], key=lambda row: row["index"])
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as error:
            raise ModelError(
                f"embeddings response from {self._url} is not in the OpenAI format: {error}"
            ) from error
        if vectors.shape[0] != len(texts):
            raise ModelError(
                f"embeddings endpoint {self._url} returned {vectors.shape[0]} vectors for "
                f"{len(texts)} inputs"
            )
        return normalize_rows(vectors)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        batches = [
            self._request([self._passage_prefix + text for text in texts[i : i + self._batch_size]])
            for i in range(0, len(texts), self._batch_size)
        ]
        return np.vstack(batches) if batches else np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._request([self._query_prefix + text])[0]
