"""Conversations as model input, in the model's own chat template.

Training and inference render conversations the same way, with
``tokenizer.apply_chat_template``, so a tuned model sees at inference exactly
the layout it was trained on. :func:`encode_conversation` tokenizes a
conversation for training: the labels of every token outside an assistant
message are ``-100`` (so the loss covers only what the assistant says), and
each assistant message ends with the tokenizer's end-of-sequence token (the
template's own end-of-turn token when it is the EOS, as ``<|im_end|>`` is for
Qwen2.5 Instruct), so a tuned model learns to stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qiao.errors import InvalidInputError, ModelError

__all__ = ["IGNORE_INDEX", "EncodedConversation", "encode_conversation", "render_chat"]

# The label value that torch's cross-entropy loss skips.
IGNORE_INDEX = -100


@dataclass
class EncodedConversation:
    """Token ids of one conversation and their training labels."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def render_chat(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    """Render ``messages`` with the tokenizer's chat template.

    With ``add_generation_prompt`` the text ends where the assistant's reply
    begins, as a prompt for generation.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            "the tokenizer has no chat template; use an instruction-tuned (chat) base model,"
            " whose tokenizer_config.json or chat_template.jinja defines one",
            key="ws_no_chat_template",
        )
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def encode_conversation(
    tokenizer: Any, messages: list[dict[str, str]], max_length: int
) -> EncodedConversation:
    """Tokenize ``messages`` for training, with labels on assistant tokens only.

    The conversation is cut after ``max_length`` tokens; ``truncated`` says so.
    """
    if not messages or messages[-1].get("role") != "assistant":
        raise InvalidInputError("a training conversation must end with an assistant message")
    eos_id = tokenizer.eos_token_id
    input_ids: list[int] = []
    labels: list[int] = []
    rendered = ""

    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        # Everything up to the assistant's reply, including the template's reply header.
        prompt = render_chat(tokenizer, messages[:index], add_generation_prompt=True)
        full = render_chat(tokenizer, messages[: index + 1], add_generation_prompt=False)
        if not prompt.startswith(rendered) or not full.startswith(prompt):
            raise ModelError(
                "the chat template does not render a conversation as a prefix of its"
                " continuation, so assistant tokens cannot be told apart; use a base model"
                " with a standard chat template",
                key="ws_template_not_prefix",
            )
        context_ids = _tokenize(tokenizer, prompt[len(rendered) :])
        reply_ids, trailing_ids = _split_reply(tokenizer, full[len(prompt) :], eos_id)
        input_ids += context_ids + reply_ids + trailing_ids
        labels += [IGNORE_INDEX] * len(context_ids) + reply_ids
        labels += [IGNORE_INDEX] * len(trailing_ids)
        rendered = full

    truncated = len(input_ids) > max_length
    return EncodedConversation(input_ids[:max_length], labels[:max_length], truncated)


def _tokenize(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def _split_reply(tokenizer: Any, reply: str, eos_id: int | None) -> tuple[list[int], list[int]]:
    """Split the rendered reply into the trained tokens (up to the EOS) and the rest.

    Text that the template puts after the end-of-turn token (Qwen's newline)
    is kept as context, without a label.
    """
    ids = _tokenize(tokenizer, reply)
    if eos_id is None:
        return ids, []
    if eos_id in ids:
        end = ids.index(eos_id) + 1
        return ids[:end], ids[end:]
    return ids + [eos_id], []
