"""Helpers shared by the vector database benchmarks: thread limits, Qiao spaces, recall, timing."""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

INGEST_BATCH = 1000
INDEXED = 2
INDEX_WAIT_SECONDS = 1800
SPACE = "bench"
DB = "bench"


def limit_threads(threads: int) -> None:
    """Run faiss and BLAS on ``threads`` threads (set before heavy work starts)."""
    import faiss

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    faiss.omp_set_num_threads(threads)


def rss_bytes() -> int:
    """Return the resident memory of this process."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def mib(value: float) -> float:
    return round(value / 2**20, 1)


@dataclass
class Build:
    """How long inserting all base vectors took and how much resident memory it added."""

    seconds: float
    rss_delta: int
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def measured() -> Iterator[dict[str, float]]:
    """Time the block and measure its resident-memory delta into the yielded dict."""
    gc.collect()
    before = rss_bytes()
    result: dict[str, float] = {}
    started = time.perf_counter()
    yield result
    result["seconds"] = time.perf_counter() - started
    gc.collect()
    result["rss_delta"] = rss_bytes() - before


# Qiao spaces.


def vector_field(dimension: int, index_type: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return a Vearch vector field declaration with an inner-product index."""
    index = {"name": "emb", "type": index_type, "params": {"metric_type": "InnerProduct", **params}}
    return {"name": "emb", "type": "vector", "dimension": dimension, "index": index}


def open_engine(folder: Path | None = None):
    """Return an Engine in ``folder`` (a new temporary folder by default) with database DB."""
    from qiao.vectordb import Engine

    folder = folder or Path(tempfile.mkdtemp(prefix="qiao-vector-bench-"))
    engine = Engine(folder / "engine")
    engine.create_database(DB)
    return engine


def fill_space(
    engine: Any,
    name: str,
    fields: list[dict[str, Any]],
    base: np.ndarray,
    scalars: dict[str, np.ndarray] | None = None,
) -> tuple[Any, Build]:
    """Create space ``name``, upsert ``base`` in batches and wait until it is indexed.

    Document ids are the row numbers. The build time includes the wait.
    """
    space = engine.create_space(DB, {"name": name, "fields": fields})
    scalars = scalars or {}
    with measured() as cost:
        started = time.perf_counter()
        for start in range(0, len(base), INGEST_BATCH):
            batch = np.asarray(base[start : start + INGEST_BATCH], dtype=np.float32)
            documents = []
            for offset, row in enumerate(batch):
                document = {"_id": str(start + offset), "emb": row}
                for key, column in scalars.items():
                    document[key] = column[start + offset].item()
                documents.append(document)
            space.upsert(documents)
        upserted = time.perf_counter()
        wait_indexed(space, len(base))
        waited = time.perf_counter() - upserted
    extra = {"upsert_s": upserted - started, "index_wait_s": waited}
    return space, Build(cost["seconds"], int(cost["rss_delta"]), extra)


def wait_indexed(space: Any, rows: int) -> None:
    """Wait until every vector index holds all ``rows`` (IVF indexes train in the background)."""
    deadline = time.monotonic() + INDEX_WAIT_SECONDS
    while True:
        partition = space.describe()["partitions"][0]
        if partition["index_status"] == INDEXED and partition["index_num"] >= rows:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{space} was not indexed after {INDEX_WAIT_SECONDS} s: {partition}")
        time.sleep(0.05)


def qiao_searcher(
    space: Any, k: int, index_params: dict[str, Any], filters: dict[str, Any] | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Return a function that searches one query vector and returns the hit row ids."""

    def search(query: np.ndarray) -> np.ndarray:
        hits = space.search(
            [{"field": "emb", "feature": query}],
            filters=filters,
            limit=k,
            fields=["_id"],
            index_params=index_params,
        )[0]
        return np.fromiter((int(hit["_id"]) for hit in hits), dtype=np.int64, count=len(hits))

    return search


# Measuring.


def recall_at(found: list[np.ndarray], truth: np.ndarray, k: int) -> float:
    """Return the mean share of each query's true top ``k`` found in its first ``k`` hits."""
    total = 0
    for hits, expected in zip(found, truth, strict=True):
        total += len(set(hits[:k].tolist()) & set(expected[:k].tolist()))
    return total / (k * len(found))


@dataclass
class Timing:
    """Results and per-query latencies of running queries one at a time."""

    found: list[np.ndarray]
    latencies: np.ndarray

    @property
    def qps(self) -> float:
        return len(self.latencies) / float(self.latencies.sum())

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000)


def run_queries(
    search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray, repeats: int = 1
) -> Timing:
    """Run each query alone, after a few warm-up queries, and time every call.

    With ``repeats`` > 1 the query set runs that many times and each query
    keeps its fastest time, which filters out pauses caused by other
    processes on a shared machine.
    """
    for query in queries[:5]:
        search(query)
    found: list[np.ndarray] = []
    latencies = np.full(len(queries), np.inf)
    clock = time.perf_counter
    for repeat in range(repeats):
        for position, query in enumerate(queries):
            started = clock()
            hits = search(query)
            latencies[position] = min(latencies[position], clock() - started)
            if repeat == 0:
                found.append(hits)
    return Timing(found, latencies)


def first_reaching(points: list[dict[str, Any]], target: float, key: str) -> dict[str, Any] | None:
    """Return the first sweep point (cheapest setting first) whose ``key`` reaches ``target``."""
    for point in points:
        if point[key] >= target:
            return point
    return None
