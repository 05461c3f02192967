"""Retrieval recall of multi-turn follow-up questions, with and without query rewriting.

Uses the kdconv_travel dev questions with their ``history`` (earlier turns of
the dialogue). Each question is searched three ways:
the question alone, the last two history turns plus the question (naive
concatenation) and the query written by ``qiao.gateway.rewrite.QueryRewriter``.
Context-dependent questions ("那它的门票呢？") are the target; standalone ones
(which name the attraction) check that rewriting does not hurt.

Two retrievers are measured. ``bm25`` scores whole passages with character
unigrams and bigrams, as the reference baselines in the data set's README do,
and needs no embedding. ``hybrid`` is Qiao's retriever over a knowledge base
built once into ``$QIAO_BENCH_HOME`` (default ``~/.cache/qiao-bench``) as in
``benchmarks/retrieval.py``. Embedding the 1,154 passages took 13 to 19
minutes on 2 cores. Results go to ``benchmarks/results/rewrite_recall.json``.

With ``--model-sample N``, N context-dependent questions (seed 7) are also
rewritten by the local model (the default generator of the benchmark home)
through ``QueryRewriter.from_entities([], generator)``, which knows no titles
and so always asks the model, and compared with the entity rewrite.

    python benchmarks/rewrite_recall.py [--retrievers bm25,hybrid] [--limit N] [--model-sample N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, data_dir, hardware, print_table, write_result  # noqa: E402
from benchmarks.retrieval import bench_home, build  # noqa: E402
from qiao.config import load_settings  # noqa: E402
from qiao.gateway.rewrite import QueryRewriter  # noqa: E402
from qiao.knowledge import HybridRetriever, KnowledgeBaseRegistry, evaluate_retrieval  # noqa: E402
from qiao.knowledge.bm25 import BM25Index  # noqa: E402
from qiao.knowledge.evaluate import QARow  # noqa: E402
from qiao.knowledge.tokenizers import bigram_tokens  # noqa: E402
from qiao.llm.base import ChatMessage  # noqa: E402
from qiao.llm.factory import create_generator  # noqa: E402

SET = "kdconv_travel"
SEED = 7


def conversation(record: dict[str, Any]) -> list[ChatMessage]:
    """Return the dialogue before the question plus the question as the last user turn."""
    turns = [ChatMessage(turn["role"], turn["content"]) for turn in record["history"]]
    return [*turns, ChatMessage("user", record["question"])]


def concatenated(record: dict[str, Any]) -> str:
    """Return the last two history turns and the question joined by spaces."""
    return " ".join([*(turn["content"] for turn in record["history"][-2:]), record["question"]])


def rewrite_all(rewriter: QueryRewriter, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Rewrite every question; return the queries, latency percentiles and method counts."""
    queries, latencies, methods = [], [], Counter()
    entity_correct = entity_total = 0
    for record in records:
        rewritten = rewriter.rewrite(conversation(record))
        queries.append(rewritten.query)
        latencies.append(rewritten.seconds * 1000)
        methods[rewritten.method] += 1
        if rewritten.entity is not None:
            entity_total += 1
            entity_correct += rewritten.entity in record["gold_entities"]
    return {
        "queries": queries,
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p99_ms": round(float(np.percentile(latencies, 99)), 3),
        "methods": dict(methods),
        "entity_accuracy": round(entity_correct / entity_total, 4) if entity_total else None,
    }


class PassageBM25:
    """BM25 over whole passages with the ``search(query, top_k)`` shape of HybridRetriever."""

    def __init__(self, corpus: list[dict[str, Any]]) -> None:
        self.index = BM25Index(
            [entry["doc_id"] for entry in corpus],
            [entry["text"] for entry in corpus],
            bigram_tokens,
        )

    def search(self, query: str, top_k: int) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(rank=rank, chunk=SimpleNamespace(doc_id=doc_id))
            for rank, (doc_id, _) in enumerate(self.index.search(query, top_k), start=1)
        ]


def recall(retriever: Any, records: list[dict[str, Any]], queries: list[str]) -> dict:
    rows = [
        QARow(record["id"], query, set(record["gold_doc_ids"]), [], [])
        for record, query in zip(records, queries, strict=True)
    ]
    return evaluate_retrieval(retriever, rows, [1, 5, 10])


