"""``qiao workshop eval``: score the base and the tuned model side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qiao.cli.common import HomeOption, JsonOption, LangOption, console, error_console, setup, t
from qiao.cli.progress import progress_bar
from qiao.errors import InvalidInputError
from qiao.i18n import _add
from qiao.workshop.evaluate import (
    EVAL_SETS,
    EvalSettings,
    compare_results,
    evaluate_model,
    read_eval_result,
    write_eval_result,
)
from qiao.workshop.evaluate.kb_answers import evaluate_kb_answers_with_model
from qiao.workshop.evaluate.loading import DTYPES

__all__ = ["app"]

# Commands merged into the ``qiao workshop`` group.
app = typer.Typer()

MODELS = ("base", "tuned")
DEFAULTS = EvalSettings()
# Folder under the Qiao home for base models dequantised from GGUF files.
HF_BASE_CACHE = Path("workshop") / "hf-base"


@app.command("eval")
def evaluate(
    run: Annotated[
        Path | None,
        typer.Option(
            "--run",
            help="Workshop run folder: reads RUN/base and RUN/adapter, writes RUN/eval.",
            show_default=False,
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            help="Base model: Hugging Face folder, .gguf file or 'default' (default: RUN/base).",
            show_default=False,
        ),
    ] = None,
    adapter: Annotated[
        Path | None,
        typer.Option(help="LoRA adapter folder (default: RUN/adapter).", show_default=False),
    ] = None,
    models: Annotated[
        str, typer.Option(help="Models to evaluate: base, tuned or base,tuned.")
    ] = "base,tuned",
    sets: Annotated[str, typer.Option(help=f"Sets: {','.join(EVAL_SETS)}.")] = ",".join(EVAL_SETS),
    mc_limit: Annotated[
        int, typer.Option(help="Questions per multiple-choice set (0: all).")
    ] = DEFAULTS.mc_limit or 0,
    generation_limit: Annotated[
        int, typer.Option(help="Open questions answered by generation (0: all).")
    ] = DEFAULTS.generation_limit or 0,
    max_new_tokens: Annotated[
        int, typer.Option(help="Longest generated answer, in tokens.")
    ] = DEFAULTS.max_new_tokens,
    repetition_penalty: Annotated[
        float, typer.Option(help="Penalty on repeated tokens while generating answers (1.0: none).")
    ] = DEFAULTS.repetition_penalty,
    shots: Annotated[int, typer.Option(help="Few-shot examples per question, 0 to 5.")] = 0,
    batch_size: Annotated[
        int, typer.Option(help="Multiple-choice prompts per forward pass.")
    ] = DEFAULTS.batch_size,
    generation_batch_size: Annotated[
        int, typer.Option(help="Answers generated together.")
    ] = DEFAULTS.generation_batch_size,
    dtype: Annotated[
        str, typer.Option(help=f"Weights in memory: {', '.join(DTYPES)}.")
    ] = DEFAULTS.dtype,
    seed: Annotated[int, typer.Option(help="Seed of the question sample.")] = DEFAULTS.seed,
    threads: Annotated[int, typer.Option(help="CPU threads for torch.")] = DEFAULTS.threads,
    kb_answers: Annotated[
        int,
        typer.Option(
            help="Also ask this many health questions through a knowledge-base assistant"
            " with the last model as its generator (slow; 0: off)."
        ),
    ] = 0,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Evaluation data folder (default: $QIAO_DATA_DIR).", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for base.json and tuned.json (default: RUN/eval).",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate models on domain and general multiple choice and on domain answers."""
    config = setup(home, lang)
    chosen = _parse_list(models, MODELS, "--models")
    settings = EvalSettings(
        data_dir=data_dir,
        mc_limit=mc_limit or None,
        generation_limit=generation_limit or None,
        max_new_tokens=max_new_tokens,
        repetition_penalty=repetition_penalty,
        shots=shots,
        batch_size=batch_size,
        generation_batch_size=generation_batch_size,
        dtype=dtype,
        seed=seed,
        threads=threads,
        sets=tuple(_parse_list(sets, EVAL_SETS, "--sets")),
    )
    settings.check()
    base_dir = _base_folder(base, run, config.home, config.models_dir)
    adapter_dir = adapter or (run / "adapter" if run else None)
    if "tuned" in chosen and (adapter_dir is None or not adapter_dir.is_dir()):
        raise InvalidInputError(
            f"no adapter to evaluate at {adapter_dir}; give --adapter, or --models base",
            key="ev_no_adapter",
            path=str(adapter_dir or "--adapter"),
        )
    out_dir = out or (run / "eval" if run else None)

    results: dict[str, dict[str, Any]] = {}
    for name in chosen:
        if not as_json:
            error_console.print(t("ev_loading", model=t(f"ev_model_{name}")), markup=False)
        result = _evaluate_one(
            base_dir, adapter_dir if name == "tuned" else None, settings, as_json
        )
        if out_dir is not None:
            write_eval_result(result, out_dir / f"{name}.json")
        results[name] = result

    if kb_answers:
        last = chosen[-1]
        results[last]["kb_answers"] = evaluate_kb_answers_with_model(
            base_dir,
            adapter_dir if last == "tuned" else None,
            settings.resolved_data_dir(),
            config.home / "workshop" / "kb",
            limit=kb_answers,
            threads=settings.threads,
            seed=settings.seed,
        )
        if out_dir is not None:
            write_eval_result(results[last], out_dir / f"{last}.json")

    # A stored result of the other model completes the comparison.
    for name in MODELS:
        stored = out_dir / f"{name}.json" if out_dir else None
        if name not in results and stored is not None and stored.is_file():
            results[name] = read_eval_result(stored)

    comparison = compare_results(results.get("base"), results.get("tuned"))
    if as_json:
        print(json.dumps({**results, "comparison": comparison}, ensure_ascii=False))
        return
    _print_comparison(comparison, results)
    if out_dir is not None:
        console.print(t("ev_written", out=out_dir), markup=False)


