"""Generation through any OpenAI-compatible chat completions endpoint, over httpx.

The generator sends ``POST {base_url}/chat/completions`` in OpenAI's format
and reads server-sent events when streaming, the API that vLLM, llama.cpp's
llama-server and Ollama also serve. NOTE: the tests cover this module against
a local test server only, not against those servers. The API key is sent
only in the ``Authorization`` header and never logged or shown in errors.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from qiao.errors import ConfigError, InvalidInputError, ModelError
from qiao.llm.base import ChatMessage, Completion, Generator, check_messages

__all__ = ["OpenAICompatibleGenerator"]

logger = logging.getLogger(__name__)

# Maximum number of characters of a response body quoted in a ModelError.
MAX_QUOTED_BODY = 500
STATUS_HINTS = {
    401: "check QIAO_LLM_API_KEY",
    403: "check QIAO_LLM_API_KEY and its permissions",
    404: "check QIAO_LLM_BASE_URL (it usually ends with /v1) and QIAO_LLM_MODEL",
    429: "the server is rate limiting requests; retry later",
}


class OpenAICompatibleGenerator(Generator):
    """A chat model behind an OpenAI-compatible HTTP API."""

    def __init__(
        self, base_url: str, api_key: str = "", model: str = "", timeout_s: float = 120.0
    ) -> None:
        if not base_url:
            raise ConfigError(
                "no LLM base URL given; set QIAO_LLM_BASE_URL to the API root, such as "
                "http://127.0.0.1:8000/v1"
            )
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"invalid LLM base URL {base_url!r}; set QIAO_LLM_BASE_URL to an http:// or "
                "https:// URL such as http://127.0.0.1:8000/v1"
            )
        if not model:
            raise ConfigError("no LLM model name given; set QIAO_LLM_MODEL to the served model")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.timeout_s = timeout_s
        self.name = f"openai:{model}"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers)

    def __repr__(self) -> str:
        return f"OpenAICompatibleGenerator(url={self.url!r}, model={self.model!r})"

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        payload = self._payload(messages, max_tokens, temperature, stop, stream=False)
        began = time.perf_counter()
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.HTTPError as error:
            raise self._transport_error(error) from error
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            raise ModelError(
                f"unexpected response from {self.url}: {response.text[:MAX_QUOTED_BODY]!r}; "
                "check that QIAO_LLM_BASE_URL points to an OpenAI-compatible API"
            ) from error
        # NOTE: servers that omit "usage" report 0 tokens here.
        completion = Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        )
        logger.info(
            "%s returned %d tokens in %.2f s (finish reason %s)",
            self.url,
            completion.completion_tokens,
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
        payload = self._payload(messages, max_tokens, temperature, stop, stream=True)
        began = time.perf_counter()
        deltas = 0
        try:
            with self._client.stream("POST", self.url, json=payload) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._status_error(response)
                for line in response.iter_lines():
                    content = self._parse_event(line)
                    if content is None:
                        break
                    if content:
                        deltas += 1
                        yield content
        except httpx.HTTPError as error:
            raise self._transport_error(error) from error
        logger.info(
            "%s streamed %d deltas in %.2f s", self.url, deltas, time.perf_counter() - began
        )

    def close(self) -> None:
        self._client.close()

    def _payload(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        if max_tokens < 1:
            raise InvalidInputError(f"invalid max_tokens {max_tokens}; use a positive number")
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [message.to_json() for message in check_messages(messages)],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": stream,
        }
        if stop:
            payload["stop"] = stop
        return payload

    def _parse_event(self, line: str) -> str | None:
        """Return the text delta of one server-sent event line, "" for none, None at the end."""
        if not line.startswith("data:"):
            # Blank separators, comments, "event:" and "id:" fields carry no text.
            return ""
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return None
        try:
            chunk = json.loads(data)
        except ValueError as error:
            raise ModelError(
                f"invalid stream event from {self.url}: {data[:MAX_QUOTED_BODY]!r}"
            ) from error
        if not isinstance(chunk, dict):
            raise ModelError(f"invalid stream event from {self.url}: {data[:MAX_QUOTED_BODY]!r}")
        if chunk.get("error"):
            raise ModelError(f"{self.url} failed while streaming: {_error_message(chunk)}")
        choices = chunk.get("choices") or []
        if not choices:
            return ""
        delta = choices[0].get("delta") or {}
        return delta.get("content") or ""

    def _transport_error(self, error: httpx.HTTPError) -> ModelError:
        if isinstance(error, httpx.TimeoutException):
            return ModelError(
                f"request to {self.url} timed out after {self.timeout_s} s; check that the server "
                "is running, or raise generator.timeout_s"
            )
        return ModelError(
            f"request to {self.url} failed: {error}; check QIAO_LLM_BASE_URL and that the server "
            "is running"
        )

    def _status_error(self, response: httpx.Response) -> ModelError:
        status = response.status_code
        hint = STATUS_HINTS.get(status, "the server failed; check its logs")
        if status < 500 and status not in STATUS_HINTS:
            hint = "check the generator settings"
        return ModelError(
            f"{self.url} returned HTTP {status}: {_error_message(response)}; {hint}",
            status=status,
        )


def _error_message(source: httpx.Response | dict[str, Any]) -> str:
    """Return the server's error message from an OpenAI-style error body, or the raw body."""
    if isinstance(source, httpx.Response):
        try:
            data: Any = source.json()
        except ValueError:
            return source.text.strip()[:MAX_QUOTED_BODY] or "(empty body)"
    else:
        data = source
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:MAX_QUOTED_BODY]
        if isinstance(error, str):
            return error[:MAX_QUOTED_BODY]
        for key in ("message", "detail"):
            if data.get(key):
                return str(data[key])[:MAX_QUOTED_BODY]
    return json.dumps(data, ensure_ascii=False)[:MAX_QUOTED_BODY]
