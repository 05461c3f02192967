"""Time the workshop's evaluation of one model with the default settings.

Prints and stores each set's score, wall seconds, CPU seconds and CPU seconds
per item. Needs the ``workshop`` extra; the base is a Hugging Face folder or a
GGUF file (default: the default local model, converted once into the cache).

    python benchmarks/workshop_eval.py [--base PATH] [--adapter DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from benchmarks.common import data_dir, hardware, print_table, write_result
from qiao.workshop.base_model import ensure_hf_base, resolve_base_source
from qiao.workshop.evaluate.run import EvalSettings, evaluate_model

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
    args = parser.parse_args()

    source = resolve_base_source(args.base, args.home / "models")
    base_dir = ensure_hf_base(source, args.home / "workshop" / "hf-base")
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
    load = os.getloadavg()
    path = write_result(
        "workshop_eval",
        {"hardware": hardware(), "load_average_after": list(load), "result": result},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
