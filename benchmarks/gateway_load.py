"""Gateway throughput and latency for kb: requests at several concurrencies, cache on and off.

Starts ``qiao serve`` in a child process on 127.0.0.1 with the default local
model (llama.cpp, Qwen2.5-Coder-0.5B Q4_K_M), over a knowledge base built from
the bundled ``examples/beijing-travel``. Each run sends ``--requests``
non-streaming chat completions to ``kb:travel`` from ``concurrency`` client
threads. The questions are drawn from a fixed pool so that each distinct
question is asked about ``--repeats`` times, the repetition that a semantic
cache exists for. With the cache on, every run starts from an empty cache.
Results go to ``benchmarks/results/gateway_load.json``.

    python benchmarks/gateway_load.py [--requests 24] [--concurrency 1,4,16] [--max-tokens 96]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, hardware, print_table, write_result  # noqa: E402
from qiao.config import load_settings  # noqa: E402
from qiao.knowledge import KnowledgeBaseRegistry, ingest_paths  # noqa: E402
from qiao.llm import DEFAULT_MODEL, ensure_default_model  # noqa: E402

EXAMPLES = REPO / "examples" / "beijing-travel"
TEMPLATES = ("{}的门票多少钱？", "{}在哪里？", "{}的开放时间是什么？")
SERVE = "import sys; from qiao.cli.app import main; sys.argv[0] = 'qiao'; main()"


def questions(count: int, repeats: int, seed: int = 7) -> list[str]:
    """Return ``count`` questions in which each distinct question occurs about ``repeats`` times."""
    titles = sorted(path.stem.split("_", 1)[1] for path in EXAMPLES.glob("*.md"))
    rng = random.Random(seed)
    # One question per attraction, so that no two distinct questions are near-paraphrases.
    distinct = [
        TEMPLATES[index % len(TEMPLATES)].format(title)
        for index, title in enumerate(rng.sample(titles, len(titles)))
    ][: max(1, count // repeats)]
    pool = (distinct * (repeats + 1))[:count]
    rng.shuffle(pool)
    return pool


def start_server(home: Path, port: int, model_path: Path, cache: bool) -> subprocess.Popen:
    environment = {
        **os.environ,
        "QIAO_HOME": str(home),
        "QIAO_GENERATOR": "llama",
        "QIAO_MODEL_PATH": str(model_path),
        "QIAO_GATEWAY_CACHE": "true" if cache else "false",
        "QIAO_GATEWAY_AUDIT": "false",
        "PYTHONPATH": str(REPO / "src"),
    }
    # The server's log goes to a file: an unread pipe would fill up and block it.
    log = (home / "serve.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--lang", "en"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (home / "serve.log").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise SystemExit(f"qiao serve exited: {tail}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("qiao serve did not start within 300 s")


def run_load(port: int, pool: list[str], concurrency: int) -> dict:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    def send(question: str) -> tuple[float, int, str]:
        # No max_tokens in the request: generator.max_tokens applies, and the cache
        # stores only answers that no request-specific limit cut short.
        payload = {"model": "kb:travel", "messages": [{"role": "user", "content": question}]}
        began = time.perf_counter()
        response = httpx.post(url, json=payload, timeout=600)
        return (
            time.perf_counter() - began,
            response.status_code,
            response.headers.get("X-Qiao-Cache", ""),
        )

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as executor:
        outcomes = list(executor.map(send, pool))
    wall = time.perf_counter() - began
    # Other work on the machine slows generation; the load average records it.
    load = os.getloadavg()[0]
    latencies = sorted(seconds for seconds, status, _ in outcomes if status == 200)
    return {
        "requests": len(pool),
        "ok": len(latencies),
        "errors": len(pool) - len(latencies),
        "cache_hits": sum(1 for _, _, header in outcomes if header.startswith("hit")),
        # Answers taken from an identical question that was still generating.
        "shared": sum(1 for _, _, header in outcomes if header == "shared"),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 3),
        "p50_s": round(percentile(latencies, 0.50), 2),
        "p99_s": round(percentile(latencies, 0.99), 2),
        "load_1m": round(load, 1),
    }


def warm_up(port: int) -> None:
    """Send one question outside the pool, so that no measured request pays for loading."""
    payload = {"model": "kb:travel", "messages": [{"role": "user", "content": "故宫在哪里？"}]}
    response = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=payload, timeout=600)
    response.raise_for_status()


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    rank = max(1, round(share * len(values) + 0.5))
    return values[min(rank, len(values)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--port", type=int, default=18731)
    parser.add_argument("--model-path", type=Path, help="GGUF file (default: the default model)")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        model_path = arguments.model_path or ensure_default_model(
            Path(
                os.environ.get("QIAO_TEST_MODELS_DIR")
                or Path.home() / ".cache" / "qiao-test-models"
            )
        )
        # Room for every client: this benchmark measures service, not rejection.
        (home / "config.toml").write_text(
            f"[generator]\nmax_tokens = {arguments.max_tokens}\n[gateway]\nqueue_size = 64\n",
            encoding="utf-8",
        )
        registry = KnowledgeBaseRegistry(load_settings(home))
        registry.create("travel")
        with registry.open("travel") as kb:
            ingest_paths(kb, [EXAMPLES])

        pool = questions(arguments.requests, arguments.repeats)
        rows = []
        for cache in (False, True):
            for concurrency in (int(value) for value in arguments.concurrency.split(",")):
                shutil.rmtree(home / "gateway" / "cache", ignore_errors=True)
                server = start_server(home, arguments.port, model_path, cache)
                try:
                    warm_up(arguments.port)
                    result = run_load(arguments.port, pool, concurrency)
                finally:
                    server.terminate()
                    server.wait(timeout=60)
                row = {"cache": "on" if cache else "off", "concurrency": concurrency, **result}
                print(row, flush=True)
                rows.append(row)

    print(f"Gateway load, kb:travel, {DEFAULT_MODEL.filename}; {hardware()}")
    print_table(list(rows[0]), [list(row.values()) for row in rows])
    settings = {
        "model": model_path.name,
        "max_tokens": arguments.max_tokens,
        "distinct_questions": len(set(pool)),
        "requests_per_run": len(pool),
    }
    print("wrote", write_result("gateway_load", {"settings": settings, "runs": rows}))


if __name__ == "__main__":
    main()
