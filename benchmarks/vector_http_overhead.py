"""Breakdown of the HTTP latency of a vector search: client library, server, engine.

Builds a small HNSW space, measures the embedded search, then serves the
folder with ``qiao vectordb serve`` on 127.0.0.1 and times the same
search through httpx and through the standard library's ``http.client``
(both keep-alive), plus ``GET /``, which calls no engine method. A search
with ``?timeout=`` runs in a worker thread rather than on the event loop,
which shows what the hand-off costs. Each request keeps its best time over
``--repeats`` runs.

    python benchmarks/vector_http_overhead.py --partial
"""

from __future__ import annotations

import argparse
import base64
import http.client
import shutil
import sys
from pathlib import Path

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
    run_queries,
    vector_field,
)
from benchmarks.vector_http import AUTH, HttpSearcher, running_server  # noqa: E402

K = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dataset_arguments(parser, base=3_000, queries=500)
    parser.add_argument("--ef-search", type=int, default=64, help="HNSW efSearch")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of the query set; each query keeps its best"
    )
    args = parser.parse_args()
    limit_threads(1)

    dataset = dataset_from(args)
    params = {"efSearch": args.ef_search}
    engine = open_engine()
    field = vector_field(dataset.base.shape[1], "HNSW", {"nlinks": 32, "efConstruction": 100})
    space, _ = fill_space(engine, "hnsw", [field], dataset.base)
    timings = {
        "embedded Space.search": run_queries(
            qiao_searcher(space, K, params), dataset.queries, args.repeats
        )
    }
    engine.close()

    try:
        with running_server(engine.path, 1) as url:
            client = HttpSearcher(url, "hnsw", K)
            timings["httpx POST /document/search"] = run_queries(
                lambda query: client.search(query, params), dataset.queries, args.repeats
            )
            client.close()

            client = HttpSearcher(url, "hnsw", K, "http.client")
            timings["http.client POST /document/search"] = run_queries(
                lambda query: client.search(query, params), dataset.queries, args.repeats
            )
            client.close()

            # With ?timeout= the search runs in a worker thread instead of the event loop.
            client = HttpSearcher(url, "hnsw", K, "http.client", "?timeout=60000")
            timings["http.client POST /document/search?timeout=60000"] = run_queries(
                lambda query: client.search(query, params), dataset.queries, args.repeats
            )
            client.close()

            host, port = url.removeprefix("http://").split(":")
            connection = http.client.HTTPConnection(host, int(port))
            token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
            headers = {"Authorization": f"Basic {token}"}

            def get_root(query: np.ndarray) -> np.ndarray:
                connection.request("GET", "/", headers=headers)
                connection.getresponse().read()
                return np.empty(0, dtype=np.int64)

            timings["http.client GET /"] = run_queries(get_root, dataset.queries, args.repeats)
            connection.close()
    finally:
        shutil.rmtree(engine.path.parent, ignore_errors=True)

    rows = {
        name: {"p50_ms": round(t.percentile_ms(50), 3), "p99_ms": round(t.percentile_ms(99), 3)}
        for name, t in timings.items()
    }
    print_table(
        ["request", "p50 ms", "p99 ms"],
        [[name, row["p50_ms"], row["p99_ms"]] for name, row in rows.items()],
    )
    payload = {"dataset": dataset.meta, "search": params, "requests": rows}
    print(f"wrote {write_result('vector_http_overhead', payload)}")


if __name__ == "__main__":
    main()
