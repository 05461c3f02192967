"""Filtered vector search: recall against the exact filtered top 10, and QPS.

Each base vector gets an integer field ``bucket`` drawn uniformly from
0-99 (fixed seed), declared with a SCALAR index. The filter ``bucket < 1``
keeps 1% of the rows and ``bucket < 50`` keeps 50%. The truth is the exact
inner-product top 10 among the rows that match. Queries run one at a time,
and each keeps its best time over ``--repeats`` runs.

    python benchmarks/vector_filtered.py                     # 50,000 base vectors
    python benchmarks/vector_filtered.py --base 100000 --types HNSW,FLAT,IVFFLAT
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import print_table, write_result  # noqa: E402
from benchmarks.vector_dataset import dataset_arguments, dataset_from, exact_neighbours  # noqa: E402
from benchmarks.vector_harness import (  # noqa: E402
    fill_space,
    limit_threads,
    open_engine,
    qiao_searcher,
    recall_at,
    run_queries,
    vector_field,
)
from benchmarks.vector_recall import default_ncentroids  # noqa: E402

K = 10
SELECTIVITIES = {"1%": 1, "50%": 50}
SEED = 7


def bucket_filter(limit: int) -> dict[str, Any]:
    return {"operator": "AND", "conditions": [{"field": "bucket", "operator": "<", "value": limit}]}


def filtered_truth(base: np.ndarray, queries: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return the exact top K row ids among the rows where ``mask`` is True."""
    rows = np.flatnonzero(mask)
    return rows[exact_neighbours(base[rows], queries, K)]


def index_configs(args: argparse.Namespace, n_base: int) -> dict[str, tuple[dict, dict]]:
    """Return build and search parameters per index type."""
    ncentroids = args.ncentroids or default_ncentroids(n_base)
    ivf = {
        "ncentroids": ncentroids,
        "nprobe": args.nprobe,
        "training_threshold": min(n_base, 39 * ncentroids),
    }
    return {
        "FLAT": ({}, {}),
        "HNSW": ({"nlinks": 32, "efConstruction": 100}, {"efSearch": args.ef_search}),
        "IVFFLAT": (ivf, {"nprobe": args.nprobe}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dataset_arguments(parser, base=50_000, queries=500)
    parser.add_argument("--types", default="FLAT,HNSW,IVFFLAT", help="comma-separated")
    parser.add_argument("--threads", type=int, default=1, help="faiss threads")
    parser.add_argument("--ef-search", type=int, default=64, help="HNSW efSearch")
    parser.add_argument("--nprobe", type=int, default=64, help="IVFFLAT nprobe")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of the query set; each query keeps its best"
    )
    parser.add_argument("--ncentroids", type=int, default=0, help="0: 4*sqrt(n) as power of 2")
    args = parser.parse_args()
    limit_threads(args.threads)
    from qiao.vectordb import VectorDBError

    dataset = dataset_from(args)
    buckets = np.random.default_rng(SEED).integers(0, 100, len(dataset.base)).astype(np.int64)
    truths = {
        name: filtered_truth(dataset.base, dataset.queries, buckets < limit)
        for name, limit in SELECTIVITIES.items()
    }
    configs = index_configs(args, len(dataset.base))
    scalar = {"name": "bucket", "type": "integer", "index": {"name": "bucket", "type": "SCALAR"}}

    rows: list[dict[str, Any]] = []
    engine = open_engine()
    try:
        for index_type in [name.strip().upper() for name in args.types.split(",")]:
            params, search_params = configs[index_type]
            fields = [scalar, vector_field(dataset.base.shape[1], index_type, params)]
            try:
                space, _ = fill_space(
                    engine, index_type.lower(), fields, dataset.base, {"bucket": buckets}
                )
            except VectorDBError as error:
                rows.append({"type": index_type, "status": f"not supported: {error}"})
                continue
            for name, limit in SELECTIVITIES.items():
                search = qiao_searcher(space, K, search_params, bucket_filter(limit))
                timing = run_queries(search, dataset.queries, args.repeats)
                rows.append(
                    {
                        "type": index_type,
                        "status": "ok",
                        "search": search_params,
                        "selectivity": name,
                        "matching_rows": int(np.count_nonzero(buckets < limit)),
                        "recall": round(recall_at(timing.found, truths[name], K), 4),
                        "qps": round(timing.qps, 1),
                        "p50_ms": round(timing.percentile_ms(50), 3),
                        "p99_ms": round(timing.percentile_ms(99), 3),
                    }
                )
            engine.drop_space("bench", index_type.lower())
    finally:
        engine.close()
        shutil.rmtree(engine.path.parent, ignore_errors=True)

    table = []
    for row in rows:
        if row["status"] != "ok":
            table.append([row["type"], "-", "-", "-", "-", "-", row["status"]])
            continue
        search_text = ", ".join(f"{key}={value}" for key, value in row["search"].items()) or "-"
        table.append(
            [
                row["type"],
                search_text,
                f"{row['selectivity']} ({row['matching_rows']:,})",
                f"{row['recall']:.4f}",
                f"{row['qps']:,.0f}",
                f"{row['p50_ms']:.3f}",
                f"{row['p99_ms']:.3f}",
            ]
        )
    print_table(["index", "search", "rows matching", "recall@10", "QPS", "p50 ms", "p99 ms"], table)
    payload = {"dataset": dataset.meta, "threads": args.threads, "k": K, "results": rows}
    print(f"wrote {write_result('vector_filtered', payload)}")


if __name__ == "__main__":
    main()
