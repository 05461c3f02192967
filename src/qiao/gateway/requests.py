"""Parse and check the body of ``POST /v1/chat/completions``.

Checks are written by hand instead of through a pydantic model, so that each
rejected value gets an OpenAI-style message that names the field and the fix.
Fields that OpenAI defines and Qiao ignores (``top_p``, ``user``, ``seed``,
penalties) are accepted when their values are valid (see ignored_fields);
fields that would change the answer in a way Qiao cannot honour (``n`` > 1,
tools) are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qiao.gateway.errors import invalid
from qiao.gateway.ignored_fields import check_ignored_fields
from qiao.llm import ChatMessage

__all__ = ["ChatRequest", "parse_chat_request"]

# "developer" is OpenAI's newer name for the system role.
ROLE_ALIASES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_STOP_SEQUENCES = 4
UNSUPPORTED_FIELDS = ("tools", "functions", "tool_choice", "function_call")


@dataclass
class ChatRequest:
    """A checked chat completion request."""

    model: str
    messages: list[ChatMessage]
    stream: bool
    include_usage: bool
    max_tokens: int | None
    temperature: float | None
    stop: list[str]
    # False when the body sets "cache": false.
    cache: bool

    @property
    def input_chars(self) -> int:
        return sum(len(message.content) for message in self.messages)


def parse_chat_request(body: dict[str, Any], max_input_chars: int) -> ChatRequest:
    """Return the checked request, or raise APIError 400 naming the first invalid field."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("missing 'model'; name a model from GET /v1/models", param="model")

    for name in UNSUPPORTED_FIELDS:
        if body.get(name):
            raise invalid(f"'{name}' is not supported by Qiao; send plain chat messages", name)
    n = body.get("n", 1)
    if n is not None and (not _is_int(n) or n != 1):
        raise invalid(f"invalid 'n' {n!r}; Qiao returns one choice, so use 1 or leave it out", "n")
    check_ignored_fields(body)

    messages = _parse_messages(body.get("messages"))
    total = sum(len(message.content) for message in messages)
    if total > max_input_chars:
        raise invalid(
            f"the messages contain {total} characters; the maximum is {max_input_chars} "
            "(setting gateway.max_input_chars); send a shorter conversation",
            param="messages",
            code="context_length_exceeded",
        )

    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise invalid(f"invalid 'stream' {stream!r}; use true or false", "stream")
    include_usage = _parse_stream_options(body.get("stream_options"), stream)

    cache = body.get("cache")
    if cache is None:
        cache = True
    if not isinstance(cache, bool):
        raise invalid(f"invalid 'cache' {cache!r}; use true or false", "cache")

    return ChatRequest(
        model=model.strip(),
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        max_tokens=_parse_max_tokens(body),
        temperature=_parse_temperature(body.get("temperature")),
        stop=_parse_stop(body.get("stop")),
        cache=cache,
    )


def _parse_messages(value: Any) -> list[ChatMessage]:
    if value is None:
        raise invalid("missing 'messages'; send a list of chat messages", "messages")
    if not isinstance(value, list):
        raise invalid("'messages' must be a list of {role, content} objects", "messages")
    if not value:
        raise invalid("'messages' is empty; send at least one user message", "messages")
    messages = []
    for position, item in enumerate(value):
        param = f"messages[{position}]"
        if not isinstance(item, dict):
            raise invalid(f"{param} must be an object with 'role' and 'content'", param)
        role = item.get("role")
        # A list or object as the role would raise TypeError in the dict lookup.
        if not isinstance(role, str) or role not in ROLE_ALIASES:
            raise invalid(
                f"invalid role {role!r} in {param}; use system, user or assistant "
                "(tool and function messages are not supported)",
                f"{param}.role",
            )
        messages.append(ChatMessage(ROLE_ALIASES[role], _parse_content(item, param)))
    if not any(message.role == "user" for message in messages):
        raise invalid("'messages' contains no user message; add one", "messages")
    return messages


def _parse_content(item: dict[str, Any], param: str) -> str:
    """Return the text of a message; a list of content parts may only contain text parts."""
    content = item.get("content")
    if content is None and item.get("role") == "assistant":
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise invalid(
                    f"unsupported content part {kind!r} in {param}.content[{index}]; "
                    "Qiao accepts text only",
                    f"{param}.content",
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid(f"{param}.content[{index}].text must be a string", f"{param}.content")
            texts.append(text)
        return "".join(texts)
    raise invalid(f"{param}.content must be a string or a list of text parts", f"{param}.content")


def _parse_stream_options(value: Any, stream: bool) -> bool:
    if value is None:
        return False
    if not stream:
        raise invalid("'stream_options' is only allowed with \"stream\": true", "stream_options")
    if not isinstance(value, dict):
        raise invalid("'stream_options' must be an object", "stream_options")
    include_usage = value.get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise invalid(
            f"invalid 'stream_options.include_usage' {include_usage!r}; use true or false",
            "stream_options.include_usage",
        )
    return include_usage


def _parse_max_tokens(body: dict[str, Any]) -> int | None:
    # max_completion_tokens is the newer name of the same limit.
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not _is_int(value) or value < 1:
            raise invalid(f"invalid '{name}' {value!r}; use a positive whole number", name)
        return int(value)
    return None


def _parse_temperature(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise invalid(f"invalid 'temperature' {value!r}; use a number from 0 to 2", "temperature")
    return float(value)


def _parse_stop(value: Any) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(stop, str) and stop for stop in stops):
        raise invalid("'stop' must be a non-empty string or a list of them", "stop")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise invalid(
            f"'stop' has {len(stops)} sequences; the maximum is {MAX_STOP_SEQUENCES}", "stop"
        )
    return stops


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
