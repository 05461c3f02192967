"""Converters for the public datasets that the health recipe uses.

- ``general_zh/train.jsonl`` (a cleaned 8,000-row sample of the Chinese
  translation of Stanford Alpaca from github.com/open-chinese/alpaca-chinese-dataset,
  CC BY-NC 4.0, research only) is already in the alpaca format:
  ``qiao workshop data prepare`` reads it as it is. :func:`general_zh_path`
  names the file.
- ``med_dialogue_neike/corpus.jsonl`` (internal-medicine Q&A from
  github.com/Toyhom/Chinese-medical-dialogue-data, MIT, test use only) stores
  each entry as ``"问题：<title>\\n回答：<answer>"``. :func:`med_dialogue_pairs`
  turns entries into title → answer pairs and leaves out every entry that a
  question of ``qa_dev.jsonl`` names as its ``gold_doc_id``, so that the dev
  questions stay unseen by a model tuned on the rest.
  :func:`write_med_dialogue_pairs` writes them as a ``qa`` JSONL file.

``qiao workshop data med-dialogue --out FILE`` writes the medical pairs from
the command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, NotFoundError
from qiao.workshop.data.jsonl import commit_file, write_jsonl_temporary

__all__ = ["general_zh_path", "heldout_doc_ids", "med_dialogue_pairs", "write_med_dialogue_pairs"]

_QUESTION_PREFIX = "问题："
_ANSWER_MARKER = "\n回答："


def general_zh_path(data_dir: Path, split: str = "train") -> Path:
    """Return ``general_zh/<split>.jsonl`` (split ``train`` or ``heldout``)."""
    if split not in ("train", "heldout"):
        raise InvalidInputError(f"general_zh split {split!r} does not exist; use train or heldout")
    path = data_dir / "general_zh" / f"{split}.jsonl"
    if not path.is_file():
        raise NotFoundError(f"{path} not found; set QIAO_DATA_DIR to the evaluation data folder")
    return path


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise NotFoundError(f"{path} not found; set QIAO_DATA_DIR to the evaluation data folder")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, json.loads(line)


def heldout_doc_ids(qa_path: Path) -> set[str]:
    """Return the ``gold_doc_id`` and ``gold_doc_ids`` values of a questions file."""
    ids: set[str] = set()
    for _, row in _read_jsonl(qa_path):
        if row.get("gold_doc_id"):
            ids.add(str(row["gold_doc_id"]))
        ids.update(str(value) for value in row.get("gold_doc_ids") or ())
    return ids


def med_dialogue_pairs(data_dir: Path) -> Iterator[dict[str, str]]:
    """Yield ``{"doc_id", "department", "question", "answer"}`` for training entries.

    ``question`` is the entry title and ``answer`` the doctor's reply;
    entries behind the dev questions are left out.
    """
    folder = data_dir / "med_dialogue_neike"
    heldout = heldout_doc_ids(folder / "qa_dev.jsonl")
    corpus = folder / "corpus.jsonl"
    for number, entry in _read_jsonl(corpus):
        if entry["doc_id"] in heldout:
            continue
        text = entry["text"]
        question, marker, answer = text.partition(_ANSWER_MARKER)
        if not marker or not question.startswith(_QUESTION_PREFIX):
            raise InvalidInputError(
                f"{corpus} line {number}: text does not have the form '问题：…\\n回答：…'"
            )
        yield {
            "doc_id": entry["doc_id"],
            "department": entry.get("department", ""),
            "question": entry.get("title") or question.removeprefix(_QUESTION_PREFIX),
            "answer": answer,
        }


def write_med_dialogue_pairs(data_dir: Path, out_path: Path) -> int:
    """Write :func:`med_dialogue_pairs` to ``out_path`` as JSONL; return the row count."""
    rows = list(med_dialogue_pairs(data_dir))
    temporary = write_jsonl_temporary(out_path, rows)
    try:
        commit_file(temporary, out_path)
    finally:
        temporary.unlink(missing_ok=True)
    return len(rows)
