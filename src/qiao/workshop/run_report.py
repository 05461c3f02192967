"""The final report of a workshop run: ``report.json`` and ``report.md``.

``report.json`` has ``stages`` (seconds per stage, in this run or the run
that finished it), ``mix`` (general and domain rows), ``eval`` (``base`` and
``tuned``, each with ``domain_mc_acc``, ``domain_rouge_l``,
``domain_char_f1``, ``general_mc_acc`` and ``n``), ``train``, ``export`` and
``deploy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qiao.fileio import write_json_atomic
from qiao.workshop.recipe import Recipe

__all__ = ["METRIC_NAMES", "write_report"]

METRIC_NAMES = ("domain_mc_acc", "domain_rouge_l", "domain_char_f1", "general_mc_acc")


def write_report(run_dir: Path, recipe: Recipe, stages: dict[str, Any]) -> dict[str, Any]:
    """Build the report from the finished stages, write both files and return it."""
    results = {name: entry.get("result") or {} for name, entry in stages.items()}
    mix = results.get("mix", {})
    train = results.get("train", {})
    report = {
        "recipe": recipe.name,
        "run_dir": str(run_dir),
        "stages": {name: entry["seconds"] for name, entry in stages.items()},
        "total_seconds": round(sum(entry["seconds"] for entry in stages.values()), 2),
        "mix": {"general": mix.get("general"), "domain": mix.get("domain")},
        "eval": {
            "base": _metrics(results.get("eval_base", {})),
            "tuned": _metrics(results.get("eval_tuned", {})),
        },
        "train": {
            key: train.get(key)
            for key in ("steps", "trained_rows", "truncated_rows", "loss_first", "loss_last")
        }
        | {"device": train.get("device"), "dtype": train.get("dtype")},
        "adapter": train.get("adapter"),
        "export": results.get("export", {}),
        "deploy": results.get("deploy", {}),
    }
    write_json_atomic(run_dir / "report.json", report)
    (run_dir / "report.md").write_text(_markdown(report), encoding="utf-8")
    return report


def _metrics(result: dict[str, Any]) -> dict[str, Any]:
    return {name: result.get(name) for name in METRIC_NAMES} | {"n": result.get("n", {})}


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# Workshop run: {report['recipe']}", "", "## Stages", ""]
    lines += ["| stage | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in report["stages"].items()]
    lines += [f"| total | {report['total_seconds']:.1f} |", ""]

    mix = report["mix"]
    lines += ["## Training data", ""]
    lines += [f"{mix['general']} general rows and {mix['domain']} domain rows."]
    train = report["train"]
    if train.get("steps"):
        lines += [
            f"{train['steps']} optimizer steps on {train['device']} ({train['dtype']} weights);"
            f" loss {train['loss_first']} at the first step, {train['loss_last']} at the last.",
        ]
    lines += ["", "## Evaluation", "", "| metric | base | tuned | change |", "|---|---:|---:|---:|"]
    base, tuned = report["eval"]["base"], report["eval"]["tuned"]
    for name in METRIC_NAMES:
        lines.append(
            f"| {name} | {_cell(base[name])} | {_cell(tuned[name])} |"
            f" {_change(base[name], tuned[name])} |"
        )
    counts = ", ".join(f"{name} {count}" for name, count in (base.get("n") or {}).items())
    if counts:
        lines += ["", f"Items per set: {counts}."]

    export, deploy = report["export"], report["deploy"]
    lines += ["", "## Export and deployment", ""]
    if "skipped" in export:
        lines.append(f"Export skipped: {export['skipped']}.")
    elif export:
        lines.append(f"Adapter GGUF: `{export.get('adapter_gguf')}`.")
        if export.get("merged_gguf"):
            lines.append(f"Merged GGUF: `{export['merged_gguf']}`.")
    if "skipped" in deploy:
        lines.append(f"Deployment skipped: {deploy['skipped']}.")
    elif deploy.get("name"):
        lines.append(f"Deployed as `{deploy['name']}`: `qiao ask --model {deploy['name']} ...`.")
    return "\n".join(lines) + "\n"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _change(base: float | None, tuned: float | None) -> str:
    return "-" if base is None or tuned is None else f"{tuned - base:+.3f}"
