"""Answer metrics over characters, as used for Chinese reading comprehension (CMRC 2018)."""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["char_f1", "exact_match", "normalize_answer", "rouge_l"]

_DROP = re.compile(r"[\s\u3000，。！？；：、“”‘’（）《》【】\[\]()<>,.!?;:'\"`~\-—…·]+")


def normalize_answer(text: str) -> str:
    """Lower-case and drop whitespace, punctuation and citation markers."""
    text = re.sub(r"\[\d+\]", "", text)
    return _DROP.sub("", text.lower())


def char_f1(prediction: str, reference: str) -> float:
    """Return character-level F1 between two answers after normalisation."""
    predicted = Counter(normalize_answer(prediction))
    expected = Counter(normalize_answer(reference))
    common = sum((predicted & expected).values())
    if common == 0:
        return 0.0
    precision = common / sum(predicted.values())
    recall = common / sum(expected.values())
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def rouge_l(prediction: str, reference: str) -> float:
    """Return character-level ROUGE-L F1 (longest common subsequence)."""
    a, b = normalize_answer(prediction), normalize_answer(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for char in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(
                previous[j - 1] + 1 if char == other else max(previous[j], current[j - 1])
            )
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)