def _evaluate_one(
    base_dir: Path, adapter_dir: Path | None, settings: EvalSettings, quiet: bool
) -> dict[str, Any]:
    if quiet:
        return evaluate_model(base_dir, adapter_dir, settings)
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def advance(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(t(f"ev_set_{name}"), total=total)
            bar.update(tasks[name], completed=done)

        return evaluate_model(base_dir, adapter_dir, settings, advance)


def _print_comparison(comparison: list[dict[str, Any]], results: dict[str, Any]) -> None:
    table = Table(t("col_metric"), t("ev_model_base"), t("ev_model_tuned"), t("ev_delta"))

    def cell(value: float | None, signed: bool = False) -> str:
        if value is None:
            return "-"
        text = f"{value:+.3f}" if signed else f"{value:.3f}"
        if signed and value:
            return f"[{'green' if value > 0 else 'red'}]{text}[/]"
        return text

    for row in comparison:
        table.add_row(
            t(f"ev_metric_{row['metric']}"),
            cell(row["base"]),
            cell(row["tuned"]),
            cell(row["delta"], signed=True),
        )
    for name in EVAL_SETS:
        counts = [str(results.get(model, {}).get("n", {}).get(name, "-")) for model in MODELS]
        table.add_row(t("ev_items", set=t(f"ev_set_{name}")), *counts, "")
    seconds = [
        f"{results[model]['seconds']['total']:.0f}" if model in results else "-" for model in MODELS
    ]
    table.add_row(t("ev_seconds"), *seconds, "")
    console.print(table)

    kb = next(
        (results[m]["kb_answers"] for m in MODELS if "kb_answers" in results.get(m, {})), None
    )
    if kb:
        console.print(
            t(
                "ev_kb_answers",
                n=kb["n"],
                f1=kb["char_f1"],
                rouge=kb["rouge_l"],
                hit=kb["citation_hit_rate"],
                generator=kb["generator"],
            ),
            markup=False,
        )


def _base_folder(base: str | None, run: Path | None, home: Path, models_dir: Path) -> Path:
    if base is None:
        if run is None:
            raise InvalidInputError("no base model given; pass --base or --run", key="ev_need_base")
        return run / "base"
    from qiao.workshop.base_model import ensure_hf_base, resolve_base_source

    return ensure_hf_base(resolve_base_source(base, models_dir), home / HF_BASE_CACHE)


def _parse_list(value: str, allowed: tuple[str, ...], option: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise InvalidInputError(
            f"invalid {option} {value!r}; use a comma-separated list of {', '.join(allowed)}",
            key="ev_bad_list",
            option=option,
            value=value,
            allowed=", ".join(allowed),
        )
    return items


_add("ev_model_base", "基座模型", "Base model")
_add("ev_model_tuned", "微调模型", "Tuned model")
_add("ev_delta", "变化", "Change")
_add("ev_loading", "正在评测{model}……", "Evaluating the {model}...")
_add("ev_set_domain_mc", "医学选择题", "Medical multiple choice")
_add("ev_set_domain_generation", "医学问答生成", "Medical answers")
_add("ev_set_general_mc", "通用选择题", "General multiple choice")
_add("ev_metric_domain_mc_acc", "医学选择题准确率", "Medical multiple-choice accuracy")
_add("ev_metric_domain_rouge_l", "医学问答 ROUGE-L", "Medical answers ROUGE-L")
_add("ev_metric_domain_char_f1", "医学问答字符 F1", "Medical answers character F1")
_add("ev_metric_general_mc_acc", "通用选择题准确率", "General multiple-choice accuracy")
_add("ev_items", "题数：{set}", "Items: {set}")
_add("ev_seconds", "用时（秒）", "Seconds")
_add("ev_written", "评测结果已写入 {out}。", "Wrote the results to {out}.")
_add(
    "ev_kb_answers",
    "知识库助手（生成模型 {generator}）：{n} 题，字符 F1 {f1:.3f}，ROUGE-L {rouge:.3f}，"
    "引用命中率 {hit:.3f}。",
    "Knowledge-base assistant (generator {generator}): {n} questions, character F1 {f1:.3f},"
    " ROUGE-L {rouge:.3f}, citation hit rate {hit:.3f}.",
)
_add(
    "ev_no_adapter",
    "在 {path} 没有可评测的适配器：请用 --adapter 指定，或使用 --models base。",
    "No adapter to evaluate at {path}: give --adapter, or use --models base.",
)
_add(
    "ev_need_base",
    "没有指定基座模型：请使用 --base 或 --run。",
    "No base model given: pass --base or --run.",
)
_add(
    "ev_bad_list",
    "{option} 的值 {value!r} 无效：请用逗号分隔以下名称：{allowed}。",
    "Invalid {option} {value!r}: use a comma-separated list of {allowed}.",
)
