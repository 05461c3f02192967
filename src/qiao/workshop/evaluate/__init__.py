"""Evaluation of base and tuned models: domain and general multiple choice, domain answers.

:func:`evaluate_model` scores one model (a Hugging Face folder, optionally
with a LoRA adapter) and returns a JSON-ready result; :func:`compare_results`
lines up a base and a tuned result with their differences.
"""

from qiao.workshop.evaluate.compare import METRICS, compare_results, read_eval_result
from qiao.workshop.evaluate.run import (
    EVAL_SETS,
    EvalProgress,
    EvalSettings,
    evaluate_model,
    write_eval_result,
)

__all__ = [
    "EVAL_SETS",
    "METRICS",
    "EvalProgress",
    "EvalSettings",
    "compare_results",
    "evaluate_model",
    "read_eval_result",
    "write_eval_result",
]
