"""Base-versus-tuned comparison of two evaluation results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, NotFoundError

__all__ = ["METRICS", "compare_results", "read_eval_result"]

# The headline metrics of an evaluation result, in report order.
METRICS = ("domain_mc_acc", "domain_rouge_l", "domain_char_f1", "general_mc_acc")


def compare_results(
    base: dict[str, Any] | None, tuned: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Return one row per metric: ``{"metric", "base", "tuned", "delta"}``.

    A value missing on either side (a set not run, or no result) is None, and
    so is the delta.
    """
    rows = []
    for metric in METRICS:
        before = (base or {}).get(metric)
        after = (tuned or {}).get(metric)
        delta = round(after - before, 4) if before is not None and after is not None else None
        rows.append({"metric": metric, "base": before, "tuned": after, "delta": delta})
    return rows


def read_eval_result(path: Path) -> dict[str, Any]:
    """Read a result written by :func:`~qiao.workshop.evaluate.run.write_eval_result`."""
    if not path.is_file():
        raise NotFoundError(f"evaluation result {path} not found; run qiao workshop eval first")
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInputError(
            f"{path} is not a readable evaluation result ({error}); delete it and evaluate again"
        ) from error
    if not isinstance(result, dict) or not any(metric in result for metric in METRICS):
        raise InvalidInputError(
            f"{path} is not an evaluation result (no {', '.join(METRICS)}); delete it and"
            " evaluate again"
        )
    return result
