"""Speed of Qiao's vector search against raw faiss and hnswlib, and over HTTP.

One run, one data set, one thread count for everything. For each index
family (HNSW and IVFFLAT) the script builds the index in Qiao (Space API),
in raw faiss with the same type and parameters and, for HNSW, in hnswlib,
then sweeps efSearch or nprobe. Each query runs alone. Reported per engine:
build time, vectors/s, resident-memory delta, QPS at the first setting
reaching recall@10 0.90 / 0.95 / 0.99, and p50/p99 latency there, and the
QPS of one call with all queries at the setting reaching 0.95 (from CPU
time). Each query keeps its best time over ``--repeats`` runs of the query
set, because other processes share the machine. The HTTP rows serve the same
engine folder with ``qiao vectordb serve`` on 127.0.0.1 and compare the
latency at equal settings.

Targets: Qiao embedded >= 0.9x the QPS of raw faiss at the same recall;
HTTP adds <= 1.5 ms p50 per single query.

    python benchmarks/vector_speed.py                        # 50,000 base vectors
    python benchmarks/vector_speed.py --base 100000 --queries 1000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import print_table, write_result  # noqa: E402
from benchmarks.vector_baselines import faiss_hnsw, faiss_ivf, hnswlib_hnsw  # noqa: E402
from benchmarks.vector_dataset import dataset_arguments, dataset_from  # noqa: E402
from benchmarks.vector_harness import (  # noqa: E402
    Build,
    fill_space,
    first_reaching,
    limit_threads,
    mib,
    open_engine,
    qiao_searcher,
    recall_at,
    run_queries,
    vector_field,
)
from benchmarks.vector_recall import default_ncentroids  # noqa: E402

K = 10
TARGETS = (0.90, 0.95, 0.99)
HNSW_SETTINGS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
IVF_SETTINGS = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256]


def sweep(search: Any, dataset: Any, settings: list[int], repeats: int) -> list[dict[str, Any]]:
    """Run every query at each setting; stop once recall@10 reaches the highest target."""
    points = []
    for setting in settings:
        timing = run_queries(lambda query, s=setting: search(query, s), dataset.queries, repeats)
        recall = recall_at(timing.found, dataset.gt, K)
        points.append(
            {
                "setting": setting,
                "recall": round(recall, 4),
                "qps": round(timing.qps, 1),
                "p50_ms": round(timing.percentile_ms(50), 3),
                "p99_ms": round(timing.percentile_ms(99), 3),
            }
        )
        if recall >= max(TARGETS) + 0.005:
            break
    return points


def batch_qps(search: Any, dataset: Any, setting: int | None, repeats: int) -> float | None:
    """Return the QPS of searching all queries in one call at ``setting``.

    The time is the calling thread's CPU time, because a call of about a
    second is preempted many times on a shared machine. Every engine runs a
    one-thread search in the calling thread, so CPU time is its work.
    """
    if setting is None:
        return None
    best = float("inf")
    for _ in range(repeats):
        started = time.thread_time()
        search(dataset.queries, setting)
        best = min(best, time.thread_time() - started)
    return round(len(dataset.queries) / best, 1)


def summary(
    name: str, build: Build, points: list[dict[str, Any]], search: Any, dataset: Any, repeats: int
) -> dict[str, Any]:
    at_target = {f"{target:.2f}": first_reaching(points, target, "recall") for target in TARGETS}
    setting = at_target["0.95"]["setting"] if at_target["0.95"] else None
    n = len(dataset.base)
    return {
        "engine": name,
        "build_s": round(build.seconds, 2),
        "vectors_per_s": round(n / build.seconds),
        "rss_delta_mib": mib(build.rss_delta),
        **{key: round(value, 2) for key, value in build.extra.items()},
        "sweep": points,
        "at_recall": at_target,
        "batch_qps_at_0.95": batch_qps(search, dataset, setting, repeats),
    }


def qiao_space(engine: Any, family: dict[str, Any], dataset: Any) -> tuple[Any, Build]:
    field = vector_field(dataset.base.shape[1], family["type"], family["params"])
    return fill_space(engine, family["type"].lower(), [field], dataset.base)


def run_family(engine: Any, family: dict[str, Any], dataset: Any, args: Any) -> dict[str, Any]:
    """Build and sweep Qiao, raw faiss and hnswlib for one index family."""
    from qiao.vectordb import VectorDBError

    name = family["param"]
    try:
        space, build = qiao_space(engine, family, dataset)
    except VectorDBError as error:
        return {"type": family["type"], "status": f"not supported: {error}"}
    single = {setting: qiao_searcher(space, K, {name: setting}) for setting in family["settings"]}

    def qiao(queries: np.ndarray, setting: int) -> Any:
        if queries.ndim == 1:
            return single[setting](queries)
        return space.search(
            [{"field": "emb", "feature": queries}],
            limit=K,
            fields=["_id"],
            index_params={name: setting},
        )

    settings, repeats = family["settings"], args.repeats
    engines = [
        summary("Qiao", build, sweep(qiao, dataset, settings, repeats), qiao, dataset, repeats)
    ]
    baseline, build = family["faiss"](dataset.base, K, family["params"])
    points = sweep(baseline, dataset, settings, repeats)
    engines.append(summary("faiss", build, points, baseline, dataset, repeats))
    if family["type"] == "HNSW":
        baseline, build = hnswlib_hnsw(dataset.base, K, family["params"], args.threads)
        points = sweep(baseline, dataset, settings, repeats)
        engines.append(summary("hnswlib", build, points, baseline, dataset, repeats))
    return {"type": family["type"], "params": family["params"], "status": "ok", "engines": engines}


def families(args: argparse.Namespace, n_base: int) -> list[dict[str, Any]]:
    ncentroids = args.ncentroids or default_ncentroids(n_base)
    ivf = {
        "ncentroids": ncentroids,
        "nprobe": 16,
        "training_threshold": min(n_base, 39 * ncentroids),
    }
    hnsw = {"nlinks": args.nlinks, "efConstruction": args.ef_construction}
    chosen = {name.strip().upper() for name in args.types.split(",")}
    return [
        family
        for family in (
            {
                "type": "HNSW",
                "params": hnsw,
                "param": "efSearch",
                "settings": HNSW_SETTINGS,
                "faiss": faiss_hnsw,
            },
            {
                "type": "IVFFLAT",
                "params": ivf,
                "param": "nprobe",
                "settings": IVF_SETTINGS,
                "faiss": faiss_ivf,
            },
        )
        if family["type"] in chosen
    ]


def http_comparison(
    engine_path: Path, results: list[dict[str, Any]], dataset: Any, threads: int, repeats: int
) -> list[dict[str, Any]]:
    """Serve the closed engine folder and search it over HTTP at Qiao's sweep settings.

    Each setting runs with the standard library's client and with httpx, so
    that the client's own cost shows apart from the server's.
    """
    from benchmarks.vector_http import HttpSearcher, running_server

    rows = []
    with running_server(engine_path, threads) as url:
        for family in results:
            if family["status"] != "ok":
                continue
            qiao = family["engines"][0]
            embedded = {point["setting"]: point for point in qiao["sweep"]}
            chosen = {point["setting"] for point in qiao["at_recall"].values() if point}
            name = "efSearch" if family["type"] == "HNSW" else "nprobe"
            for setting in sorted(chosen):
                params = {name: setting}
                row: dict[str, Any] = {
                    "type": family["type"],
                    "setting": setting,
                    "embedded_p50_ms": embedded[setting]["p50_ms"],
                }
                for kind in ("http.client", "httpx"):
                    client = HttpSearcher(url, family["type"].lower(), K, kind)
                    timing = run_queries(
                        lambda query, c=client, p=params: c.search(query, p),
                        dataset.queries,
                        repeats,
                    )
                    client.close()
                    p50 = timing.percentile_ms(50)
                    row["recall"] = round(recall_at(timing.found, dataset.gt, K), 4)
                    row[kind] = {
                        "p50_ms": round(p50, 3),
                        "p99_ms": round(timing.percentile_ms(99), 3),
                        "added_p50_ms": round(p50 - embedded[setting]["p50_ms"], 3),
                        "qps": round(timing.qps, 1),
                    }
                rows.append(row)
    return rows


def flat_ingest(engine: Any, dataset: Any) -> dict[str, Any]:
    """Upsert every base vector into a FLAT space: storage and log cost without a graph."""
    field = vector_field(dataset.base.shape[1], "FLAT", {})
    _, build = fill_space(engine, "ingest", [field], dataset.base)
    engine.drop_space("bench", "ingest")
    return {
        "seconds": round(build.seconds, 2),
        "vectors_per_s": round(len(dataset.base) / build.seconds),
        "rss_delta_mib": mib(build.rss_delta),
    }


def print_tables(results: list[dict[str, Any]], http: list[dict[str, Any]]) -> None:
    for family in results:
        if family["status"] != "ok":
            print(f"{family['type']}: {family['status']}")
            continue
        faiss_points = family["engines"][1]["at_recall"]
        rows = []
        for engine in family["engines"]:
            cells = [engine["engine"], engine["build_s"], engine["vectors_per_s"]]
            cells.append(engine["rss_delta_mib"])
            for target, point in engine["at_recall"].items():
                reference = faiss_points[target]
                if point is None:
                    cells.append("-")
                    continue
                ratio = f" ({point['qps'] / reference['qps']:.2f}x)" if reference else ""
                cells.append(f"{point['qps']:,.0f} @{point['setting']}{ratio}")
            latency = engine["at_recall"]["0.95"] or engine["sweep"][-1]
            cells.append(f"{latency['p50_ms']:.3f} / {latency['p99_ms']:.3f}")
            batch = engine["batch_qps_at_0.95"]
            cells.append(f"{batch:,.0f}" if batch else "-")
            rows.append(cells)
        print(f"\n{family['type']} {family['params']}")
        headers = ["engine", "build s", "vectors/s", "RSS MiB"]
        headers += [f"QPS @R{target}" for target in ("0.90", "0.95", "0.99")]
        print_table([*headers, "p50 / p99 ms @R0.95", "batch QPS @R0.95"], rows)
    if http:
        print()
        print_table(
            [
                "index",
                "setting",
                "recall@10",
                "embedded p50",
                "http.client p50 (added)",
                "httpx p50 (added)",
                "httpx p99",
            ],
            [
                [
                    row["type"],
                    row["setting"],
                    row["recall"],
                    row["embedded_p50_ms"],
                    f"{row['http.client']['p50_ms']} ({row['http.client']['added_p50_ms']})",
                    f"{row['httpx']['p50_ms']} ({row['httpx']['added_p50_ms']})",
                    row["httpx"]["p99_ms"],
                ]
                for row in http
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dataset_arguments(parser, base=50_000, queries=1_000)
    parser.add_argument("--types", default="HNSW,IVFFLAT", help="index families, comma-separated")
    parser.add_argument("--threads", type=int, default=1, help="threads for every engine")
    parser.add_argument("--nlinks", type=int, default=32, help="HNSW links per node (faiss M)")
    parser.add_argument("--ef-construction", type=int, default=100, help="HNSW efConstruction")
    parser.add_argument("--ncentroids", type=int, default=0, help="0: 4*sqrt(n) as power of 2")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of the query set; each query keeps its best"
    )
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP server rows")
    args = parser.parse_args()
    limit_threads(args.threads)

    dataset = dataset_from(args)
    engine = open_engine()
    try:
        results = [
            run_family(engine, family, dataset, args)
            for family in families(args, len(dataset.base))
        ]
        # Last, so that the memory this space frees cannot hide the growth of another engine.
        ingest = flat_ingest(engine, dataset)
        engine.close()
        http = (
            []
            if args.no_http
            else http_comparison(engine.path, results, dataset, args.threads, args.repeats)
        )
    finally:
        engine.close()
        shutil.rmtree(engine.path.parent, ignore_errors=True)

    print(f"Qiao FLAT ingest: {ingest['vectors_per_s']:,} vectors/s ({ingest['seconds']} s)")
    print_tables(results, http)
    payload = {
        "dataset": dataset.meta,
        "threads": args.threads,
        "k": K,
        "flat_ingest": ingest,
        "families": results,
        "http": http,
    }
    print(f"wrote {write_result('vector_speed', payload)}")


if __name__ == "__main__":
    main()
