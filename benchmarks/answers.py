"""Answer quality per generator on the evaluation sets, through ``qiao eval answers`` code.

Uses the knowledge bases built by ``benchmarks/retrieval.py``. Extractive
answers run on every dev question; a generator runs on the first ``--limit``
questions of each set, because CPU generation takes seconds per answer.
Results go to ``benchmarks/results/answers.json``.

    python benchmarks/answers.py [--generators extractive,llama] [--limit 25] [--max-tokens 200]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, dev_questions, hardware, print_table, write_result  # noqa: E402
from benchmarks.retrieval import ALL_SETS, bench_home  # noqa: E402
from qiao.config import load_settings  # noqa: E402
from qiao.knowledge import (  # noqa: E402
    KnowledgeBaseRegistry,
    build_answerer,
    evaluate_answers,
)

COLUMNS = [
    "char_f1",
    "exact_match",
    "rouge_l",
    "answer_key_recall",
    "citation_hit_rate",
    "refusal_rate",
    "p50_ms",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default="extractive,llama")
    parser.add_argument("--limit", type=int, default=25)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--sets", default=",".join(ALL_SETS))
    args = parser.parse_args()
    root = data_dir()
    previous = Path(__file__).parent / "results" / "answers.json"
    results = json.loads(previous.read_text())["results"] if previous.is_file() else {}
    rows = []
    for generator in args.generators.split(","):
        settings = load_settings(
            bench_home(), **{"generator.kind": generator, "generator.max_tokens": args.max_tokens}
        )
        registry = KnowledgeBaseRegistry(settings)
        limit = None if generator == "extractive" else args.limit
        for name in args.sets.split(","):
            qa = dev_questions(root, name)
            qa = qa[:limit] if limit else qa
            with registry.open(name, read_only=True) as kb:
                metrics = evaluate_answers(build_answerer(kb, settings), qa)
            results[f"{name}/{generator}"] = metrics
            rows.append([name, metrics["generator"], metrics["n"], *(metrics[c] for c in COLUMNS)])
            print(rows[-1], flush=True)
    print(f"Answers; {hardware()}")
    print_table(["set", "generator", "n", *COLUMNS], rows)
    print("wrote", write_result("answers", {"results": results}))


if __name__ == "__main__":
    main()
