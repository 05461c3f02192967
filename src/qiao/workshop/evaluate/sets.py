"""Evaluation sets of the workshop: multiple-choice and open questions, read and sampled.

``domain_eval`` and ``general_eval`` hold CMMLU questions, one JSON object a
line: ``{"id", "subject", "subject_zh", "question", "choices": {"A".."D"},
"answer"}``; their ``dev_fewshot.jsonl`` has few-shot examples in the same
form. ``med_dialogue_neike/qa_dev.jsonl`` holds open questions with a
reference ``answer``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from qiao.errors import InvalidInputError, NotFoundError

__all__ = [
    "LETTERS",
    "ChoiceQuestion",
    "OpenQuestion",
    "read_choice_questions",
    "read_open_questions",
    "sample_rows",
]

LETTERS = ("A", "B", "C", "D")

Row = TypeVar("Row")


@dataclass(frozen=True)
class ChoiceQuestion:
    """A four-option question with the letter of its correct option."""

    id: str
    subject: str
    subject_zh: str
    question: str
    choices: dict[str, str]
    answer: str


@dataclass(frozen=True)
class OpenQuestion:
    """A question with a reference answer, scored on the generated text."""

    id: str
    question: str
    answer: str


def _read_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise NotFoundError(
            f"evaluation file {path} not found; set QIAO_DATA_DIR to the evaluation data folder"
        )
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InvalidInputError(
                    f"{path} line {number} is not valid JSON: {error}"
                ) from error
            if not isinstance(row, dict):
                raise InvalidInputError(f"{path} line {number} is not a JSON object")
            yield number, row


def _field(path: Path, number: int, row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{path} line {number}: field {name!r} is missing or empty")
    return value


def read_choice_questions(path: Path) -> list[ChoiceQuestion]:
    """Read a CMMLU-style file; raise InvalidInputError for a malformed row or an empty file."""
    questions = []
    for number, row in _read_objects(path):
        choices = row.get("choices")
        if not isinstance(choices, dict) or sorted(choices) != list(LETTERS):
            raise InvalidInputError(
                f"{path} line {number}: 'choices' must map exactly A, B, C and D to option texts"
            )
        answer = _field(path, number, row, "answer").strip()
        if answer not in LETTERS:
            raise InvalidInputError(
                f"{path} line {number}: answer {answer!r} is not one of A, B, C, D"
            )
        questions.append(
            ChoiceQuestion(
                id=str(row.get("id", f"{path.name}:{number}")),
                subject=str(row.get("subject", "")),
                subject_zh=str(row.get("subject_zh", "")),
                question=_field(path, number, row, "question"),
                choices={letter: str(choices[letter]) for letter in LETTERS},
                answer=answer,
            )
        )
    if not questions:
        raise InvalidInputError(f"{path} has no questions; it must hold one JSON object a line")
    return questions


def read_open_questions(path: Path) -> list[OpenQuestion]:
    """Read ``{"id", "question", "answer"}`` rows; raise InvalidInputError when there are none."""
    questions = [
        OpenQuestion(
            id=str(row.get("id", f"{path.name}:{number}")),
            question=_field(path, number, row, "question"),
            answer=_field(path, number, row, "answer"),
        )
        for number, row in _read_objects(path)
    ]
    if not questions:
        raise InvalidInputError(f"{path} has no questions; it must hold one JSON object a line")
    return questions


def sample_rows(rows: Sequence[Row], limit: int | None, seed: int) -> list[Row]:
    """Return ``limit`` rows drawn without replacement with ``seed``, in file order.

    ``None`` or a limit of at least ``len(rows)`` returns every row.
    """
    if limit is not None and limit < 1:
        raise InvalidInputError(f"sample size {limit} must be at least 1, or None for every row")
    if limit is None or limit >= len(rows):
        return list(rows)
    picked = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[index] for index in picked]
