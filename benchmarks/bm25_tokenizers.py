"""Compare BM25 tokenizers (character bigrams vs jieba) on the evaluation sets.

Indexes each set's whole passages (``corpus.jsonl``) with Qiao's BM25 index
and each tokenizer, runs the dev questions and prints recall@1/5/10 and
MRR@10. Results go to ``benchmarks/results/bm25_tokenizers.json``.

    python benchmarks/bm25_tokenizers.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, hardware, print_table, write_result  # noqa: E402
from qiao.knowledge.bm25 import BM25Index  # noqa: E402
from qiao.knowledge.tokenizers import get_tokenizer  # noqa: E402

SETS = [
    ("med_dialogue_neike", None),
    ("cmrc2018", None),
    ("kdconv_travel", "standalone"),
]


def ranks(index: BM25Index, questions: list[dict]) -> list[int | None]:
    found = []
    for row in questions:
        gold = set(row.get("gold_doc_ids") or [row["gold_doc_id"]])
        keys = [key for key, _ in index.search(row["question"], 10)]
        found.append(next((i + 1 for i, key in enumerate(keys) if key in gold), None))
    return found


def summarize(found: list[int | None]) -> dict[str, float]:
    n = len(found)
    result = {f"recall@{k}": sum(r is not None and r <= k for r in found) / n for k in (1, 5, 10)}
    result["mrr@10"] = sum(1 / r for r in found if r is not None) / n
    return {key: round(value, 3) for key, value in result.items()}


def main() -> None:
    # No options, but --help prints the usage instead of running the whole benchmark.
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    root = data_dir()
    rows, results = [], {}
    for name, subset in SETS:
        corpus = [
            json.loads(line) for line in (root / name / "corpus.jsonl").open(encoding="utf-8")
        ]
        questions = [
            json.loads(line) for line in (root / name / "qa_dev.jsonl").open(encoding="utf-8")
        ]
        if subset == "standalone":
            questions = [row for row in questions if row.get("standalone")]
        label = f"{name} ({subset})" if subset else name
        for tokenizer in ("bigram", "jieba"):
            began = time.perf_counter()
            index = BM25Index(
                [row["doc_id"] for row in corpus],
                [row["text"] for row in corpus],
                get_tokenizer(tokenizer),
            )
            built = time.perf_counter() - began
            metrics = summarize(ranks(index, questions))
            results[f"{label}/{tokenizer}"] = {
                **metrics,
                "n": len(questions),
                "index_s": round(built, 2),
            }
            rows.append([label, tokenizer, len(questions), *metrics.values(), f"{built:.2f}"])
    print(f"BM25 tokenizers, whole passages; {hardware()}")
    print_table(["set", "tokenizer", "n", "R@1", "R@5", "R@10", "MRR@10", "index s"], rows)
    print("wrote", write_result("bm25_tokenizers", {"results": results}))


if __name__ == "__main__":
    main()
