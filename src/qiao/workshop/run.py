"""``qiao workshop run``: every stage of a recipe, resumable after an interruption.

Stages, in order: ``base`` (the base model as a Hugging Face folder),
``prepare`` (clean the domain and general data), ``mix``, ``train``,
``eval_base``, ``eval_tuned``, ``export`` and ``deploy``. The run folder
(``QIAO_HOME/workshop/<recipe name>``) keeps ``stages.json``, where each
finished stage records its seconds and result. Run the same recipe again
after an interruption: finished stages are skipped, and training resumes
from its last checkpoint. A changed recipe stops with an error unless
``restart`` clears the run folder first. The last stage writes
``report.md`` and ``report.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError
from qiao.fileio import write_json_atomic
from qiao.workshop.recipe import Recipe
from qiao.workshop.run_report import write_report
from qiao.workshop.run_stages import STAGES, RunContext

__all__ = ["STAGES", "STAGES_FILE", "RunProgress", "run_dir_for", "run_recipe"]

logger = logging.getLogger(__name__)

# Called with (stage, done, total); total is None while a stage has no measure yet.
RunProgress = Callable[[str, float, float | None], None]

STAGES_FILE = "stages.json"


def run_dir_for(recipe: Recipe, home: Path) -> Path:
    """Return the run folder of ``recipe`` under the Qiao home ``home``."""
    return home / "workshop" / recipe.name


def run_recipe(
    recipe: Recipe,
    home: Path,
    data_dir: Path,
    progress: RunProgress | None = None,
    *,
    restart: bool = False,
) -> dict[str, Any]:
    """Run every stage of ``recipe`` that is not finished yet and return the report."""
    run_dir = run_dir_for(recipe, home)
    recipe_hash = hashlib.sha256(recipe.path.read_bytes()).hexdigest()
    if restart and run_dir.exists():
        logger.info("removing %s to restart", run_dir)
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stages = _read_stages(run_dir, recipe_hash)

    context = RunContext(recipe=recipe, home=home, data_dir=data_dir, run_dir=run_dir)
    for name, stage in STAGES:
        entry = stages["stages"].get(name)
        if entry and entry.get("done"):
            context.results[name] = entry.get("result") or {}
            if progress is not None:
                progress(name, 1, 1)
            continue
        logger.info("stage %s started", name)
        started = time.perf_counter()

        def report(done: float, total: float | None, stage_name: str = name) -> None:
            if progress is not None:
                progress(stage_name, done, total)

        report(0, None)
        result = stage(context, report)
        seconds = round(time.perf_counter() - started, 2)
        context.results[name] = result
        stages["stages"][name] = {"done": True, "seconds": seconds, "result": result}
        write_json_atomic(run_dir / STAGES_FILE, stages)
        report(1, 1)
        logger.info("stage %s finished in %.1f s", name, seconds)

    # stages.json keeps its keys sorted; the report lists stages in run order.
    finished = {name: stages["stages"][name] for name, _ in STAGES if name in stages["stages"]}
    return write_report(run_dir, recipe, finished)


def _read_stages(run_dir: Path, recipe_hash: str) -> dict[str, Any]:
    path = run_dir / STAGES_FILE
    if not path.is_file():
        return {"recipe_sha256": recipe_hash, "stages": {}}
    stages = json.loads(path.read_text(encoding="utf-8"))
    if stages.get("recipe_sha256") != recipe_hash:
        raise InvalidInputError(
            f"the recipe changed since the run in {run_dir} started; run with --restart to start"
            " over, or restore the recipe to resume",
            key="ws_recipe_changed",
            value=str(run_dir),
        )
    return stages
