"""A generator that runs a Hugging Face model (optionally with a LoRA adapter) with transformers.

It lets a knowledge-base assistant answer with a tuned model straight from
the workshop's folders, before the adapter is exported to GGUF. The prompt is
written with the model's own chat template; :meth:`stream` runs ``generate``
in a worker thread and yields text through transformers' TextIteratorStreamer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, ModelError
from qiao.llm.base import ChatMessage, Completion, Generator, check_messages
from qiao.optional import require
from qiao.workshop.evaluate.batching import pad_token_id
from qiao.workshop.evaluate.generation import stop_token_ids
from qiao.workshop.evaluate.loading import load_model
from qiao.workshop.evaluate.prompts import render_prompt

__all__ = ["TransformersGenerator"]

logger = logging.getLogger(__name__)


class TransformersGenerator(Generator):
    """A causal LM in a Hugging Face folder, run on the CPU by transformers.

    One instance decodes one request at a time; calls from several threads
    wait for each other.
    """

    def __init__(
        self,
        base_dir: Path,
        adapter_dir: Path | None = None,
        threads: int = 2,
        dtype: str = "float32",
    ) -> None:
        if threads < 1:
            raise InvalidInputError(f"invalid thread count {threads}; use at least 1")
        torch = require("torch", "workshop")
        torch.set_num_threads(threads)
        self._model: Any
        # float32 by default: one sequence at a time decodes fastest in it on CPUs.
        self._model, self._tokenizer = load_model(Path(base_dir), adapter_dir, dtype)
        self.name = f"transformers:{Path(base_dir).name}"
        if adapter_dir is not None:
            self.name += f"+{Path(adapter_dir).name}"
        self._stops = stop_token_ids(self._model, self._tokenizer)
        self._lock = threading.Lock()

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        began = time.perf_counter()
        with self._lock:
            request = self._request(messages, max_tokens, temperature, stop)
            prompt_tokens = request["input_ids"].shape[1]
            output = self._run(request)
        tokens = output[0, prompt_tokens:].tolist()
        end = next((i for i, token in enumerate(tokens) if token in self._stops), None)
        text = self._tokenizer.decode(tokens[:end], skip_special_tokens=True)
        text, cut = _cut_at_stop(text, stop)
        finish = "stop" if end is not None or cut or len(tokens) < max_tokens else "length"
        completion = Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(tokens) if end is None else end + 1,
            finish_reason=finish,
        )
        logger.info(
            "generated %d tokens from a %d-token prompt in %.2f s",
            completion.completion_tokens,
            prompt_tokens,
            time.perf_counter() - began,
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
        transformers = require("transformers", "workshop")
        with self._lock:
            request = self._request(messages, max_tokens, temperature, stop)
            streamer = transformers.TextIteratorStreamer(
                self._tokenizer, skip_prompt=True, skip_special_tokens=True
            )
            failure: list[BaseException] = []
            cancelled = threading.Event()
            criteria = transformers.StoppingCriteriaList([_StopWhenSet(cancelled)])

            def work() -> None:
                try:
                    self._run({**request, "streamer": streamer, "stopping_criteria": criteria})
                except BaseException as error:  # handed to the reading thread below
                    failure.append(error)
                    streamer.end()

            worker = threading.Thread(target=work, name="transformers-generate", daemon=True)
            worker.start()
            # Hold back text that could be the start of a stop string.
            pending = ""
            hold = max((len(s) for s in stop or ()), default=1) - 1
            try:
                for delta in streamer:
                    pending += delta
                    text, cut = _cut_at_stop(pending, stop)
                    if cut:
                        if text:
                            yield text
                        pending = ""
                        break
                    if len(pending) > hold:
                        yield pending[: len(pending) - hold]
                        pending = pending[len(pending) - hold :]
                if pending:
                    yield pending
            finally:
                # A stop string or a closed stream ends the answer: stop generate at its next token.
                cancelled.set()
                worker.join()
            if failure:
                raise ModelError(f"{self.name} failed to generate: {failure[0]}") from failure[0]

    def close(self) -> None:
        with self._lock:
            self._model = None
            logger.info("closed %s", self.name)

    def _request(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
    ) -> dict[str, Any]:
        if self._model is None:
            raise ModelError(f"{self.name} is closed; create a new generator")
        if max_tokens < 1:
            raise InvalidInputError(f"invalid max_tokens {max_tokens}; use a positive number")
        if temperature < 0:
            raise InvalidInputError(f"invalid temperature {temperature}; use 0 or more")
        turns = [message.to_json() for message in check_messages(messages)]
        prompt = render_prompt(self._tokenizer, turns)
        encoded = self._tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature}
            if temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        return {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "max_new_tokens": max_tokens,
            "eos_token_id": self._stops,
            "pad_token_id": pad_token_id(self._tokenizer),
            **sampling,
        }

    def _run(self, request: dict[str, Any]) -> Any:
        torch = require("torch", "workshop")
        try:
            with torch.inference_mode():
                return self._model.generate(**request)
        except (RuntimeError, ValueError) as error:
            raise ModelError(f"{self.name} failed to generate: {error}") from error


class _StopWhenSet:
    """A stopping criterion for ``generate`` that ends every sequence once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        torch = require("torch", "workshop")
        return torch.full((input_ids.shape[0],), self._event.is_set(), dtype=torch.bool)


def _cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Return ``text`` up to the first stop string and whether one was found."""
    positions = [text.find(s) for s in stop or () if s and s in text]
    if not positions:
        return text, False
    return text[: min(positions)], True
