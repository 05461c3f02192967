"""Calibrate the retrieval threshold below which Qiao answers "no answer".

For each knowledge base built by ``benchmarks/retrieval.py``, questions of
its own dev set are positives (the base holds their answer) and questions of
the other sets are negatives (another domain). The script prints, per
threshold on the best hit's dense cosine similarity, the share of positives
kept and of negatives refused, and writes ``benchmarks/results/refusal.json``.

    python benchmarks/calibrate_refusal.py [--per-set 200]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, hardware, print_table, write_result  # noqa: E402
from benchmarks.retrieval import bench_home  # noqa: E402
from qiao.config import load_settings  # noqa: E402
from qiao.knowledge import KnowledgeBaseRegistry  # noqa: E402
from qiao.knowledge.chunk_store import VECTOR  # noqa: E402

SETS = ["med_dialogue_neike", "cmrc2018", "kdconv_travel"]
THRESHOLDS = [round(0.80 + 0.01 * i, 2) for i in range(13)]


def questions(root: Path, name: str, limit: int) -> list[str]:
    rows = [json.loads(line) for line in (root / name / "qa_dev.jsonl").open(encoding="utf-8")]
    if name == "kdconv_travel":
        rows = [row for row in rows if row.get("standalone")]
    return [row["question"] for row in rows[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=200)
    args = parser.parse_args()
    root = data_dir()
    registry = KnowledgeBaseRegistry(load_settings(bench_home()))
    texts = {name: questions(root, name, args.per_set) for name in SETS}
    positives, negatives = [], []
    for name in SETS:
        with registry.open(name, read_only=True) as kb:
            for other, items in texts.items():
                for question in items:
                    vector = kb.embedder.embed_query(question)
                    hits = kb.store.search(vector, 1, VECTOR)
                    best = hits[0][1] if hits else -1.0
                    (positives if other == name else negatives).append(best)
    pos, neg = np.array(positives), np.array(negatives)
    rows, table = [], {}
    for threshold in THRESHOLDS:
        kept = float((pos >= threshold).mean())
        refused = float((neg < threshold).mean())
        table[str(threshold)] = {
            "positives_kept": round(kept, 3),
            "negatives_refused": round(refused, 3),
        }
        rows.append([threshold, f"{kept:.3f}", f"{refused:.3f}", f"{(kept + refused) / 2:.3f}"])
    print(
        f"Refusal threshold on the best dense cosine; {len(pos)} positives, "
        f"{len(neg)} negatives; {hardware()}"
    )
    print_table(["threshold", "positives kept", "negatives refused", "balanced accuracy"], rows)
    summary = {
        "positives": {
            "n": len(pos),
            "p5": round(float(np.percentile(pos, 5)), 4),
            "median": round(float(np.median(pos)), 4),
        },
        "negatives": {
            "n": len(neg),
            "p95": round(float(np.percentile(neg, 95)), 4),
            "median": round(float(np.median(neg)), 4),
        },
    }
    print(summary)
    print("wrote", write_result("refusal", {"thresholds": table, **summary}))


if __name__ == "__main__":
    main()
