"""Answers generated greedily to open questions, scored against reference answers.

Each answer is scored with character-level ROUGE-L F (longest common
subsequence) and character F1 from :mod:`qiao.knowledge.metrics`, after the
same normalisation (lower case, no spaces or punctuation). Generation stops
at the model's end-of-turn token or after ``max_new_tokens``, so a long
reference is compared with a short answer: the scores compare models with
each other, not with people.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qiao.errors import InvalidInputError
from qiao.knowledge.metrics import char_f1, rouge_l
from qiao.optional import require
from qiao.workshop.evaluate.batching import left_pad, length_batches, pad_token_id
from qiao.workshop.evaluate.prompts import open_prompt
from qiao.workshop.evaluate.sets import OpenQuestion

__all__ = ["GenerationScores", "generate_answers", "score_answers", "stop_token_ids"]

logger = logging.getLogger(__name__)

# Called with (questions done, questions total) after each batch.
ItemProgress = Callable[[int, int], None]


@dataclass
class GenerationScores:
    """Mean ROUGE-L and character F1 over ``n`` answers, with the answers themselves."""

    rouge_l: float
    char_f1: float
    n: int
    answers: list[str]
    mean_new_tokens: float
    seconds: float


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Return the end-of-turn and end-of-text token ids of the model and its tokenizer."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured]
    ids = [*ids, tokenizer.eos_token_id]
    return sorted({int(token) for token in ids if token is not None})


def generate_answers(
    model: Any,
    tokenizer: Any,
    questions: Sequence[str],
    *,
    max_new_tokens: int = 96,
    repetition_penalty: float = 1.0,
    batch_size: int = 8,
    progress: ItemProgress | None = None,
) -> tuple[list[str], list[int]]:
    """Return greedy answers to ``questions`` and the number of new tokens of each."""
    torch = require("torch", "workshop")
    if max_new_tokens < 1:
        raise InvalidInputError(f"max_new_tokens {max_new_tokens} must be at least 1")
    if batch_size < 1:
        raise InvalidInputError(f"batch size {batch_size} must be at least 1")
    encoded = [
        tokenizer.encode(open_prompt(tokenizer, question), add_special_tokens=False)
        for question in questions
    ]
    stops = stop_token_ids(model, tokenizer)
    pad_id = pad_token_id(tokenizer)

    answers = [""] * len(questions)
    lengths = [0] * len(questions)
    done = 0
    model.eval()
    with torch.inference_mode():
        for indexes in length_batches([len(tokens) for tokens in encoded], batch_size):
            batch = left_pad([encoded[index] for index in indexes], pad_id)
            output = model.generate(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                max_new_tokens=max_new_tokens,
                do_sample=False,
                repetition_penalty=repetition_penalty,
                temperature=None,
                top_p=None,
                top_k=None,
                eos_token_id=stops,
                pad_token_id=pad_id,
            )
            new_tokens = output[:, batch["input_ids"].shape[1] :]
            for row, index in enumerate(indexes):
                tokens = new_tokens[row].tolist()
                # Cut at the first stop token; the rest of the row is padding.
                end = next((i for i, token in enumerate(tokens) if token in stops), len(tokens))
                answers[index] = tokenizer.decode(tokens[:end], skip_special_tokens=True).strip()
                lengths[index] = end
            done += len(indexes)
            if progress is not None:
                progress(done, len(questions))
    return answers, lengths


def score_answers(
    model: Any,
    tokenizer: Any,
    questions: Sequence[OpenQuestion],
    *,
    max_new_tokens: int = 96,
    repetition_penalty: float = 1.0,
    batch_size: int = 8,
    progress: ItemProgress | None = None,
) -> GenerationScores:
    """Generate answers to ``questions`` and score them against the reference answers."""
    if not questions:
        raise InvalidInputError("no open questions to score; the set is empty")
    started = time.perf_counter()
    answers, lengths = generate_answers(
        model,
        tokenizer,
        [question.question for question in questions],
        max_new_tokens=max_new_tokens,
        repetition_penalty=repetition_penalty,
        batch_size=batch_size,
        progress=progress,
    )
    references = [question.answer for question in questions]
    pairs = list(zip(answers, references, strict=True))
    rouge = [rouge_l(answer, reference) for answer, reference in pairs]
    f1 = [char_f1(answer, reference) for answer, reference in pairs]
    return GenerationScores(
        rouge_l=sum(rouge) / len(rouge),
        char_f1=sum(f1) / len(f1),
        n=len(questions),
        answers=answers,
        mean_new_tokens=sum(lengths) / len(lengths),
        seconds=time.perf_counter() - started,
    )
