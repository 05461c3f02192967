"""The interface every text generator implements, local or remote."""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from qiao.errors import InvalidInputError

__all__ = ["ChatMessage", "Completion", "Generator", "ROLES", "check_messages", "estimate_tokens"]

ROLES = ("system", "user", "assistant")

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


@dataclass
class ChatMessage:
    """One message of a chat, with ``role`` one of :data:`ROLES`."""

    role: str
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass
class Completion:
    """A finished generation with its token counts.

    ``finish_reason`` is ``"stop"`` when the model ended the answer or hit a stop
    string, and ``"length"`` when it reached ``max_tokens``.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class Generator(ABC):
    """A chat model that writes text from messages.

    Implementations raise :class:`qiao.errors.ModelError` when the backend fails.
    """

    # Shown to users and stored with answers, e.g. "llama.cpp:model.gguf".
    name: str

    @abstractmethod
    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        """Generate the whole answer to ``messages``. Temperature 0 means greedy decoding."""

    @abstractmethod
    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield the answer to ``messages`` as text deltas while it is generated."""

    def count_tokens(self, text: str) -> int:
        """Return the number of tokens in ``text``.

        Backends with a tokenizer override this method; the default is :func:`estimate_tokens`.
        """
        return estimate_tokens(text)

    def close(self) -> None:  # noqa: B027 - an optional hook with nothing to do by default
        """Release the model or connection. The generator is unusable afterwards."""


def check_messages(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Return ``messages``, or raise InvalidInputError for an empty list or an unknown role."""
    if not messages:
        raise InvalidInputError("no chat messages given; pass at least one user message")
    for message in messages:
        if message.role not in ROLES:
            raise InvalidInputError(
                f"unknown chat message role {message.role!r}; use one of {', '.join(ROLES)}"
            )
    return messages


def estimate_tokens(text: str) -> int:
    """Estimate the token count of ``text`` without a tokenizer.

    Counts one token per CJK character and per four other characters, the
    usual rule of thumb for BPE vocabularies such as Qwen's and OpenAI's.
    """
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)
