"""``qiao workshop train`` and ``qiao workshop run``: fine-tune, or run a whole recipe."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qiao.cli.common import HomeOption, JsonOption, LangOption, console, setup, t
from qiao.cli.progress import progress_bar
from qiao.config import default_home
from qiao.i18n import _add
from qiao.workshop.run_report import METRIC_NAMES

__all__ = ["app"]

# Commands merged into the ``qiao workshop`` group.
app = typer.Typer()

HF_BASE_CACHE = Path("workshop") / "hf-base"


@app.command("train")
def train(
    train_file: Annotated[Path, typer.Argument(help="Conversations JSONL (e.g. a mix.jsonl).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the LoRA adapter.")],
    base: Annotated[
        str, typer.Option(help="Base model: default, a Hugging Face folder or a .gguf file.")
    ] = "default",
    max_length: Annotated[int, typer.Option(help="Tokens per row; longer rows are cut.")] = 256,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    lora_layers: Annotated[
        int | None,
        typer.Option(help="Adapt only the last N layers (default: all).", show_default=False),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the rows.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Rows per forward pass.")] = 4,
    grad_accum: Annotated[int, typer.Option(help="Forward passes per optimizer step.")] = 2,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    checkpoint_every: Annotated[int, typer.Option(help="Optimizer steps per checkpoint.")] = 10,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop after N optimizer steps.", show_default=False)
    ] = None,
    threads: Annotated[int, typer.Option(help="CPU threads for torch.")] = 2,
    restart: Annotated[
        bool, typer.Option("--restart", help="Delete old checkpoints and start over.")
    ] = False,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune a LoRA adapter; an interrupted run resumes from its last checkpoint."""
    import shutil

    from qiao.workshop.base_model import ensure_hf_base, resolve_base_source
    from qiao.workshop.train import TrainSettings, train_lora

    setup(home, lang)
    home_dir = home or default_home()
    settings = TrainSettings(
        max_length=max_length,
        lora_r=lora_r,
        lora_layers=lora_layers,
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=grad_accum,
        learning_rate=learning_rate,
        checkpoint_every=checkpoint_every,
        max_steps=max_steps,
        threads=threads,
    )
    settings.check()
    checkpoints = out.parent / f"{out.name}-checkpoints"
    if restart:
        shutil.rmtree(checkpoints, ignore_errors=True)
    base_dir = ensure_hf_base(
        resolve_base_source(base, home_dir / "models"), home_dir / HF_BASE_CACHE
    )
    if as_json:
        summary = train_lora(base_dir, train_file, out, settings, checkpoint_dir=checkpoints)
        print(json.dumps(summary, ensure_ascii=False))
        return
    with progress_bar() as bar:
        task = bar.add_task(t("ws_training"), total=None)

        def progress(step: int, total: int, loss: float | None) -> None:
            shown = "" if loss is None else f" (loss {loss:.3f})"
            bar.update(task, completed=step, total=total, description=t("ws_training") + shown)

        summary = train_lora(
            base_dir, train_file, out, settings, progress, checkpoint_dir=checkpoints
        )
    console.print(
        t(
            "ws_trained",
            steps=summary["steps"],
            rows=summary["trained_rows"],
            loss_first=summary["loss_first"],
            loss_last=summary["loss_last"],
            seconds=summary["seconds_this_run"],
            out=out,
        ),
        markup=False,
    )