def measure(
    retriever: Any,
    rewriter: QueryRewriter,
    groups: dict[str, list[dict[str, Any]]],
    table: list[list[Any]],
    label: str,
) -> dict[str, Any]:
    """Return recall of each query strategy per question group; add rows to ``table``."""
    results: dict[str, Any] = {}
    for group, rows in groups.items():
        rewrite = rewrite_all(rewriter, rows)
        strategies = {
            "question only": [record["question"] for record in rows],
            "last two turns + question": [concatenated(record) for record in rows],
            "rewrite": rewrite.pop("queries"),
        }
        results[group] = {"n": len(rows), "rewriter": rewrite}
        for name, queries in strategies.items():
            metrics = recall(retriever, rows, queries)
            results[group][name] = metrics
            table.append(
                [
                    label,
                    group,
                    name,
                    metrics["n"],
                    metrics["recall@1"],
                    metrics["recall@5"],
                    metrics["recall@10"],
                    metrics["mrr@10"],
                ]
            )
    return results


def measure_model(
    retrievers: dict[str, Any],
    rewriter: QueryRewriter,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """Return recall of the entity rewrite and the model rewrite on ``rows``, per retriever."""
    settings = load_settings(bench_home())
    generator = create_generator(settings.generator, settings.models_dir)
    if generator is None:
        raise SystemExit("no local model; install qiao[llm] to compare with a model rewrite")
    model_rewriter = QueryRewriter.from_entities([], generator=generator)
    try:
        by_model = rewrite_all(model_rewriter, rows)
    finally:
        generator.close()
    by_entity = rewrite_all(rewriter, rows)
    result: dict[str, Any] = {
        "n": len(rows),
        "generator": generator.name,
        "model_rewriter": {key: value for key, value in by_model.items() if key != "queries"},
        "examples": [
            {"question": row["question"], "entity": entity, "model": model}
            for row, entity, model in list(
                zip(rows, by_entity["queries"], by_model["queries"], strict=True)
            )[:5]
        ],
    }
    for label, retriever in retrievers.items():
        result[label] = {
            "entity rewrite": recall(retriever, rows, by_entity["queries"]),
            "model rewrite": recall(retriever, rows, by_model["queries"]),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrievers", default="bm25,hybrid", help="bm25, hybrid or both.")
    parser.add_argument("--limit", type=int, help="Use only the first N questions of each group.")
    parser.add_argument(
        "--model-sample", type=int, default=0, help="Also compare a model rewrite on N questions."
    )
    args = parser.parse_args()
    root = data_dir()
    path = root / SET / "qa_dev.jsonl"
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    groups = {
        "context-dependent": [record for record in records if not record["standalone"]],
        "standalone": [record for record in records if record["standalone"]],
    }
    if args.limit:
        groups = {group: rows[: args.limit] for group, rows in groups.items()}
    corpus_path = root / SET / "corpus.jsonl"
    corpus = [json.loads(line) for line in corpus_path.open(encoding="utf-8") if line.strip()]

    results: dict[str, Any] = {}
    table: list[list[Any]] = []
    retrievers = args.retrievers.split(",")
    rewriter = QueryRewriter.from_entities(
        [entry["title"] for entry in corpus], {entry["title"]: entry["text"] for entry in corpus}
    )
    opened: dict[str, Any] = {}
    if "bm25" in retrievers:
        opened["bm25"] = PassageBM25(corpus)
        results["bm25"] = measure(opened["bm25"], rewriter, groups, table, "bm25")
    registry = KnowledgeBaseRegistry(load_settings(bench_home()))
    kb = None
    if "hybrid" in retrievers:
        build(registry, SET, corpus_path)
        kb = registry.open(SET, read_only=True)
        opened["hybrid"] = HybridRetriever(kb)
        results["hybrid"] = measure(opened["hybrid"], QueryRewriter(kb), groups, table, "hybrid")
    if args.model_sample:
        sample = random.Random(SEED).sample(groups["context-dependent"], args.model_sample)
        results["model"] = measure_model(opened, rewriter, sample)
        print("model rewrite:", json.dumps(results["model"], ensure_ascii=False, indent=1))
    if kb is not None:
        kb.close()

    print(f"{SET} dev; {hardware()}")
    print_table(["retriever", "questions", "query", "n", "R@1", "R@5", "R@10", "MRR@10"], table)
    for label, entry in results.items():
        if label == "model":
            continue
        for group in groups:
            print(label, group, "rewriter:", entry[group]["rewriter"])
    previous = RESULTS / "rewrite_recall.json"
    if previous.is_file():
        # Keep the figures of a retriever not measured in this run.
        kept = json.loads(previous.read_text(encoding="utf-8")).get("results", {})
        results = {**kept, **results}
    print("wrote", write_result("rewrite_recall", {"set": SET, "results": results}))


if __name__ == "__main__":
    main()
