"""``qiao workshop export``, ``qiao workshop deploy`` and ``qiao models list``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from qiao.cli.common import HomeOption, JsonOption, LangOption, console, setup, t
from qiao.errors import InvalidInputError
from qiao.i18n import _add
from qiao.llm.model_files import ensure_default_model
from qiao.llm.registry import load_registry
from qiao.workshop.deploy import deploy_model
from qiao.workshop.export import OUTTYPES, export_adapter

__all__ = ["app", "models_app"]

# Commands merged into the ``qiao workshop`` group.
app = typer.Typer()
models_app = typer.Typer(
    help="Models registered with qiao workshop deploy. / 已部署的模型。", no_args_is_help=True
)

RunOption = Annotated[
    Path | None,
    typer.Option(
        "--run",
        help="Workshop run folder: reads RUN/adapter and writes RUN/export unless given.",
        show_default=False,
    ),
]


@app.command("export")
def export(
    run: RunOption = None,
    adapter: Annotated[
        Path | None,
        typer.Option(help="peft LoRA adapter folder (default: RUN/adapter).", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: RUN/export).", show_default=False),
    ] = None,
    base: Annotated[
        Path | None,
        typer.Option(
            help="Base model .gguf the adapter was trained on (default: the default model).",
            show_default=False,
        ),
    ] = None,
    hf_base: Annotated[
        Path | None,
        typer.Option(
            help="Hugging Face folder of the base model (default: the adapter's base path).",
            show_default=False,
        ),
    ] = None,
    merge: Annotated[
        bool, typer.Option("--merge", help="Also merge the adapter into a full GGUF model.")
    ] = False,
    quantize: Annotated[
        str | None, typer.Option(help="Quantise the merged model: q4_k_m, q5_k_m, q6_k or q8_0.")
    ] = None,
    outtype: Annotated[
        str, typer.Option(help=f"Adapter tensor type: {', '.join(OUTTYPES)}.")
    ] = "f16",
    llama_cpp_sdist: Annotated[
        Path | None,
        typer.Option(
            help="llama_cpp_python-0.3.36.tar.gz to take the converters from (default: pip "
            "downloads it once).",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Convert a LoRA adapter to a GGUF adapter for llama.cpp, optionally merged and quantised."""
    settings = setup(home, lang)
    adapter_dir = adapter or _in_run(run, "adapter", "--adapter")
    out_dir = out or _in_run(run, "export", "--out")
    base_gguf = base or ensure_default_model(settings.models_dir)

    def show_stage(name: str) -> None:
        if not as_json:
            console.print(t(f"ex_stage_{name}"), markup=False)

    report = export_adapter(
        base_gguf,
        adapter_dir,
        out_dir,
        merge=merge,
        quantize=quantize,
        hf_base=hf_base,
        outtype=outtype,
        tools_dir=settings.home / "tools",
        llama_cpp_sdist=llama_cpp_sdist,
        progress=show_stage,
    )
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    if report["adapter_skipped"]:
        console.print(t("ex_skipped", reason=report["adapter_skipped"]), markup=False)
    console.print(
        t(
            "ex_done",
            adapter=report["adapter_gguf"] or "-",
            merged=report["merged_gguf"] or "-",
            base=report["base_gguf"],
            seconds=report["seconds"],
        ),
        markup=False,
    )


