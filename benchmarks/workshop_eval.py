"""Time the workshop's evaluation of one model with the default settings.

Prints and stores each set's score, wall seconds, CPU seconds and CPU seconds
per item. Needs the ``workshop`` extra; the base is a Hugging Face folder or a
GGUF file (default: the default local model, converted once into the cache).

    python benchmarks/workshop_eval.py [--base PATH] [--adapter DIR] [--kb-answers N]

``--kb-answers N`` also asks N dev questions through a knowledge base with the
model as its generator (see ``qiao workshop eval --kb-answers``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, hardware, print_table, write_result  # noqa: E402
from qiao.workshop.base_model import ensure_hf_base, resolve_base_source  # noqa: E402
from qiao.workshop.evaluate.kb_answers import evaluate_kb_answers_with_model  # noqa: E402
from qiao.workshop.evaluate.run import EvalSettings, evaluate_model  # noqa: E402

SCORES = {
    "domain_mc": "domain_mc_acc",
    "general_mc": "general_mc_acc",
    "domain_generation": "domain_rouge_l",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="default", help="HF folder, .gguf file or 'default'")
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA adapter folder")
    parser.add_argument("--home", type=Path, default=Path.home() / ".qiao")
    parser.add_argument("--kb-answers", type=int, default=0, help="knowledge-base questions")
    args = parser.parse_args()

    source = resolve_base_source(args.base, args.home / "models")
    # Zero when the home already holds the converted folder; a GGUF's first conversion otherwise.
    started = time.perf_counter()
    base_dir = ensure_hf_base(source, args.home / "workshop" / "hf-base")
    base_seconds = round(time.perf_counter() - started, 1)
    print(f"base model ready in {base_seconds} s: {base_dir}")
    result = evaluate_model(base_dir, args.adapter, EvalSettings(data_dir=data_dir()))

    rows = []
    for name, score_key in SCORES.items():
        rows.append(
            [
                name,
                result["n"][name],
                score_key,
                result[score_key],
                result["seconds"][name],
                result["cpu_seconds"][name],
                result["seconds_per_item"][name],
            ]
        )
    print_table(["set", "n", "metric", "score", "wall s", "CPU s", "wall s/item"], rows)
    record = {"hardware": hardware(), "base_seconds": base_seconds, "result": result}
    if args.kb_answers:
        started = time.perf_counter()
        record["kb_answers"] = evaluate_kb_answers_with_model(
            base_dir, args.adapter, data_dir(), args.home, limit=args.kb_answers
        )
        record["kb_answers_seconds"] = round(time.perf_counter() - started, 1)
        print(record["kb_answers"])
    record["load_average_after"] = list(os.getloadavg())
    path = write_result("workshop_eval", record)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
