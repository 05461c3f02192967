"""The interface every text generator implements, local or remote."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from qiao.errors import InvalidInputError

__all__ = ["ChatMessage", "Completion", "Generator", "ROLES", "check_messages"]

ROLES = ("system", "user", "assistant")


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
