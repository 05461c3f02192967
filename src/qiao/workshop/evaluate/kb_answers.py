"""The tuned model as the generator of a knowledge-base assistant on health questions.

A few ``med_dialogue_neike`` dev questions are asked through the same
answerer as ``qiao kb ask`` (hybrid retrieval, then generation with
citations), with a :class:`~qiao.workshop.hf_generator.TransformersGenerator`
as the generator, and scored with :func:`qiao.knowledge.evaluate_answers`
(character F1, ROUGE-L, citation hit rate).

The knowledge base is the whole corpus when ``benchmarks/retrieval.py`` has
built it (``$QIAO_BENCH_HOME/kb/med_dialogue_neike``; ingesting all 7,258
passages takes about half an hour on 2 CPU cores). Otherwise a sample is
built once in ``kb_home``: the passages behind the asked questions plus
``distractors`` other passages drawn with a fixed seed, so that retrieval
still has to find the right passage among many.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

from qiao.config import load_settings
from qiao.knowledge import (
    KnowledgeBaseRegistry,
    LoadOptions,
    build_answerer,
    evaluate_answers,
    ingest_paths,
)
from qiao.knowledge.evaluate import read_qa
from qiao.llm.base import Generator
from qiao.workshop.evaluate.sets import sample_rows

__all__ = ["bench_kb_home", "evaluate_kb_answers", "evaluate_kb_answers_with_model"]

logger = logging.getLogger(__name__)

SET_NAME = "med_dialogue_neike"


def bench_kb_home() -> Path:
    """Return the home of the benchmark knowledge bases (``$QIAO_BENCH_HOME``)."""
    return Path(os.environ.get("QIAO_BENCH_HOME", Path.home() / ".cache" / "qiao-bench"))


def evaluate_kb_answers(
    generator: Generator,
    data_dir: Path,
    kb_home: Path,
    *,
    limit: int = 5,
    distractors: int = 150,
    max_tokens: int = 160,
    seed: int = 0,
) -> dict[str, Any]:
    """Ask ``limit`` dev questions through a knowledge-base answerer; return answer metrics."""
    started = time.perf_counter()
    folder = data_dir / SET_NAME
    rows = sample_rows(read_qa(folder / "qa_dev.jsonl"), limit, seed)

    home, name = _knowledge_base(folder, kb_home, rows, distractors, seed)
    settings = load_settings(home, **{"generator.max_tokens": max_tokens})
    registry = KnowledgeBaseRegistry(settings)
    with registry.open(name, read_only=True) as kb:
        metrics = evaluate_answers(build_answerer(kb, settings, generator), rows)
        documents = kb.stats()["documents"]
    metrics.update(
        knowledge_base=str(registry.path_of(name)),
        documents=documents,
        seconds=round(time.perf_counter() - started, 1),
    )
    return metrics


def evaluate_kb_answers_with_model(
    base_dir: Path,
    adapter_dir: Path | None,
    data_dir: Path,
    kb_home: Path,
    *,
    limit: int = 5,
    threads: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """Load the model of ``base_dir`` (plus ``adapter_dir``) and run :func:`evaluate_kb_answers`."""
    from qiao.workshop.hf_generator import TransformersGenerator

    generator = TransformersGenerator(base_dir, adapter_dir, threads=threads)
    try:
        return evaluate_kb_answers(generator, data_dir, kb_home, limit=limit, seed=seed)
    finally:
        generator.close()


def _knowledge_base(
    folder: Path, kb_home: Path, rows: list[Any], distractors: int, seed: int
) -> tuple[Path, str]:
    """Return (home, name) of the full benchmark base if built, else of a sampled one."""
    bench = KnowledgeBaseRegistry(load_settings(bench_kb_home()))
    if bench.exists(SET_NAME):
        logger.info("using the benchmark knowledge base %s", bench.path_of(SET_NAME))
        return bench_kb_home(), SET_NAME

    gold = set().union(*(row.gold_doc_ids for row in rows))
    name = f"{SET_NAME}-sample-{len(gold)}-{distractors}-{seed}"
    registry = KnowledgeBaseRegistry(load_settings(kb_home))
    if registry.exists(name):
        return kb_home, name

    with open(folder / "corpus.jsonl", encoding="utf-8") as handle:
        passages = [json.loads(line) for line in handle if line.strip()]
    others = [p for p in passages if p["doc_id"] not in gold]
    picked = [p for p in passages if p["doc_id"] in gold]
    picked += random.Random(seed).sample(others, min(distractors, len(others)))

    # The sample lives only inside the knowledge base, never beside the repository.
    kb_home.mkdir(parents=True, exist_ok=True)
    corpus = kb_home / f".{name}.jsonl"
    corpus.write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in picked), encoding="utf-8"
    )
    try:
        registry.create(name)
        with registry.open(name) as kb:
            options = LoadOptions(id_field="doc_id", text_field="text", title_field="title")
            report = ingest_paths(kb, [corpus], options)
        logger.info("built %s: %d passages in %.1f s", name, report.documents, report.seconds)
    except BaseException:
        if registry.exists(name):
            registry.delete(name)
        raise
    finally:
        corpus.unlink(missing_ok=True)
    return kb_home, name