@app.command("run")
def run(
    recipe_path: Annotated[
        Path, typer.Argument(help="Recipe YAML file, e.g. recipes/health.yaml.")
    ],
    restart: Annotated[
        bool, typer.Option("--restart", help="Delete the run folder and start over.")
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data folder (default: $QIAO_DATA_DIR).", show_default=False),
    ] = None,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run every stage of a recipe; finished stages are kept when run again."""
    from qiao.workshop.recipe import load_recipe
    from qiao.workshop.run import STAGES, run_dir_for, run_recipe

    setup(home, lang)
    home_dir = home or default_home()
    folder = data_dir or _data_dir()
    recipe = load_recipe(recipe_path, folder)

    with progress_bar() as bar:
        tasks: dict[str, Any] = {}
        for name, _ in STAGES:
            tasks[name] = bar.add_task(t(f"ws_stage_{name}"), total=None, start=False)

        def progress(stage: str, done: float, total: float | None) -> None:
            bar.start_task(tasks[stage])
            bar.update(tasks[stage], completed=done, total=total)

        report = run_recipe(recipe, home_dir, folder, progress, restart=restart)

    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    _print_run_report(report, run_dir_for(recipe, home_dir))


def _print_run_report(report: dict[str, Any], run_dir: Path) -> None:
    stages = Table(t("ws_col_stage"), t("ws_col_seconds"))
    for name, seconds in report["stages"].items():
        stages.add_row(t(f"ws_stage_{name}"), f"{seconds:.1f}")
    console.print(stages)
    scores = Table(t("ws_col_metric"), t("ws_col_base"), t("ws_col_tuned"))
    for name in METRIC_NAMES:
        base, tuned = report["eval"]["base"][name], report["eval"]["tuned"][name]
        scores.add_row(name, _cell(base), _cell(tuned))
    console.print(scores)
    console.print(
        t(
            "ws_run_done",
            general=report["mix"]["general"],
            domain=report["mix"]["domain"],
            report=run_dir / "report.md",
        ),
        markup=False,
    )


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _data_dir() -> Path:
    value = os.environ.get("QIAO_DATA_DIR")
    if value:
        return Path(value)
    # A source checkout keeps the data folder beside the repository as shared/data.
    return Path(__file__).resolve().parents[4] / "shared" / "data"


_add("ws_training", "训练中", "Training")
_add(
    "ws_trained",
    "已训练 {steps} 步（{rows} 行），损失 {loss_first} → {loss_last}，"
    "用时 {seconds} 秒；适配器在 {out}。",
    "Trained {steps} steps on {rows} rows, loss {loss_first} -> {loss_last}, in {seconds} s;"
    " the adapter is in {out}.",
)
_add("ws_stage_base", "基座模型", "Base model")
_add("ws_stage_prepare", "准备数据", "Prepare data")
_add("ws_stage_mix", "混合数据", "Mix data")
_add("ws_stage_train", "LoRA 微调", "LoRA training")
_add("ws_stage_eval_base", "评测基座模型", "Evaluate base")
_add("ws_stage_eval_tuned", "评测微调模型", "Evaluate tuned")
_add("ws_stage_export", "导出", "Export")
_add("ws_stage_deploy", "部署", "Deploy")
_add("ws_col_stage", "阶段", "Stage")
_add("ws_col_seconds", "秒", "Seconds")
_add("ws_col_metric", "指标", "Metric")
_add("ws_col_base", "基座", "Base")
_add("ws_col_tuned", "微调后", "Tuned")
_add(
    "ws_run_done",
    "完成：训练数据为通用 {general} 行、领域 {domain} 行。报告：{report}",
    "Done: trained on {general} general and {domain} domain rows. Report: {report}",
)
_add(
    "ws_base_missing",
    "找不到基座模型 {value!r}：请给出 Hugging Face 模型文件夹（含 config.json）"
    "或 .gguf 文件，或用 default 表示默认本地模型。",
    "Base model {value!r} not found; give a Hugging Face model folder (with config.json) or a"
    " .gguf file, or 'default' for the default local model.",
)
_add(
    "ws_base_not_causal",
    "基座模型文件夹 {value} 不是因果语言模型（architectures：{found}）"
    "；微调需要 *ForCausalLM 模型，例如 Qwen2ForCausalLM。",
    "Base model folder {value} is not a causal language model (architectures: {found});"
    " fine-tuning needs a *ForCausalLM model such as Qwen2ForCausalLM.",
)
_add(
    "ws_base_no_config",
    "基座模型文件夹 {value} 中没有 config.json：请给出 Hugging Face 模型文件夹或 .gguf 文件。",
    "Base model folder {value} has no config.json; give a Hugging Face model folder or a .gguf"
    " file.",
)
_add(
    "ws_base_not_gguf",
    "{value} 不是 GGUF 文件：请给出 .gguf 模型文件或 Hugging Face 模型文件夹。",
    "{value} is not a GGUF file; give a .gguf model file or a Hugging Face model folder.",
)
_add(
    "ws_base_gguf_unreadable",
    "transformers 无法读取 GGUF 模型 {value}（{reason}）："
    "请使用 transformers 支持的架构（如 Qwen2、Llama）或 Hugging Face 模型文件夹。",
    "transformers could not read the GGUF model {value} ({reason}); use an architecture that"
    " transformers supports (such as Qwen2 or Llama) or a Hugging Face model folder.",
)
_add(
    "ws_recipe_unknown_key",
    "配方 {path} 中有未知的键 {value}；允许的键：{allowed}。",
    "Recipe {path} has an unknown key {value}; allowed keys: {allowed}.",
)
_add(
    "ws_recipe_changed",
    "{value} 中的运行开始后配方已改变：加 --restart 从头开始，或恢复原配方以继续。",
    "The recipe changed since the run in {value} started; add --restart to start over, or"
    " restore the recipe to resume.",
)
_add(
    "ws_checkpoint_mismatch",
    "检查点 {value} 来自不同的训练数据或设置：删除 {folder}（或加 --restart）从头训练。",
    "Checkpoint {value} was made from other training data or settings; delete {folder} (or add"
    " --restart) to train from the start.",
)
_add(
    "ws_train_oom",
    "训练在第 {step} 步内存不足；{kept}。请调小 batch_size（当前 {batch_size}）"
    "或 max_length（当前 {max_length}）后重新运行。",
    "Training ran out of memory at step {step}; {kept}. Lower batch_size (now {batch_size}) or"
    " max_length (now {max_length}) and run again.",
)
_add(
    "ws_disk_full",
    "写入 {folder} 时磁盘已满；已完成的检查点保留。释放空间后重新运行同一命令即可继续。",
    "The disk is full while writing to {folder}; completed checkpoints are kept. Free some"
    " space and run the same command again to resume.",
)
