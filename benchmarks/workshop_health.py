"""Run the health recipe end to end and record stage times and base vs tuned scores.

The recipe is ``recipes/health.yaml`` with ``--rows`` and ``--ratio`` put in
its place. The run goes to ``--home`` (default ``~/.cache/qiao-bench``), so an
interrupted benchmark resumes: run the same command again. The load average
is recorded too, because the CPU may be shared.

    python benchmarks/workshop_health.py [--rows 500] [--ratio 70:30] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, data_dir, print_table, write_result  # noqa: E402
from qiao.workshop.recipe import load_recipe  # noqa: E402
from qiao.workshop.run import run_recipe  # noqa: E402


def recipe_text(rows: int, ratio: str) -> str:
    """Return recipes/health.yaml with ``rows`` and ``ratio``; another ratio gets its own name."""
    text = (REPO / "recipes" / "health.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  rows: \d+", f"  rows: {rows}", text)
    text = re.sub(r'(?m)^  ratio: "[^"]*"', f'  ratio: "{ratio}"', text)
    if ratio != "70:30":
        text = text.replace("name: health", f"name: health-{ratio.replace(':', '-')}")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--ratio", default="70:30")
    parser.add_argument("--home", type=Path, default=Path.home() / ".cache" / "qiao-bench")
    arguments = parser.parse_args()

    arguments.home.mkdir(parents=True, exist_ok=True)
    recipe_path = (
        arguments.home / f"health-{arguments.rows}-{arguments.ratio.replace(':', '-')}.yaml"
    )
    recipe_path.write_text(recipe_text(arguments.rows, arguments.ratio), encoding="utf-8")
    load_before = os.getloadavg()
    started = time.perf_counter()
    report = run_recipe(load_recipe(recipe_path, data_dir()), arguments.home, data_dir())
    wall = time.perf_counter() - started

    print_table(["stage", "seconds"], [[name, f"{s:.1f}"] for name, s in report["stages"].items()])
    rows = []
    for metric in ("domain_mc_acc", "domain_rouge_l", "domain_char_f1", "general_mc_acc"):
        rows.append([metric, report["eval"]["base"][metric], report["eval"]["tuned"][metric]])
    print_table(["metric", "base", "tuned"], rows)
    name = "workshop_health" if arguments.ratio == "70:30" else "workshop_health_general_0"
    write_result(
        name,
        {
            "recipe": "recipes/health.yaml",
            "rows": arguments.rows,
            "ratio": arguments.ratio,
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "wall_seconds_this_call": round(wall, 1),
            **{key: report[key] for key in ("stages", "total_seconds", "mix", "eval", "train")},
        },
    )


if __name__ == "__main__":
    main()
