"""The stages of ``qiao workshop run``; each returns a JSON-ready result.

A stage gets the run context (with the results of the stages before it) and
a callback ``report(done, total)`` for its progress bar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiao.workshop.base_model import ensure_hf_base, resolve_base_source
from qiao.workshop.data import (
    PrepareOptions,
    general_zh_path,
    mix_data,
    prepare_data,
    write_med_dialogue_pairs,
)
from qiao.workshop.recipe import Recipe
from qiao.workshop.train import train_lora

__all__ = ["STAGES", "RunContext"]

logger = logging.getLogger(__name__)

Report = Callable[[float, float | None], None]


@dataclass
class RunContext:
    """What every stage may read: the recipe, folders and earlier results."""

    recipe: Recipe
    home: Path
    data_dir: Path
    run_dir: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return Path(self.results["base"]["hf_folder"])

    @property
    def adapter_dir(self) -> Path:
        return self.run_dir / "adapter"


class _BarProgress:
    """Adapts the data stages' start/advance progress to ``report``."""

    def __init__(self, report: Report) -> None:
        self._report, self._total, self._done = report, 0, 0

    def start(self, total: int) -> None:
        self._total, self._done = total, 0
        self._report(0, total)

    def advance(self, count: int) -> None:
        self._done += count
        self._report(self._done, self._total)


def base_stage(context: RunContext, report: Report) -> dict[str, Any]:
    source = resolve_base_source(context.recipe.base_model, context.home / "models")
    # Converted GGUF bases are shared by every run of this home, keyed by the file's hash.
    folder = ensure_hf_base(source, context.home / "workshop" / "hf-base")
    return {
        "source": str(source),
        "gguf": str(source) if source.is_file() else None,
        "hf_folder": str(folder),
    }


def prepare_stage(context: RunContext, report: Report) -> dict[str, Any]:
    data = context.recipe.data
    tokenizer = context.base_dir / "tokenizer.json"
    options = PrepareOptions(
        max_tokens=data.max_tokens,
        eval_fraction=data.eval_fraction,
        seed=data.seed,
        tokenizer=tokenizer if tokenizer.is_file() else None,
    )
    result = {}
    for name in ("domain", "general"):
        inputs = _source_files(context, name, getattr(data, name))
        out_dir = context.run_dir / "data" / name
        prepared = prepare_data(inputs, out_dir, options, _BarProgress(report))
        result[name] = {
            "train_file": str(out_dir / "train.jsonl"),
            "rows_in": prepared["rows_in"],
            "train": prepared["train"],
            "eval": prepared["eval"],
        }
    return result


def _source_files(context: RunContext, name: str, source: list[Path] | str) -> list[Path]:
    if source == "med_dialogue_neike":
        target = context.run_dir / "data" / "sources" / "med_dialogue_neike.jsonl"
        write_med_dialogue_pairs(context.data_dir, target)
        return [target]
    if source == "general_zh":
        return [general_zh_path(context.data_dir)]
    return list(source)


def mix_stage(context: RunContext, report: Report) -> dict[str, Any]:
    data = context.recipe.data
    prepared = context.results["prepare"]
    out = context.run_dir / "data" / "mix.jsonl"
    mixed = mix_data(
        Path(prepared["general"]["train_file"]),
        Path(prepared["domain"]["train_file"]),
        data.ratio,
        data.rows,
        out,
        data.seed,
    )
    return {
        "file": str(out),
        "rows": mixed["rows"],
        "general": mixed["sources"]["general"]["used"],
        "domain": mixed["sources"]["domain"]["used"],
        "warnings": [warning["message"] for warning in mixed["warnings"]],
    }


def train_stage(context: RunContext, report: Report) -> dict[str, Any]:
    summary = train_lora(
        context.base_dir,
        Path(context.results["mix"]["file"]),
        context.adapter_dir,
        context.recipe.train,
        lambda step, total, loss: report(step, total),
        checkpoint_dir=context.run_dir / "checkpoints",
    )
    return {key: value for key, value in summary.items() if key != "losses"}


def _eval_stage(tuned: bool) -> Callable[[RunContext, Report], dict[str, Any]]:
    def stage(context: RunContext, report: Report) -> dict[str, Any]:
        from qiao.workshop.evaluate import EvalSettings, evaluate_model, write_eval_result

        settings = EvalSettings(data_dir=context.data_dir, **context.recipe.eval)
        settings.threads = context.recipe.train.threads
        totals: dict[str, tuple[int, int]] = {}

        def progress(name: str, done: int, total: int) -> None:
            totals[name] = (done, total)
            report(sum(d for d, _ in totals.values()), sum(t for _, t in totals.values()))

        adapter = context.adapter_dir if tuned else None
        result = evaluate_model(context.base_dir, adapter, settings, progress)
        path = context.run_dir / "eval" / ("tuned.json" if tuned else "base.json")
        write_eval_result(result, path)
        return result

    return stage


def export_stage(context: RunContext, report: Report) -> dict[str, Any]:
    options = context.recipe.export
    gguf = context.results["base"]["gguf"]
    if not options.get("enabled", True):
        return {"skipped": "export.enabled is false in the recipe"}
    if gguf is None:
        return {"skipped": "the base model is a Hugging Face folder; export needs its GGUF file"}
    from qiao.workshop.export import export_adapter

    return export_adapter(
        Path(gguf),
        context.adapter_dir,
        context.run_dir / "export",
        merge=bool(options.get("merge", False)),
        quantize=options.get("quantize"),
        hf_base=context.base_dir,
    )


def deploy_stage(context: RunContext, report: Report) -> dict[str, Any]:
    options = context.recipe.deploy
    if not options.get("enabled", True):
        return {"skipped": "deploy.enabled is false in the recipe"}
    if "skipped" in context.results["export"]:
        return {"skipped": "nothing was exported"}
    from qiao.workshop.deploy import deploy_model

    name = str(options.get("name") or f"qiao-{context.recipe.name}")
    return deploy_model(name, context.run_dir / "export", context.home, replace=True)


STAGES: list[tuple[str, Callable[[RunContext, Report], dict[str, Any]]]] = [
    ("base", base_stage),
    ("prepare", prepare_stage),
    ("mix", mix_stage),
    ("train", train_stage),
    ("eval_base", _eval_stage(tuned=False)),
    ("eval_tuned", _eval_stage(tuned=True)),
    ("export", export_stage),
    ("deploy", deploy_stage),
]
