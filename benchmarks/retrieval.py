"""Retrieval quality, search latency and ingestion speed on the evaluation sets.

For each set, builds a knowledge base from ``corpus.jsonl`` (one record per
passage, with its own document id) in a benchmark home, then runs the dev
questions through the same code as ``qiao eval retrieval``. Knowledge bases
are kept in ``$QIAO_BENCH_HOME`` (default ``~/.cache/qiao-bench``), so a
second run only measures retrieval; delete that folder to measure ingestion
again. Results go to ``benchmarks/results/retrieval.json``.

    python benchmarks/retrieval.py [--sets med_dialogue_neike,cmrc2018,kdconv_travel] [--rrf-k K]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, dev_questions, hardware, print_table, write_result  # noqa: E402
from qiao.config import load_settings  # noqa: E402
from qiao.knowledge import (  # noqa: E402
    HybridRetriever,
    KnowledgeBaseRegistry,
    LoadOptions,
    evaluate_retrieval,
    ingest_paths,
)

ALL_SETS = ["med_dialogue_neike", "cmrc2018", "kdconv_travel"]


def bench_home() -> Path:
    return Path(os.environ.get("QIAO_BENCH_HOME", Path.home() / ".cache" / "qiao-bench"))


def build(registry: KnowledgeBaseRegistry, name: str, corpus: Path) -> dict:
    """Create and fill the knowledge base ``name``; return ingestion figures if it ingested."""
    if not registry.exists(name):
        registry.create(name)
    with registry.open(name) as kb:
        options = LoadOptions(id_field="doc_id", text_field="text", title_field="title")
        report = ingest_paths(kb, [corpus], options)
    if not report.chunks:
        return {}
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "seconds": round(report.seconds, 1),
        "documents_per_s": round(report.documents / report.seconds, 2),
        "embed_share": round(report.embed_seconds / report.seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(ALL_SETS))
    parser.add_argument("--rrf-k", type=int, help="Override the fusion constant k.")
    args = parser.parse_args()
    root = data_dir()
    settings = load_settings(bench_home(), **{"retrieval.rrf_k": args.rrf_k})
    registry = KnowledgeBaseRegistry(settings)
    previous = Path(__file__).parent / "results" / "retrieval.json"
    results = json.loads(previous.read_text())["results"] if previous.is_file() else {}
    rows = []
    for name in args.sets.split(","):
        ingestion = build(registry, name, root / name / "corpus.jsonl")
        qa = dev_questions(root, name)
        label = f"{name} (standalone)" if name == "kdconv_travel" else name
        if args.rrf_k is not None:
            label = f"{label} rrf_k={args.rrf_k}"
        with registry.open(name, read_only=True) as kb:
            retriever = HybridRetriever(kb)
            metrics = evaluate_retrieval(retriever, qa, [1, 5, 10])
        entry = {**metrics, **({"ingestion": ingestion} if ingestion else {})}
        if not ingestion and label in results and "ingestion" in results[label]:
            entry["ingestion"] = results[label]["ingestion"]
        results[label] = entry
        rows.append(
            [
                label,
                metrics["n"],
                metrics["recall@1"],
                metrics["recall@5"],
                metrics["recall@10"],
                metrics["mrr@10"],
                metrics["p50_ms"],
                metrics["p95_ms"],
            ]
        )
    print(f"Hybrid retrieval, 4 fused lists, rrf_k={settings.retrieval.rrf_k}; {hardware()}")
    print_table(["set", "n", "R@1", "R@5", "R@10", "MRR@10", "p50 ms", "p95 ms"], rows)
    for label, entry in results.items():
        if "ingestion" in entry:
            print(label, "ingestion:", entry["ingestion"])
    print(
        "wrote",
        write_result(
            "retrieval", {"settings": {"rrf_k": settings.retrieval.rrf_k}, "results": results}
        ),
    )


if __name__ == "__main__":
    main()
