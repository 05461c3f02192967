"""Evaluate a base model, or a base model with a LoRA adapter, on the workshop's sets.

Three sets, each sampled with a fixed seed so that base and tuned models see
the same items:

- ``domain_mc``: CMMLU medical subjects (``domain_eval/test.jsonl``), accuracy
  from letter log-probabilities (:mod:`.mc`);
- ``domain_generation``: held-out patient questions
  (``med_dialogue_neike/qa_dev.jsonl``), greedy answers scored with
  character ROUGE-L and F1 (:mod:`.generation`);
- ``general_mc``: CMMLU general subjects (``general_eval/test.jsonl``), the
  check for forgetting.

The defaults (50 questions per multiple-choice set, 16 open questions of at
most 64 new tokens, zero-shot) cost about 80 to 90 CPU seconds for the default 0.5B
model in bfloat16, about 0.55 per question and 1.5 to 1.8 per generated answer. That
was measured by benchmarks/workshop_eval.py on a 2-core AMD EPYC (Zen 4).
With 50 questions, one standard error of an accuracy near 0.3 is about 6.5
points.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError
from qiao.fileio import write_json_atomic
from qiao.optional import require
from qiao.workshop.evaluate.generation import score_answers
from qiao.workshop.evaluate.loading import load_model, resolve_dtype
from qiao.workshop.evaluate.mc import score_choices
from qiao.workshop.evaluate.sets import (
    ChoiceQuestion,
    read_choice_questions,
    read_open_questions,
    sample_rows,
)

__all__ = ["EVAL_SETS", "EvalProgress", "EvalSettings", "evaluate_model", "write_eval_result"]

logger = logging.getLogger(__name__)

EVAL_SETS = ("domain_mc", "domain_generation", "general_mc")

# Called with (set name, items done, items total) while a set is scored.
EvalProgress = Callable[[str, int, int], None]

# How many generated answers the result keeps, to show in reports.
EXAMPLES_KEPT = 3


@dataclass
class EvalSettings:
    """Sets, sample sizes and model settings of one evaluation.

    A limit of ``None`` means every item of the set.
    """

    data_dir: Path | None = None
    mc_limit: int | None = 50
    generation_limit: int | None = 16
    max_new_tokens: int = 64
    # Greedy decoding of a small model tends to repeat a phrase until max_new_tokens.
    # A mild penalty on repeated tokens (1.0: none) applies to base and tuned alike.
    repetition_penalty: float = 1.1
    # Few-shot examples per question from dev_fewshot.jsonl (same subject); 0 is zero-shot.
    shots: int = 0
    # Prompts per forward pass for multiple choice, and answers generated together.
    batch_size: int = 8
    generation_batch_size: int = 16
    # Weights in memory: auto (bfloat16 where the CPU has bfloat16 instructions), float32, bfloat16.
    dtype: str = "auto"
    seed: int = 0
    threads: int = 2
    sets: tuple[str, ...] = field(default=EVAL_SETS)

    def resolved_data_dir(self) -> Path:
        if self.data_dir is not None:
            return Path(self.data_dir)
        value = os.environ.get("QIAO_DATA_DIR")
        if not value:
            raise InvalidInputError(
                "no evaluation data folder given; pass a data folder or set QIAO_DATA_DIR",
                key="ws_no_data_dir",
            )
        return Path(value)

    def check(self) -> None:
        unknown = [name for name in self.sets if name not in EVAL_SETS]
        if unknown or not self.sets:
            raise InvalidInputError(
                f"unknown or no evaluation sets {', '.join(unknown) or '(none)'}; "
                f"choose from {', '.join(EVAL_SETS)}"
            )
        if not 0 <= self.shots <= 5:
            raise InvalidInputError(f"shots {self.shots} must be between 0 and 5")
        if self.threads < 1:
            raise InvalidInputError(f"threads {self.threads} must be at least 1")
        if not 1.0 <= self.repetition_penalty <= 2.0:
            raise InvalidInputError(
                f"repetition_penalty {self.repetition_penalty} must be between 1.0 (none) and 2.0"
            )
        resolve_dtype(self.dtype)


def evaluate_model(
    base_dir: Path,
    adapter_dir: Path | None,
    settings: EvalSettings | None = None,
    progress: EvalProgress | None = None,
) -> dict[str, Any]:
    """Score the model on the selected sets and return the result as a JSON-ready dict.

    Keys: ``domain_mc_acc``, ``domain_rouge_l``, ``domain_char_f1``,
    ``general_mc_acc`` (None for a set not run), ``n`` and ``seconds`` per
    set, ``seconds_per_item``, ``settings`` and a few generated ``examples``.
    """
    settings = settings or EvalSettings()
    settings.check()
    torch = require("torch", "workshop")
    torch.set_num_threads(settings.threads)
    data_dir = settings.resolved_data_dir()

    # Read every set before loading the model, so that a missing file fails fast.
    domain_mc = _choice_set(data_dir / "domain_eval", settings, "domain_mc")
    general_mc = _choice_set(data_dir / "general_eval", settings, "general_mc")
    open_questions = None
    if "domain_generation" in settings.sets:
        rows = read_open_questions(data_dir / "med_dialogue_neike" / "qa_dev.jsonl")
        open_questions = sample_rows(rows, settings.generation_limit, settings.seed)

    started = time.perf_counter()
    cpu_started = time.process_time()
    adapter = Path(adapter_dir) if adapter_dir else None
    model, tokenizer = load_model(Path(base_dir), adapter, resolve_dtype(settings.dtype))
    result: dict[str, Any] = {
        "model": {"base": str(base_dir), "adapter": str(adapter_dir) if adapter_dir else None},
        "domain_mc_acc": None,
        "domain_rouge_l": None,
        "domain_char_f1": None,
        "general_mc_acc": None,
        "n": {},
        "seconds": {"load": round(time.perf_counter() - started, 2)},
        "seconds_per_item": {},
        # CPU time of this process (all threads): on a busy machine it shows the
        # cost that wall-clock seconds hide.
        "cpu_seconds": {"load": round(time.process_time() - cpu_started, 2)},
        "details": {},
        "settings": {
            **asdict(settings),
            "data_dir": str(data_dir),
            "sets": list(settings.sets),
            "dtype": resolve_dtype(settings.dtype),
        },
        "examples": [],
    }

    for name, key, questions, shots in (
        ("domain_mc", "domain_mc_acc", *domain_mc),
        ("general_mc", "general_mc_acc", *general_mc),
    ):
        if questions is None:
            continue
        cpu_before = time.process_time()
        scores = score_choices(
            model,
            tokenizer,
            questions,
            shots=shots,
            batch_size=settings.batch_size,
            progress=_for_set(progress, name),
        )
        result[key] = round(scores.accuracy, 4)
        _record(result, name, scores.n, scores.seconds, time.process_time() - cpu_before)
        result["details"][name] = {
            "letter_mass": round(scores.letter_mass, 4),
            "per_subject": {s: round(a, 4) for s, a in scores.per_subject.items()},
        }

    if open_questions is not None:
        cpu_before = time.process_time()
        scores = score_answers(
            model,
            tokenizer,
            open_questions,
            max_new_tokens=settings.max_new_tokens,
            repetition_penalty=settings.repetition_penalty,
            batch_size=settings.generation_batch_size,
            progress=_for_set(progress, "domain_generation"),
        )
        result["domain_rouge_l"] = round(scores.rouge_l, 4)
        result["domain_char_f1"] = round(scores.char_f1, 4)
        _record(
            result, "domain_generation", scores.n, scores.seconds, time.process_time() - cpu_before
        )
        result["details"]["domain_generation"] = {
            "mean_new_tokens": round(scores.mean_new_tokens, 1)
        }
        result["examples"] = [
            {"id": q.id, "question": q.question, "answer": answer, "reference": q.answer}
            for q, answer in zip(open_questions[:EXAMPLES_KEPT], scores.answers, strict=False)
        ]

    result["seconds"]["total"] = round(time.perf_counter() - started, 2)
    result["cpu_seconds"]["total"] = round(time.process_time() - cpu_started, 2)
    logger.info("evaluated %s in %.1f s", result["model"], result["seconds"]["total"])
    return result


def write_eval_result(result: dict[str, Any], path: Path) -> Path:
    """Write ``result`` atomically as JSON (e.g. to RUN/eval/base.json) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, result)
    return path


def _choice_set(
    folder: Path, settings: EvalSettings, name: str
) -> tuple[list[ChoiceQuestion] | None, dict[str, list[ChoiceQuestion]]]:
    if name not in settings.sets:
        return None, {}
    questions = sample_rows(
        read_choice_questions(folder / "test.jsonl"), settings.mc_limit, settings.seed
    )
    shots: dict[str, list[ChoiceQuestion]] = {}
    if settings.shots:
        for example in read_choice_questions(folder / "dev_fewshot.jsonl"):
            shots.setdefault(example.subject, []).append(example)
        shots = {subject: rows[: settings.shots] for subject, rows in shots.items()}
    return questions, shots


def _record(result: dict[str, Any], name: str, n: int, seconds: float, cpu: float) -> None:
    result["n"][name] = n
    result["seconds"][name] = round(seconds, 2)
    result["cpu_seconds"][name] = round(cpu, 2)
    result["seconds_per_item"][name] = round(seconds / n, 3)


def _for_set(progress: EvalProgress | None, name: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(name, done, total)
