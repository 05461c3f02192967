"""Local generation with llama.cpp through llama-cpp-python (the ``llm`` extra)."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, ModelError
from qiao.llm.base import ChatMessage, Completion, Generator, check_messages
from qiao.llm.cpu_features import cpu_has_amx, without_extra_buffers
from qiao.llm.lora_check import check_lora_fits
from qiao.llm.model_files import verify_model_file
from qiao.optional import require

__all__ = ["LlamaCppGenerator"]

logger = logging.getLogger(__name__)


class LlamaCppGenerator(Generator):
    """A GGUF model run on the CPU by llama.cpp, prompted with the GGUF's own chat template.

    One model instance decodes one request at a time, so calls from several
    threads wait for each other. A stream keeps the model locked until it is
    exhausted or closed.
    """

    def __init__(
        self,
        model_path: Path,
        threads: int = 0,
        context_size: int = 4096,
        lora_path: Path | None = None,
    ) -> None:
        if threads < 0:
            raise InvalidInputError(f"invalid thread count {threads}; use 0 for all CPU cores")
        if context_size < 1:
            raise InvalidInputError(f"invalid context size {context_size}; use a positive number")
        llama_cpp = require("llama_cpp", "llm", "llama-cpp-python")
        self.model_path = verify_model_file(model_path)
        # A GGUF LoRA adapter (qiao workshop export) that llama.cpp applies on top of the model.
        self.lora_path = Path(lora_path).expanduser() if lora_path else None
        if self.lora_path and not self.lora_path.is_file():
            raise ModelError(
                f"LoRA adapter {self.lora_path} not found; export it again with qiao workshop "
                "export, or choose another model"
            )
        if self.lora_path:
            verify_model_file(self.lora_path)
            check_lora_fits(self.model_path, self.lora_path)
        self.threads = threads or _available_cores()
        self.context_size = context_size
        self.name = f"llama.cpp:{self.model_path.name}"
        if self.lora_path:
            self.name += f"+{self.lora_path.name}"
        self._lock = threading.Lock()

        began = time.perf_counter()
        guard = contextlib.nullcontext()
        if cpu_has_amx():
            logger.info("CPU has AMX: loading without llama.cpp's extra buffer types")
            guard = without_extra_buffers(importlib.import_module("llama_cpp.llama_cpp"))
        try:
            with guard:
                self._llama: Any = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    lora_path=str(self.lora_path) if self.lora_path else None,
                    n_ctx=context_size,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as error:
            if self.lora_path:
                raise ModelError(
                    f"llama.cpp failed to load {self.model_path} with the LoRA adapter "
                    f"{self.lora_path}: {error}; check that the adapter was exported for this "
                    f"model and that both are complete GGUF files"
                ) from error
            raise ModelError(
                f"llama.cpp failed to load {self.model_path}: {error}; check that the file is a "
                f"complete GGUF model supported by llama-cpp-python {llama_cpp.__version__}"
            ) from error
        logger.info(
            "loaded %s with llama.cpp in %.2f s (%d threads, context %d tokens)",
            self.model_path,
            time.perf_counter() - began,
            self.threads,
            context_size,
        )

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        request = self._request(messages, max_tokens, temperature, stop)
        began = time.perf_counter()
        with self._lock:
            model = self._model()
            try:
                response = model.create_chat_completion(**request, stream=False)
            except ValueError as error:
                raise self._call_error(error) from error
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        completion = Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        )
        logger.info(
            "generated %d tokens from a %d-token prompt in %.2f s (finish reason %s)",
            completion.completion_tokens,
            completion.prompt_tokens,
            time.perf_counter() - began,
            completion.finish_reason,
        )
        return completion

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        request = self._request(messages, max_tokens, temperature, stop)
        began = time.perf_counter()
        deltas = 0
        with self._lock:
            model = self._model()
            try:
                chunks = model.create_chat_completion(**request, stream=True)
                try:
                    for chunk in chunks:
                        content = chunk["choices"][0]["delta"].get("content")
                        if content:
                            deltas += 1
                            yield content
                finally:
                    chunks.close()
            except ValueError as error:
                raise self._call_error(error) from error
        logger.info("streamed %d deltas in %.2f s", deltas, time.perf_counter() - began)

    def count_tokens(self, text: str) -> int:
        """Return the number of tokens of ``text`` in the model's vocabulary.

        Tokenizing reads only the vocabulary, so it does not wait for a running generation.
        """
        model = self._llama
        if model is None:
            return super().count_tokens(text)
        return len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
                logger.info("closed %s", self.model_path)

    def _model(self) -> Any:
        if self._llama is None:
            raise ModelError(f"{self.name} is closed; create a new generator")
        return self._llama

    def _request(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
    ) -> dict[str, Any]:
        if max_tokens < 1:
            raise InvalidInputError(f"invalid max_tokens {max_tokens}; use a positive number")
        return {
            "messages": [message.to_json() for message in check_messages(messages)],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": stop or None,
        }

    def _call_error(self, error: ValueError) -> ModelError:
        # llama-cpp-python raises ValueError for a prompt longer than the context window.
        return ModelError(
            f"llama.cpp failed on {self.model_path.name}: {error}; shorten the prompt or raise "
            f"generator.context_size (now {self.context_size})"
        )


def _available_cores() -> int:
    """Return the number of CPU cores this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1
