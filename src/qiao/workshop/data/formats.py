"""Conversion of input rows in common instruction formats to one conversation shape.

Every row becomes a list of ``{"role", "content"}`` messages (the OpenAI chat
shape that TRL and most trainers read): an optional ``system`` message, then
``user`` and ``assistant`` turns alternating, ending with ``assistant``.

Formats:

- ``alpaca``: ``{"instruction", "input", "output"}``, optional ``"system"`` and
  ``"history"`` (a list of ``[question, answer]`` pairs before this turn).
  The user turn is the instruction, then a blank line and the input when the
  input is not empty.
- ``sharegpt``: ``{"conversations": [{"from", "value"}]}``, optional
  ``"system"``. ``from`` is ``human``/``user``, ``gpt``/``assistant``/
  ``chatgpt``/``model`` or ``system``.
- ``messages``: ``{"messages": [{"role", "content"}]}``. Content may also be a
  list of ``{"type": "text", "text"}`` parts.
- ``qa``: one question and one answer per row, from ``--question-field`` and
  ``--answer-field`` or from the first column named in
  :data:`QUESTION_FIELDS` / :data:`ANSWER_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qiao.errors import InvalidInputError

__all__ = [
    "ANSWER_FIELDS",
    "FORMATS",
    "QUESTION_FIELDS",
    "FieldOptions",
    "RowError",
    "check_conversation",
    "detect_format",
    "to_messages",
]

FORMATS = ("alpaca", "sharegpt", "messages", "qa")
QUESTION_FIELDS = ("question", "问题", "query", "prompt", "q", "title", "标题", "ask")
ANSWER_FIELDS = ("answer", "答案", "回答", "response", "reply", "a", "output")

_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "model": "assistant",
    "bard": "assistant",
    "system": "system",
}
_ROLES = ("system", "user", "assistant")


class RowError(ValueError):
    """A row that does not fit its format; prepare counts it as invalid and skips it."""


@dataclass(frozen=True)
class FieldOptions:
    """Column names of the question and answer in the ``qa`` format (None: detect)."""

    question_field: str | None = None
    answer_field: str | None = None


def detect_format(fields: Mapping[str, Any], options: FieldOptions) -> str | None:
    """Return the format whose keys ``fields`` has, or None when none fits."""
    if options.question_field or options.answer_field:
        return "qa"
    if isinstance(fields.get("messages"), list):
        return "messages"
    if isinstance(fields.get("conversations"), list):
        return "sharegpt"
    if "instruction" in fields and "output" in fields:
        return "alpaca"
    if _find_field(fields, None, QUESTION_FIELDS) and _find_field(fields, None, ANSWER_FIELDS):
        return "qa"
    return None


def to_messages(fields: Mapping[str, Any], format_name: str, options: FieldOptions) -> list[dict]:
    """Convert one row to messages; raise :class:`RowError` when it does not fit."""
    if format_name == "alpaca":
        messages = _from_alpaca(fields)
    elif format_name == "sharegpt":
        messages = _from_sharegpt(fields)
    elif format_name == "messages":
        messages = _from_messages(fields)
    elif format_name == "qa":
        messages = _from_qa(fields, options)
    else:
        raise InvalidInputError(f"unknown format {format_name!r}; use one of {', '.join(FORMATS)}")
    check_conversation(messages)
    return messages


def check_conversation(messages: list[dict]) -> None:
    """Raise :class:`RowError` unless ``messages`` is system?, (user, assistant)+."""
    turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
    if not turns:
        raise RowError("the row has no user or assistant message")
    for index, message in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if message["role"] != expected:
            raise RowError(
                f"message {index + 1} has role {message['role']!r} where {expected!r} belongs;"
                " turns must alternate user, assistant"
            )
        if not message["content"].strip():
            raise RowError(f"message {index + 1} ({message['role']}) is empty")
    if turns[-1]["role"] != "assistant":
        raise RowError("the conversation ends without an assistant reply")


def _text(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RowError(f"field {name!r} is a {type(value).__name__}, expected text")


def _with_system(system: object, messages: list[dict]) -> list[dict]:
    text = _text(system, "system")
    return [{"role": "system", "content": text}, *messages] if text.strip() else messages


def _from_alpaca(fields: Mapping[str, Any]) -> list[dict]:
    if "instruction" not in fields or "output" not in fields:
        raise RowError("an alpaca row needs the fields 'instruction' and 'output'")
    messages: list[dict] = []
    history = fields.get("history") or []
    if not isinstance(history, list):
        raise RowError("field 'history' must be a list of [question, answer] pairs")
    for pair in history:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise RowError("field 'history' must be a list of [question, answer] pairs")
        messages.append({"role": "user", "content": _text(pair[0], "history")})
        messages.append({"role": "assistant", "content": _text(pair[1], "history")})

    instruction = _text(fields["instruction"], "instruction").strip()
    extra_input = _text(fields.get("input"), "input").strip()
    prompt = f"{instruction}\n\n{extra_input}" if instruction and extra_input else instruction
    messages.append({"role": "user", "content": prompt or extra_input})
    messages.append({"role": "assistant", "content": _text(fields["output"], "output")})
    return _with_system(fields.get("system"), messages)


def _from_sharegpt(fields: Mapping[str, Any]) -> list[dict]:
    turns = fields.get("conversations")
    if not isinstance(turns, list):
        raise RowError("a sharegpt row needs a list field 'conversations'")
    messages = []
    for index, turn in enumerate(turns, start=1):
        if not isinstance(turn, Mapping):
            raise RowError(f"conversations item {index} is not an object with 'from' and 'value'")
        speaker = str(turn.get("from", "")).lower()
        role = _SHAREGPT_ROLES.get(speaker)
        if role is None:
            raise RowError(
                f"conversations item {index} has 'from': {turn.get('from')!r};"
                f" expected one of {', '.join(_SHAREGPT_ROLES)}"
            )
        messages.append({"role": role, "content": _text(turn.get("value"), "value")})
    return _leading_system(_with_system(fields.get("system"), messages))


def _from_messages(fields: Mapping[str, Any]) -> list[dict]:
    items = fields.get("messages")
    if not isinstance(items, list):
        raise RowError("a messages row needs a list field 'messages'")
    messages = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, Mapping) or item.get("role") not in _ROLES:
            role = item.get("role") if isinstance(item, Mapping) else None
            raise RowError(
                f"messages item {index} has role {role!r}; expected one of {', '.join(_ROLES)}"
            )
        messages.append({"role": item["role"], "content": _content_text(item.get("content"))})
    return _leading_system(messages)


def _content_text(content: object) -> str:
    if not isinstance(content, list):
        return _text(content, "content")
    parts = []
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") != "text":
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise RowError(f"content part of type {kind!r} is not text; only text is supported")
        parts.append(_text(part.get("text"), "text"))
    return "\n".join(parts)


def _leading_system(messages: list[dict]) -> list[dict]:
    """Merge leading system messages into one; reject system messages later on."""
    systems = []
    while messages and messages[0]["role"] == "system":
        systems.append(messages.pop(0)["content"])
    if any(message["role"] == "system" for message in messages):
        raise RowError("a system message appears after the first user turn")
    system = "\n\n".join(text for text in systems if text.strip())
    return _with_system(system, messages)


def _from_qa(fields: Mapping[str, Any], options: FieldOptions) -> list[dict]:
    question_key = _find_field(fields, options.question_field, QUESTION_FIELDS)
    answer_key = _find_field(fields, options.answer_field, ANSWER_FIELDS)
    if question_key is None or answer_key is None:
        missing = "question" if question_key is None else "answer"
        raise RowError(
            f"no {missing} field among {', '.join(map(repr, fields)) or 'none'};"
            f" name it with --{missing}-field"
        )
    return [
        {"role": "user", "content": _text(fields[question_key], question_key)},
        {"role": "assistant", "content": _text(fields[answer_key], answer_key)},
    ]


def _find_field(fields: Mapping[str, Any], explicit: str | None, aliases: tuple[str, ...]):
    if explicit:
        return explicit if explicit in fields else None
    by_lower = {str(key).strip().lower(): key for key in fields}
    for alias in aliases:
        if alias in by_lower:
            return by_lower[alias]
    return None
