"""The models the gateway serves: configured generators and ``kb:<name>`` knowledge bases.

Generators are listed when configured: the local GGUF model when
llama-cpp-python is installed and a model file is available, and the remote
OpenAI-compatible endpoint when ``generator.base_url`` and ``generator.model``
are set. Each is loaded once, on first use or by :meth:`ModelCatalog.preload`,
and shared with the knowledge bases that answer through it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiao.config import Settings
from qiao.gateway.backpressure import GenerationQueue
from qiao.gateway.errors import APIError
from qiao.gateway.knowledge import KnowledgeModels
from qiao.llm import DEFAULT_MODEL, Generator, create_generator, default_model_available
from qiao.llm.factory import llama_cpp_installed

__all__ = ["GeneratorModel", "ModelCatalog", "KB_PREFIX"]

logger = logging.getLogger(__name__)

KB_PREFIX = "kb:"
# Characters of a requested model name repeated in an error message.
MAX_NAME_CHARS = 200


@dataclass
class GeneratorModel:
    """A chat model served under ``id``: the local GGUF model or a remote endpoint."""

    id: str
    kind: str  # "llama" or "openai"
    queue: GenerationQueue
    settings: Settings
    _generator: Generator | None = None
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def generator(self) -> Generator:
        """Return the generator, loading it on first use (blocking: call from a worker thread)."""
        with self._lock:
            if self._generator is None:
                began = time.perf_counter()
                generator_settings = dataclasses.replace(self.settings.generator, kind=self.kind)
                generator = create_generator(generator_settings, self.settings.models_dir)
                assert generator is not None
                self._generator = generator
                logger.info("loaded model %s in %.2f s", self.id, time.perf_counter() - began)
            return self._generator

    @property
    def loaded(self) -> Generator | None:
        return self._generator

    def close(self) -> None:
        with self._lock:
            if self._generator is not None:
                self._generator.close()
                self._generator = None


class ModelCatalog:
    """Resolves model names to generators and knowledge bases, with one queue per backend."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        gateway = settings.gateway
        self.generators: dict[str, GeneratorModel] = {}
        # The "created" time of every listed model: the server start, so that it stays the same.
        self.created = int(time.time())

        local_id = local_model_id(settings)
        if local_id:
            # llama.cpp decodes one request at a time.
            queue = GenerationQueue(local_id, 1, gateway.queue_size, gateway.retry_after_s)
            self.generators[local_id] = GeneratorModel(local_id, "llama", queue, settings)
        remote_id = settings.generator.model if settings.generator.base_url else ""
        if remote_id and remote_id not in self.generators:
            queue = GenerationQueue(
                remote_id, gateway.concurrency, gateway.queue_size, gateway.retry_after_s
            )
            self.generators[remote_id] = GeneratorModel(remote_id, "openai", queue, settings)

        self.extractive_queue = GenerationQueue(
            "extractive", gateway.concurrency, gateway.queue_size, gateway.retry_after_s
        )
        self.answering = self._answering_model()
        self.knowledge = KnowledgeModels(settings)
        logger.info(
            "models: %s; knowledge bases answer with %s",
            ", ".join(self.generators) or "none",
            self.answering.id if self.answering else "extractive answers",
        )

    def _answering_model(self) -> GeneratorModel | None:
        """Return the generator that ``generator.kind`` selects for knowledge-base answers."""
        kind = self.settings.generator.kind
        for model in self.generators.values():
            if model.kind == kind or (kind == "auto" and model.kind == "llama"):
                return model
        if kind in ("llama", "openai"):
            logger.warning("generator.kind is %s but that generator is not configured", kind)
        return None

    def queue_for_kb(self) -> GenerationQueue:
        return self.answering.queue if self.answering else self.extractive_queue

    def queues(self) -> list[GenerationQueue]:
        return [model.queue for model in self.generators.values()] + [self.extractive_queue]

    def resolve_generator(self, name: str) -> GeneratorModel:
        model = self.generators.get(name)
        if model is None:
            raise self.not_found(name)
        return model

    def not_found(self, name: str, allows: Callable[[str], bool] | None = None) -> APIError:
        """Return the 404 for ``name``, listing the models that ``allows`` (an API key) permits."""
        visible = [model for model in self.model_ids() if allows is None or allows(model)]
        # A client may send any string as the model, so long ones are cut in the message.
        shown = name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS] + "…"
        return APIError(
            404,
            f"model {shown!r} not found; available models: {', '.join(visible) or 'none'} "
            "(GET /v1/models lists them)",
            "invalid_request_error",
            param="model",
            code="model_not_found",
        )

    def model_ids(self) -> list[str]:
        return list(self.generators) + [KB_PREFIX + name for name in self.knowledge.names()]

    def describe(self) -> list[dict[str, Any]]:
        """Return the model list of GET /v1/models (before filtering by API key)."""
        created = self.created
        models = [
            _model_entry(model.id, created, f"qiao:{model.kind}")
            for model in self.generators.values()
        ]
        for name in self.knowledge.names():
            models.append(_model_entry(KB_PREFIX + name, created, "qiao:kb"))
        return models

    def preload(self) -> None:
        """Load every generator and open every knowledge base (and so the embedder) now.

        The first request then does not wait for them.
        """
        for model in self.generators.values():
            model.generator()
        for name in self.knowledge.names():
            self.knowledge.state(name)

    def close(self) -> None:
        self.knowledge.close()
        for model in self.generators.values():
            model.close()


def local_model_id(settings: Settings) -> str:
    """Return the served name of the local GGUF model, or "" when none is usable."""
    if settings.generator.kind in ("openai", "extractive") and not settings.generator.model_path:
        return ""
    if not llama_cpp_installed():
        return ""
    if settings.generator.model_path:
        return Path(settings.generator.model_path).expanduser().stem
    if default_model_available(settings.models_dir):
        return Path(DEFAULT_MODEL.filename).stem
    return ""


def _model_entry(model_id: str, created: int, owned_by: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}