@app.command("deploy")
def deploy(
    name: Annotated[str, typer.Argument(help="Name to use with qiao ask --model NAME.")],
    run: RunOption = None,
    export_dir: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Folder written by qiao workshop export (default: RUN/export).",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a model already registered as NAME.")
    ] = False,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register an exported model so that qiao ask --model NAME generates with it."""
    settings = setup(home, lang)
    folder = export_dir or _in_run(run, "export", "--export")
    entry = deploy_model(name, folder, settings.home, replace=replace)
    if as_json:
        print(json.dumps(entry, ensure_ascii=False))
        return
    console.print(t("dp_done", name=name, path=entry["merged"] or entry["lora"]), markup=False)


@models_app.command("list")
def list_models(
    home: HomeOption = None, lang: LangOption = None, as_json: JsonOption = False
) -> None:
    """List the registered models and the files they load."""
    settings = setup(home, lang)
    models = load_registry(settings.models_dir)
    if as_json:
        payload = {name: model.to_json() for name, model in sorted(models.items())}
        print(json.dumps(payload, ensure_ascii=False))
        return
    if not models:
        console.print(t("models_none"), markup=False)
        return
    table = Table(
        t("models_col_name"),
        t("models_col_model"),
        t("models_col_adapter"),
        t("models_col_created"),
    )
    for name, model in sorted(models.items()):
        files = [model.model_path, model.lora_path]
        missing = [path for path in files if path is not None and not path.is_file()]
        table.add_row(
            escape(name) + (f" ({t('models_missing')})" if missing else ""),
            escape(str(model.model_path)),
            escape(str(model.lora_path or "-")),
            model.created,
        )
    console.print(table)


def _in_run(run: Path | None, part: str, option: str) -> Path:
    if run is None:
        raise InvalidInputError(
            f"give {option} or --run with a workshop run folder",
            key="ex_need_run",
            option=option,
        )
    return run / part


_add(
    "ex_need_run",
    "请指定 {option}，或用 --run 指定模型工坊的运行目录。",
    "Give {option}, or --run with a workshop run folder.",
)
_add("ex_stage_converter", "准备 llama.cpp 转换脚本……", "Preparing llama.cpp's converters...")
_add("ex_stage_adapter", "把 LoRA 适配器转换为 GGUF……", "Converting the LoRA adapter to GGUF...")
_add(
    "ex_stage_merge", "把适配器合并进基座模型权重……", "Merging the adapter into the base weights..."
)
_add(
    "ex_stage_convert_merged",
    "把合并后的模型转换为 GGUF……",
    "Converting the merged model to GGUF...",
)
_add("ex_stage_quantize", "量化合并后的模型……", "Quantising the merged model...")
_add(
    "ex_skipped",
    "未导出 GGUF 适配器，因为 {reason}；已改为导出合并后的模型。",
    "No GGUF adapter was written because {reason}; the merged model was exported instead.",
)
_add(
    "ex_done",
    "导出完成，用时 {seconds} 秒。\n  适配器：{adapter}\n  合并模型：{merged}\n  基座模型：{base}",
    "Exported in {seconds} s.\n  Adapter: {adapter}\n  Merged model: {merged}\n"
    "  Base model: {base}",
)
_add(
    "dp_done",
    "已部署模型 {name}（{path}）。使用：qiao ask 知识库 问题 --model {name}",
    "Deployed model {name} ({path}). Use it with: qiao ask KB QUESTION --model {name}",
)
_add(
    "models_none",
    "还没有已部署的模型；先运行 qiao workshop deploy。",
    "No models registered yet; run qiao workshop deploy first.",
)
_add("models_col_name", "名称", "Name")
_add("models_col_model", "模型文件", "Model file")
_add("models_col_adapter", "LoRA 适配器", "LoRA adapter")
_add("models_col_created", "部署时间", "Deployed")
_add("models_missing", "文件缺失", "files missing")

# Errors raised by qiao.workshop.export, qiao.workshop.deploy and qiao.llm.registry.
_add(
    "ex_base_missing",
    "找不到基座 GGUF {value}；请指定训练适配器时所用的 .gguf 模型。",
    "Base GGUF {value} not found; give the .gguf model the adapter was trained on.",
)
_add(
    "ex_base_no_arch",
    "{value} 没有 general.architecture 键，llama.cpp 无法把它当作模型加载；请使用 llama.cpp 的 "
    "convert_hf_to_gguf.py 生成的 GGUF 模型。",
    "{value} has no general.architecture key, so llama.cpp cannot load it as a model; give a "
    "GGUF model written by llama.cpp's convert_hf_to_gguf.py.",
)
_add(
    "ex_base_is_adapter",
    "{value} 是 LoRA 适配器 GGUF，不是模型；请指定基座模型的 .gguf 文件。",
    "{value} is a LoRA adapter GGUF, not a model; give the base model's .gguf file.",
)
_add(
    "ex_adapter_missing",
    "找不到 {value}；请指定 peft save_pretrained 写出的目录（含 adapter_config.json 和 "
    "adapter_model.safetensors），例如 RUN/adapter。",
    "{value} not found; give the folder that peft's save_pretrained wrote (adapter_config.json "
    "and adapter_model.safetensors), e.g. RUN/adapter.",
)
_add(
    "ex_adapter_bad_config",
    "{value} 不是有效的 JSON；请重新保存适配器。",
    "{value} is not valid JSON; save the adapter again.",
)
_add(
    "ex_adapter_no_weights",
    "{value} 中没有 adapter_model.safetensors；请用 save_pretrained 重新保存适配器，"
    "或复制完整的适配器目录。",
    "{value} has no adapter_model.safetensors; save the adapter again with save_pretrained, or "
    "copy the whole adapter folder.",
)
_add(
    "ex_adapter_not_lora",
    "{value} 描述的不是 LoRA 适配器；只能导出 LoRA 适配器。",
    "{value} does not describe a LoRA adapter; only LoRA adapters can be exported.",
)
_add(
    "ex_adapter_unsupported",
    "{value} 中的适配器无法导出为 GGUF LoRA 适配器（{reason}）；请加 --merge 把它合并进基座权重。",
    "The adapter in {value} cannot be exported as a GGUF LoRA adapter ({reason}); export it with "
    "--merge to merge it into the base weights.",
)
_add(
    "ex_hf_base_missing",
    "找不到 {value}；请用 --hf-base 指定基座模型的 Hugging Face 目录（训练步骤写出的 RUN/base）。",
    "{value} not found; give the Hugging Face folder of the base model (RUN/base, as the training "
    "step wrote it) with --hf-base.",
)
_add(
    "ex_hf_base_bad_config",
    "{value} 不是有效的 JSON；请重新复制基座模型目录。",
    "{value} is not valid JSON; copy the base model folder again.",
)
_add(
    "ex_hf_base_unknown",
    "适配器记录的基座模型 {value!r} 在本机不是含 config.json 的目录；请用 --hf-base 指定基座模型的 "
    "Hugging Face 目录（RUN/base）。",
    "The adapter names base model {value!r}, which is not a folder with config.json here; pass "
    "the base model's Hugging Face folder (RUN/base) with --hf-base.",
)
_add(
    "ex_arch_mismatch",
    "Hugging Face 基座 {hf} 是 {hf_arch!r} 模型，而 {value} 是 {arch!r}；"
    "请指定同一个模型的 GGUF 和目录。",
    "The Hugging Face base {hf} is a {hf_arch!r} model but {value} is {arch!r}; give the base "
    "GGUF and folder of the same model.",
)
_add(
    "ex_size_mismatch",
    "{name} 在 Hugging Face 基座中为 {hf_value}，在 {value} 中为 {gguf_value}："
    "这是同一模型的另一种规模；"
    "请指定训练适配器时所用的 GGUF。",
    "{name} is {hf_value} in the Hugging Face base but {gguf_value} in {value}: the GGUF is a "
    "different size of the model; give the GGUF the adapter was trained on.",
)
_add(
    "ex_adapter_other_arch",
    "{value} 中的适配器是在 {trained} 模型上训练的，而基座是 {base}；请使用该适配器自己的基座。",
    "The adapter in {value} was trained on a {trained} model, but the base is {base}; give the "
    "adapter's own base.",
)
_add(
    "ex_adapter_layers",
    "适配器张量 {tensor} 属于第 {layer} 层，而基座只有 {layers} 层：适配器来自更大的模型。",
    "Adapter tensor {tensor} is for layer {layer}, but the base has {layers} layers: the adapter "
    "belongs to a larger model.",
)
_add(
    "ex_adapter_width",
    "适配器张量 {tensor} 的输入维度为 {width}，而基座的隐藏维度为 {hidden}：适配器属于另一个模型。",
    "Adapter tensor {tensor} takes inputs of size {width}, but the base has hidden size {hidden}: "
    "the adapter belongs to another model.",
)
_add(
    "ex_bad_outtype",
    "无效的适配器张量类型 {value!r}；可选：{choices}。",
    "Invalid adapter tensor type {value!r}; choose one of {choices}.",
)
_add(
    "ex_bad_quantize",
    "无效的量化类型 {value!r}；可选：{choices}。",
    "Invalid quantisation type {value!r}; choose one of {choices}.",
)
_add(
    "ex_quantize_needs_merge",
    "--quantize {value} 只作用于合并后的模型；请加 --merge，"
    "或去掉 --quantize（适配器直接运行在已量化的基座 GGUF 上）。",
    "--quantize {value} applies to the merged model only; add --merge, or leave out --quantize "
    "(the adapter runs on the already quantised base GGUF).",
)
_add(
    "ex_quantize_failed",
    "llama.cpp 量化 {value} 失败；请检查磁盘剩余空间，以及该文件是否为 F16 或 F32 GGUF 模型。",
    "llama.cpp's quantizer failed on {value}; check the free disk space and that the file is an "
    "F16 or F32 GGUF model.",
)
_add(
    "ex_converter_failed",
    "llama.cpp 的 {script} 失败（退出码 {code}）：{output}\n"
    "设置 QIAO_LOG_LEVEL=INFO 重新运行可查看完整输出。",
    "llama.cpp's {script} failed with exit code {code}: {output}\nRerun with QIAO_LOG_LEVEL=INFO "
    "for its full output.",
)
_add(
    "ex_disk_full",
    "写入 {value} 时磁盘空间不足；请释放空间后重新导出（已完成的文件会保留）。",
    "No space left on the device while writing {value}; free some space and run the export "
    "again (finished files are kept).",
)
_add(
    "ex_truncated",
    "{value} 只写入了 {actual} / {expected} 字节，多半是磁盘已满；请释放空间后重新导出。",
    "{value} was cut off at {actual} of {expected} bytes, most likely because the disk is full; "
    "free some space and run the export again.",
)
_add(
    "model_unknown",
    "{value!r} 既不是 GGUF 文件，也不是已部署的模型；"
    "用 qiao models list 查看已部署的模型，或指定 .gguf 文件路径。",
    "{value!r} is neither a GGUF file nor a registered model; list the registered models with "
    "qiao models list, or give the path of a .gguf file.",
)
_add(
    "dp_bad_name",
    "无效的模型名称 {value!r}；请使用 1 到 64 个字母、数字、'.'、'_' 或 '-'，"
    "以字母或数字开头，且不以 .gguf 结尾。",
    "Invalid model name {value!r}; use 1 to 64 letters, digits, '.', '_' or '-', starting with "
    "a letter or digit and not ending in .gguf.",
)
_add(
    "dp_exists",
    "已有名为 {value!r} 的模型；请换一个名称，或加 --replace。",
    "A model named {value!r} is already registered; choose another name or pass --replace.",
)
_add(
    "dp_no_export",
    "找不到 {value}；请指定 qiao workshop export 写出的目录（例如 RUN/export）。",
    "{value} not found; give the folder that qiao workshop export wrote (e.g. RUN/export).",
)
_add(
    "dp_bad_export",
    "{value} 无效；请重新运行 qiao workshop export。",
    "{value} is invalid; run qiao workshop export again.",
)
_add(
    "dp_nothing_exported",
    "{value} 中既没有适配器也没有合并模型；请重新运行 qiao workshop export。",
    "{value} has neither an adapter nor a merged model; run qiao workshop export again.",
)
_add(
    "dp_file_missing",
    "找不到导出记录中的 {value}；请保留导出目录和基座模型，或重新运行 qiao workshop export。",
    "{value}, listed by the export, not found; keep the export folder and the base model in "
    "place, or run qiao workshop export again.",
)
_add(
    "dp_bad_registry",
    "{value} 已损坏；请修复或删除它，然后重新部署模型。",
    "{value} is damaged; fix or delete it and deploy the models again.",
)
