"""Prompts of the evaluation, written with the model's own chat template.

Multiple-choice questions use the CMMLU prompt ("以下是关于{科目}的单项选择题，
请直接给出正确答案的选项。"), the question with its four options, and an
assistant turn that starts with "答案：", so that the next token is the
model's choice of letter. Few-shot examples, when asked for, go into the same
user message in the CMMLU form "题目：… 答案是：X", because a chat model reads
one turn more reliably than a list of invented past turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiao.workshop.chat_format import render_chat
from qiao.workshop.evaluate.sets import LETTERS, ChoiceQuestion

__all__ = ["ANSWER_PREFIX", "choice_prompt", "open_prompt", "render_prompt"]

ANSWER_PREFIX = "答案："


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """Render ``messages`` with the chat template used in training, ending in an assistant turn."""
    return render_chat(tokenizer, messages, add_generation_prompt=True)


def _options(question: ChoiceQuestion) -> str:
    return "\n".join(f"{letter}. {question.choices[letter]}" for letter in LETTERS)


def choice_prompt(
    tokenizer: Any, question: ChoiceQuestion, shots: Sequence[ChoiceQuestion] = ()
) -> str:
    """Return the full prompt text whose next token should be the answer letter."""
    subject = question.subject_zh or question.subject
    header = (
        f"以下是关于{subject}的单项选择题，请直接给出正确答案的选项。"
        if subject
        else "以下是单项选择题，请直接给出正确答案的选项。"
    )
    examples = "".join(
        f"题目：{shot.question}\n{_options(shot)}\n答案是：{shot.answer}\n\n" for shot in shots
    )
    body = f"{header}\n\n{examples}题目：{question.question}\n{_options(question)}"
    return render_prompt(tokenizer, [{"role": "user", "content": body}]) + ANSWER_PREFIX


def open_prompt(tokenizer: Any, question: str) -> str:
    """Return the prompt for a free answer to ``question`` (one user turn)."""
    return render_prompt(tokenizer, [{"role": "user", "content": question}])
