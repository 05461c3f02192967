"""Retrieval and answer evaluation against question files with gold documents."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qiao.errors import InvalidInputError, NotFoundError
from qiao.knowledge.answer import Answerer
from qiao.knowledge.metrics import char_f1, exact_match, normalize_answer, rouge_l
from qiao.knowledge.retriever import HybridRetriever

__all__ = ["QARow", "evaluate_answers", "evaluate_retrieval", "read_qa"]

logger = logging.getLogger(__name__)


@dataclass
class QARow:
    """One evaluation question with its gold documents and reference answers."""

    id: str
    question: str
    gold_doc_ids: set[str]
    answers: list[str]
    answer_keys: list[str]


def read_qa(path: Path, query_field: str = "question", limit: int | None = None) -> list[QARow]:
    """Read a JSONL question file; each row needs the query field and a gold document id.

    Rows whose question is an empty string are skipped with a warning.
    """
    if limit is not None and limit < 1:
        raise InvalidInputError(f"invalid --limit {limit}; use a positive number of questions")
    if path.exists() and not path.is_file():
        raise InvalidInputError(f"question file {str(path)!r} is a folder; give a JSONL file")
    if not path.is_file():
        raise NotFoundError(
            f"question file {str(path)!r} not found", key="path_not_found", path=str(path)
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"question file {path} is not UTF-8 text: {error}") from error
    rows: list[QARow] = []
    skipped = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"{path}:{number}: invalid JSON: {error}") from error
        if not isinstance(record, dict):
            raise InvalidInputError(f"{path}:{number}: expected one JSON object per line")
        if isinstance(record.get(query_field), str) and not record[query_field].strip():
            # Real data sets contain the odd blank question; it cannot be asked.
            skipped += 1
            continue
        rows.append(_row(record, path, number, query_field))
        if limit is not None and len(rows) >= limit:
            break
    if skipped:
        logger.warning("skipped %d rows of %s with an empty %r field", skipped, path, query_field)
    if not rows:
        raise InvalidInputError(f"question file {path} contains no rows")
    return rows


def _row(record: dict[str, Any], path: Path, number: int, query_field: str) -> QARow:
    question = record.get(query_field)
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError(
            f"{path}:{number}: missing text field {query_field!r}; pass --query-field"
        )
    gold: set[str] = set()
    for field in ("gold_doc_id", "gold_doc_ids"):
        value = record.get(field)
        # Either field may contain one id or a list of ids.
        gold.update(str(item) for item in (value if isinstance(value, list) else [value]) if item)
    if not gold:
        raise InvalidInputError(f"{path}:{number}: missing 'gold_doc_id' or 'gold_doc_ids'")
    answers = record.get("answers") or ([record["answer"]] if record.get("answer") else [])
    return QARow(
        id=str(record.get("id", number)),
        question=question,
        gold_doc_ids={str(doc) for doc in gold},
        answers=[str(answer) for answer in answers],
        answer_keys=[str(key) for key in record.get("answer_keys") or []],
    )


def evaluate_retrieval(
    retriever: HybridRetriever,
    rows: list[QARow],
    ks: list[int],
    progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Return recall@k for each k, MRR@10 and search latency percentiles."""
    depth = max(max(ks), 10)
    first_hit: list[int | None] = []
    latencies = []
    for row in rows:
        began = time.perf_counter()
        hits = retriever.search(row.question, depth)
        latencies.append((time.perf_counter() - began) * 1000)
        rank = next((hit.rank for hit in hits if hit.chunk.doc_id in row.gold_doc_ids), None)
        first_hit.append(rank)
        if progress is not None:
            progress()
    result: dict[str, Any] = {"n": len(rows)}
    for k in sorted(set(ks)):
        result[f"recall@{k}"] = _mean(rank is not None and rank <= k for rank in first_hit)
    result["mrr@10"] = _mean(
        1 / rank if rank is not None and rank <= 10 else 0.0 for rank in first_hit
    )
    result["p50_ms"] = round(float(np.percentile(latencies, 50)), 2)
    result["p95_ms"] = round(float(np.percentile(latencies, 95)), 2)
    return result


def evaluate_answers(
    answerer: Answerer, rows: list[QARow], progress: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Return answer quality, citation hit rate, refusal rate and latency."""
    f1, em, rouge, key_share, key_all, cited_gold, refused, latencies = ([] for _ in range(8))
    for row, answer, seconds in _answers(answerer, rows, progress):
        latencies.append(seconds * 1000)
        refused.append(answer.refused)
        text = answer.answer
        if row.answers:
            f1.append(max(char_f1(text, reference) for reference in row.answers))
            em.append(max(exact_match(text, reference) for reference in row.answers))
            rouge.append(max(rouge_l(text, reference) for reference in row.answers))
        if row.answer_keys:
            normalized = normalize_answer(text)
            found = [normalize_answer(key) in normalized for key in row.answer_keys]
            key_share.append(sum(found) / len(found))
            key_all.append(all(found))
        if not answer.refused:
            cited_gold.append(any(c.doc_id in row.gold_doc_ids for c in answer.citations))
    return {
        "n": len(rows),
        "generator": answerer.generator_name,
        "char_f1": _mean(f1),
        "exact_match": _mean(em),
        "rouge_l": _mean(rouge),
        "answer_key_recall": _mean(key_share),
        "answer_keys_all": _mean(key_all),
        "citation_hit_rate": _mean(cited_gold),
        "refusal_rate": _mean(refused),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
    }


def _answers(
    answerer: Answerer, rows: list[QARow], progress: Callable[[], None] | None
) -> Iterator[tuple[QARow, Any, float]]:
    for row in rows:
        began = time.perf_counter()
        answer = answerer.ask(row.question)
        yield row, answer, time.perf_counter() - began
        if progress is not None:
            progress()


def _mean(values: Any) -> float | None:
    items = [float(value) for value in values]
    return round(sum(items) / len(items), 4) if items else None
