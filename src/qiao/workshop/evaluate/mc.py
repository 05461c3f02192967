"""Multiple-choice accuracy from the next-token log-probabilities of the option letters.

For each question the model reads :func:`~qiao.workshop.evaluate.prompts.choice_prompt`
once; the predicted option is the letter among A, B, C and D whose token has
the highest log-probability at the position after "答案：". This is the
standard way to score small models, which often do not follow an answer
format when they generate: it needs one forward pass per question and no
parsing of free text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qiao.errors import InvalidInputError
from qiao.optional import require
from qiao.workshop.evaluate.batching import left_pad, length_batches, pad_token_id
from qiao.workshop.evaluate.prompts import choice_prompt
from qiao.workshop.evaluate.sets import LETTERS, ChoiceQuestion

__all__ = ["ChoiceScores", "letter_token_ids", "score_choices"]

logger = logging.getLogger(__name__)

# Called with (questions done, questions total) after each batch.
ItemProgress = Callable[[int, int], None]


@dataclass
class ChoiceScores:
    """Accuracy over ``n`` questions, with each prediction and the time taken."""

    accuracy: float
    n: int
    predictions: list[str]
    # Mean probability that the model puts on the four letters together; a low
    # value means the prompt does not make the model answer with a letter.
    letter_mass: float
    seconds: float
    per_subject: dict[str, float] = field(default_factory=dict)


def letter_token_ids(tokenizer: Any) -> list[int]:
    """Return the token ids of A, B, C, D; each letter must be exactly one token."""
    ids = []
    for letter in LETTERS:
        encoded = tokenizer.encode(letter, add_special_tokens=False)
        if len(encoded) != 1:
            raise InvalidInputError(
                f"the tokenizer splits the option letter {letter!r} into {len(encoded)} tokens; "
                "multiple-choice scoring needs a single token per letter"
            )
        ids.append(int(encoded[0]))
    return ids


def score_choices(
    model: Any,
    tokenizer: Any,
    questions: Sequence[ChoiceQuestion],
    *,
    shots: dict[str, list[ChoiceQuestion]] | None = None,
    batch_size: int = 8,
    progress: ItemProgress | None = None,
) -> ChoiceScores:
    """Score ``questions`` with ``model``; ``shots`` maps a subject to its few-shot examples."""
    torch = require("torch", "workshop")
    if not questions:
        raise InvalidInputError("no multiple-choice questions to score; the set is empty")
    if batch_size < 1:
        raise InvalidInputError(f"batch size {batch_size} must be at least 1")
    started = time.perf_counter()
    letters = torch.tensor(letter_token_ids(tokenizer))
    encoded = [
        tokenizer.encode(
            choice_prompt(tokenizer, question, (shots or {}).get(question.subject, ())),
            add_special_tokens=False,
        )
        for question in questions
    ]

    predictions = [""] * len(questions)
    masses = [0.0] * len(questions)
    done = 0
    model.eval()
    with torch.inference_mode():
        for indexes in length_batches([len(tokens) for tokens in encoded], batch_size):
            batch = left_pad([encoded[index] for index in indexes], pad_token_id(tokenizer))
            logits = _last_position_logits(model, batch)
            log_probs = torch.log_softmax(logits, dim=-1)[:, letters]
            for row, index in enumerate(indexes):
                predictions[index] = LETTERS[int(log_probs[row].argmax())]
                masses[index] = float(log_probs[row].exp().sum())
            done += len(indexes)
            if progress is not None:
                progress(done, len(questions))

    correct = [prediction == q.answer for prediction, q in zip(predictions, questions, strict=True)]
    return ChoiceScores(
        accuracy=sum(correct) / len(questions),
        n=len(questions),
        predictions=predictions,
        letter_mass=sum(masses) / len(masses),
        seconds=time.perf_counter() - started,
        per_subject=_per_subject(questions, correct),
    )


def _last_position_logits(model: Any, batch: dict[str, Any]) -> Any:
    """Return float32 logits of the last position of each row of a left-padded batch.

    Only the last position's logits are needed: computing the others over a
    150k-token vocabulary costs more than the layers. The output layer runs
    here, on a contiguous copy of the last hidden states. With
    ``logits_to_keep=1`` instead, a model with a merged LoRA adapter copied the
    whole output matrix per batch, which tripled the time of a forward pass.
    """
    hidden = model.get_decoder()(**batch).last_hidden_state[:, -1, :]
    return model.get_output_embeddings()(hidden.contiguous()).float()


def _per_subject(questions: Sequence[ChoiceQuestion], correct: list[bool]) -> dict[str, float]:
    totals: dict[str, list[int]] = {}
    for question, hit in zip(questions, correct, strict=True):
        counts = totals.setdefault(question.subject, [0, 0])
        counts[0] += hit
        counts[1] += 1
    return {subject: hits / total for subject, (hits, total) in sorted(totals.items())}
