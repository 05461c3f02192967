"""Time spent by a single-query search: list layout (IVFFLAT) and per-call cost (HNSW).

Two measurements on the real-embedding data set, one thread:

- IVFFLAT: the faiss index of a Qiao IVFFLAT space, filled by Qiao's
  background indexer, searched by raw faiss before and after its inverted
  lists are copied list by list (``qiao.vectordb.index.list_layout``).
- HNSW: the same graph searched through raw faiss's Python wrapper, through
  the fewest Python steps a search that returns documents can take (array
  check, lock, faiss call, ids as dicts) and through ``Space.search``.

Queries vary from call to call, so the caches hold the index rather than the
Python code, as in real use. Each query keeps its best time over
``--repeats`` runs of the query set.

    python benchmarks/vector_call_cost.py --base 100000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import print_table, write_result  # noqa: E402
from benchmarks.vector_dataset import dataset_arguments, dataset_from  # noqa: E402
from benchmarks.vector_harness import (  # noqa: E402
    fill_space,
    limit_threads,
    open_engine,
    qiao_searcher,
    recall_at,
    run_queries,
    vector_field,
    wait_indexed,
)

K = 10


def ivf_layout(dataset: Any, ncentroids: int, nprobe: int, repeats: int) -> list[dict[str, Any]]:
    """Time raw faiss on the lists of a Qiao IVFFLAT space, before and after the new layout.

    The indexer's own layout step is switched off for this space, so the
    benchmark chooses when the lists are copied.
    """
    import faiss

    from qiao.vectordb.indexer import SpaceIndexer

    relayout = SpaceIndexer._relayout
    SpaceIndexer._relayout = lambda indexer, index: None  # type: ignore[method-assign]
    engine = open_engine()
    try:
        field = vector_field(
            dataset.base.shape[1],
            "IVFFLAT",
            {"ncentroids": ncentroids, "training_threshold": 39 * ncentroids},
        )
        space = engine.create_space("bench", {"name": "ivf", "fields": [field]})
        for start in range(0, len(dataset.base), 1000):
            rows = range(start, min(start + 1000, len(dataset.base)))
            space.upsert([{"_id": str(row), "emb": dataset.base[row]} for row in rows])
        wait_indexed(space, len(dataset.base))
        # The faiss index of the field, searched directly so that only the lists differ.
        trained = space._indexes["emb"]
        parameters = faiss.SearchParametersIVF(nprobe=nprobe)

        def search(query: np.ndarray) -> np.ndarray:
            with space._lock:
                return trained._index.search(np.atleast_2d(query), K, params=parameters)[1][0]

        rows = []
        for name in ("filled by the indexer", "laid out afresh"):
            if name == "laid out afresh":
                copied = trained.compact_lists()
                assert copied is not None and trained.install_lists(*copied)
            timing = run_queries(search, dataset.queries, repeats)
            rows.append(
                {
                    "lists": name,
                    "nprobe": nprobe,
                    "recall": round(recall_at(timing.found, dataset.gt, K), 4),
                    "qps": round(timing.qps, 1),
                    "p50_ms": round(timing.percentile_ms(50), 3),
                }
            )
        return rows
    finally:
        SpaceIndexer._relayout = relayout  # type: ignore[method-assign]
        engine.close()
        shutil.rmtree(engine.path.parent, ignore_errors=True)


def hnsw_paths(dataset: Any, ef_search: int, repeats: int) -> list[dict[str, Any]]:
    """Time one HNSW graph through raw faiss, the shortest document-returning path and Qiao."""
    import faiss

    from qiao.vectordb import Engine

    engine = open_engine()
    try:
        field = vector_field(dataset.base.shape[1], "HNSW", {"nlinks": 32, "efConstruction": 100})
        space, _ = fill_space(engine, "hnsw", [field], dataset.base)
        # The graph itself, read back from a snapshot so that no Qiao object wraps it.
        engine.close()
        graph = next(engine.path.glob("dbs/*/spaces/hnsw/segments/index-*.faiss"))
        index = faiss.deserialize_index(np.fromfile(graph, dtype=np.uint8))
        parameters = faiss.SearchParametersHNSW(efSearch=ef_search)
        ids = [str(row) for row in range(index.ntotal)]
        lock = threading.RLock()

        def raw(query: np.ndarray) -> np.ndarray:
            return index.search(np.atleast_2d(query), K, params=parameters)[1][0]

        def shortest(query: np.ndarray) -> np.ndarray:
            queries = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
            if not np.isfinite(queries).all():
                raise ValueError("query is not finite")
            with lock:
                distances, labels = index.search(queries, K, params=parameters)
                hits = [
                    {"_id": ids[row], "_score": score}
                    for row, score in zip(labels[0].tolist(), distances[0].tolist(), strict=True)
                ]
            return np.fromiter((int(hit["_id"]) for hit in hits), dtype=np.int64, count=K)

        with Engine(engine.path) as reopened:
            qiao = qiao_searcher(reopened.get_space("bench", "hnsw"), K, {"efSearch": ef_search})
            paths = [
                ("raw faiss, Python wrapper", raw),
                ("shortest path returning documents", shortest),
                ("Space.search", qiao),
            ]
            rows = []
            for name, search in paths:
                timing = run_queries(search, dataset.queries, repeats)
                rows.append(
                    {
                        "path": name,
                        "recall": round(recall_at(timing.found, dataset.gt, K), 4),
                        "us_per_query": round(1e6 / timing.qps, 1),
                    }
                )
        return rows
    finally:
        engine.close()
        shutil.rmtree(engine.path.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dataset_arguments(parser, base=100_000, queries=1_000)
    parser.add_argument("--ncentroids", type=int, default=1024, help="IVFFLAT lists")
    parser.add_argument("--nprobe", type=int, default=64, help="IVFFLAT lists searched")
    parser.add_argument("--ef-search", type=int, default=24, help="HNSW efSearch")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of the query set; each query keeps its best"
    )
    args = parser.parse_args()
    limit_threads(1)
    dataset = dataset_from(args)

    layout = ivf_layout(dataset, args.ncentroids, args.nprobe, args.repeats)
    print_table(
        ["IVFFLAT lists", "nprobe", "recall@10", "QPS", "p50 ms"],
        [[r["lists"], r["nprobe"], r["recall"], r["qps"], r["p50_ms"]] for r in layout],
    )
    paths = hnsw_paths(dataset, args.ef_search, args.repeats)
    print()
    print_table(
        [f"HNSW path (efSearch {args.ef_search})", "recall@10", "µs per query"],
        [[r["path"], r["recall"], r["us_per_query"]] for r in paths],
    )
    payload = {"dataset": dataset.meta, "threads": 1, "ivf_layout": layout, "hnsw_paths": paths}
    print(f"wrote {write_result('vector_call_cost', payload)}")


if __name__ == "__main__":
    main()
