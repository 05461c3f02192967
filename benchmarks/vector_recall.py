"""Recall of each Qiao vector index type at fixed parameters, through the Space API.

Every index is built in its own space from the same base vectors (real
sentence embeddings, see ``vector_dataset.py``) and searched one query at a
time. Targets: FLAT recall@10 = 1.0, HNSW and IVFFLAT recall@10 >= 0.9,
IVFPQ recall@100 >= 0.95. An index type the engine does not support yet is
listed as such instead of failing the run.

    python benchmarks/vector_recall.py                 # 100,000 base vectors, 1,000 queries
    python benchmarks/vector_recall.py --base 20000 --queries 200
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import print_table, write_result  # noqa: E402
from benchmarks.vector_dataset import dataset_arguments, dataset_from  # noqa: E402
from benchmarks.vector_harness import (  # noqa: E402
    fill_space,
    limit_threads,
    mib,
    open_engine,
    qiao_searcher,
    recall_at,
    run_queries,
    vector_field,
)


def default_ncentroids(n_base: int) -> int:
    """Return the power of two nearest to 4 * sqrt(n), the usual IVF list count."""
    return 2 ** round(math.log2(4 * math.sqrt(n_base)))


def index_configs(args: argparse.Namespace, n_base: int) -> list[dict[str, Any]]:
    """Return the index types, their build and search parameters, the k and the target."""
    ncentroids = args.ncentroids or default_ncentroids(n_base)
    # faiss warns below 39 training vectors per centroid.
    training = min(n_base, 39 * ncentroids)
    ivf = {"ncentroids": ncentroids, "nprobe": args.nprobe, "training_threshold": training}
    pq = {**ivf, "nsubvector": args.nsubvector, "nbits_per_idx": 8}
    return [
        {"type": "FLAT", "params": {}, "search": {}, "k": 10, "target": 1.0},
        {
            "type": "HNSW",
            "params": {"nlinks": args.nlinks, "efConstruction": args.ef_construction},
            "search": {"efSearch": args.ef_search},
            "k": 10,
            "target": 0.9,
        },
        {
            "type": "IVFFLAT",
            "params": ivf,
            "search": {"nprobe": args.nprobe},
            "k": 10,
            "target": 0.9,
        },
        {
            "type": "IVFPQ",
            "params": pq,
            "search": {"nprobe": args.pq_nprobe, "recall_num": args.recall_num},
            "k": 100,
            "target": 0.95,
        },
    ]


def measure(engine: Any, config: dict[str, Any], dataset: Any) -> dict[str, Any]:
    """Build one space with ``config``'s index and return its recall and latency."""
    from qiao.vectordb import VectorDBError

    dimension = dataset.base.shape[1]
    row: dict[str, Any] = {key: config[key] for key in ("type", "params", "search", "k", "target")}
    field = vector_field(dimension, config["type"], config["params"])
    try:
        space, build = fill_space(engine, config["type"].lower(), [field], dataset.base)
    except VectorDBError as error:
        row["status"] = f"not supported: {error}"
        return row
    timing = run_queries(qiao_searcher(space, config["k"], config["search"]), dataset.queries)
    row.update(
        status="ok",
        recall=round(recall_at(timing.found, dataset.gt, config["k"]), 4),
        recall_at_10=round(recall_at(timing.found, dataset.gt, 10), 4),
        build_s=round(build.seconds, 1),
        index_wait_s=round(build.extra["index_wait_s"], 1),
        rss_delta_mib=mib(build.rss_delta),
        p50_ms=round(timing.percentile_ms(50), 3),
        qps=round(timing.qps, 1),
    )
    row["passed"] = row["recall"] >= config["target"] - 1e-9
    engine.drop_space("bench", config["type"].lower())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dataset_arguments(parser, base=100_000, queries=1_000)
    parser.add_argument("--types", default="FLAT,HNSW,IVFFLAT,IVFPQ", help="comma-separated")
    parser.add_argument("--threads", type=int, default=1, help="faiss threads")
    parser.add_argument("--nlinks", type=int, default=32, help="HNSW links per node (faiss M)")
    parser.add_argument("--ef-construction", type=int, default=100, help="HNSW efConstruction")
    parser.add_argument("--ef-search", type=int, default=64, help="HNSW efSearch")
    parser.add_argument("--ncentroids", type=int, default=0, help="0: 4*sqrt(n) as power of 2")
    parser.add_argument("--nprobe", type=int, default=64, help="IVFFLAT nprobe")
    parser.add_argument("--pq-nprobe", type=int, default=256, help="IVFPQ nprobe")
    parser.add_argument("--nsubvector", type=int, default=96, help="IVFPQ sub-vectors")
    parser.add_argument("--recall-num", type=int, default=400, help="IVFPQ candidates re-ranked")
    args = parser.parse_args()
    limit_threads(args.threads)

    dataset = dataset_from(args)
    wanted = {name.strip().upper() for name in args.types.split(",")}
    engine = open_engine()
    try:
        rows = [
            measure(engine, config, dataset)
            for config in index_configs(args, len(dataset.base))
            if config["type"] in wanted
        ]
    finally:
        engine.close()
        shutil.rmtree(engine.path.parent, ignore_errors=True)

    table = []
    for row in rows:
        params = {**row["params"], **row["search"]}
        shown = ", ".join(f"{key}={value}" for key, value in params.items())
        if row["status"] != "ok":
            table.append([row["type"], shown, row["k"], "-", row["target"], row["status"]])
            continue
        table.append(
            [
                row["type"],
                shown,
                row["k"],
                f"{row['recall']:.4f}",
                row["target"],
                f"{'pass' if row['passed'] else 'FAIL'}; build {row['build_s']} s, "
                f"p50 {row['p50_ms']} ms",
            ]
        )
    print_table(["index", "parameters", "k", "recall@k", "target", "result"], table)
    path = write_result(
        "vector_recall", {"dataset": dataset.meta, "threads": args.threads, "indexes": rows}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
