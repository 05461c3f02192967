"""``qiao workshop data``: prepare training data and mix general and domain data."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from qiao.cli import workshop_eval, workshop_export, workshop_train
from qiao.cli.common import JsonOption, LangOption, console, error_console, setup, t
from qiao.cli.progress import ChunkProgress, progress_bar
from qiao.errors import InvalidInputError
from qiao.workshop.data import (
    FieldOptions,
    PrepareOptions,
    mix_data,
    prepare_data,
    write_med_dialogue_pairs,
)

__all__ = ["app"]

app = typer.Typer(
    help="Model workshop: turn a general model into a domain model. / 模型工坊。",
    no_args_is_help=True,
)
data_app = typer.Typer(
    help="Prepare and mix training data. / 准备并混合训练数据。", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(workshop_export.app)
app.add_typer(workshop_eval.app)
app.add_typer(workshop_train.app)


@data_app.command("prepare")
def prepare(
    inputs: Annotated[
        list[Path], typer.Argument(help="JSONL, JSON, CSV or XLSX files with training rows.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output folder for train.jsonl, eval.jsonl, report.json.")
    ],
    format_: Annotated[
        str,
        typer.Option("--format", help="Row format: auto, alpaca, sharegpt, messages or qa."),
    ] = "auto",
    question_field: Annotated[
        str | None, typer.Option(help="Column or field with the question (qa format).")
    ] = None,
    answer_field: Annotated[
        str | None, typer.Option(help="Column or field with the answer (qa format).")
    ] = None,
    max_tokens: Annotated[
        int, typer.Option(help="Drop conversations longer than this many tokens.")
    ] = 2048,
    min_chars: Annotated[
        int, typer.Option(help="Drop conversations with fewer non-space characters.")
    ] = 4,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            help="A .gguf model or tokenizer.json to count tokens with (default: an estimate).",
            show_default=False,
        ),
    ] = None,
    eval_fraction: Annotated[
        float, typer.Option(help="Share of rows for eval.jsonl, from 0 to below 1.")
    ] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the train/eval split.")] = 0,
    near_duplicate_threshold: Annotated[
        float,
        typer.Option(help="Estimated Jaccard similarity at which rows count as near duplicates."),
    ] = 0.8,
    scrub_addresses: Annotated[
        bool, typer.Option("--scrub-addresses", help="Also replace postal addresses.")
    ] = False,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Clean, deduplicate, scrub and split training rows into train and eval files."""
    setup(None, lang)
    options = PrepareOptions(
        format=format_,
        fields=FieldOptions(question_field=question_field, answer_field=answer_field),
        max_tokens=max_tokens,
        min_chars=min_chars,
        eval_fraction=eval_fraction,
        seed=seed,
        scrub_addresses=scrub_addresses,
        near_duplicate_threshold=near_duplicate_threshold,
        tokenizer=tokenizer,
    )
    if as_json:
        report = prepare_data(inputs, out, options)
        print(json.dumps(report, ensure_ascii=False))
        return
    with progress_bar() as bar:
        report = prepare_data(inputs, out, options, ChunkProgress(bar, t("ws_preparing")))
    _print_prepare_report(report, out)


def _print_prepare_report(report: dict[str, Any], out: Path) -> None:
    summary = Table(t("col_metric"), t("col_value"))
    rows = [
        (t("ws_rows_in"), report["rows_in"]),
        (t("ws_rows_out"), report["rows_out"]),
        (t("ws_train"), report["train"]),
        (t("ws_eval"), report["eval"]),
        (t("ws_invalid"), report["invalid"]),
        (t("ws_duplicates_exact"), report["duplicates"]["exact"]),
        (t("ws_duplicates_near"), report["duplicates"]["near"]),
        (t("ws_dropped_short"), report["dropped"]["short"]),
        (t("ws_dropped_long"), report["dropped"]["long"]),
    ]
    rows.extend((t("ws_scrubbed", kind=kind), count) for kind, count in report["scrubbed"].items())
    rows.append((t("ws_token_counter"), report["token_counter"]))
    for label, value in rows:
        summary.add_row(label, escape(str(value)))
    console.print(summary)

    if len(report["inputs"]) > 1:
        files = Table(
            t("ws_col_file"), t("ws_col_format"), t("ws_rows_in"), t("ws_rows_out"), t("ws_invalid")
        )
        for counts in report["inputs"]:
            files.add_row(
                escape(Path(counts["path"]).name),
                counts["format"],
                str(counts["rows_in"]),
                str(counts["rows_out"]),
                str(counts["invalid"]),
            )
        console.print(files)

    if report["invalid_examples"]:
        example = report["invalid_examples"][0]
        error_console.print(
            t("ws_invalid_rows", count=report["invalid"], **example),
            style="yellow",
            markup=False,
        )
    console.print(
        t(
            "ws_prepared",
            out=out,
            train=report["train"],
            eval=report["eval"],
            rows_in=report["rows_in"],
            report=out / "report.json",
        ),
        markup=False,
    )


@data_app.command("mix")
def mix(
    general: Annotated[Path, typer.Option(help="Prepared JSONL file of general conversations.")],
    domain: Annotated[Path, typer.Option(help="Prepared JSONL file of domain conversations.")],
    ratio: Annotated[
        str, typer.Option(help="General:domain percentages that add up to 100.")
    ] = "70:30",
    rows: Annotated[int, typer.Option(help="Number of rows in the mix.")] = ...,
    out: Annotated[Path, typer.Option("--out", help="Output JSONL file.")] = ...,
    seed: Annotated[int, typer.Option(help="Seed of the sampling and the shuffle.")] = 0,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mix general and domain conversations in an exact ratio, shuffled."""
    setup(None, lang)
    report = mix_data(general, domain, ratio, rows, out, seed)
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    for warning in report["warnings"]:
        error_console.print(
            t(
                "ws_repeated",
                source=t(f"ws_source_{warning['source']}"),
                available=warning["available"],
                needed=warning["needed"],
                low=warning["low"],
                high=warning["high"],
            ),
            style="yellow",
            markup=False,
        )
    console.print(
        t(
            "ws_mixed",
            out=out,
            rows=report["rows"],
            general=report["sources"]["general"]["used"],
            domain=report["sources"]["domain"]["used"],
            general_share=report["realised_ratio"]["general"],
            domain_share=report["realised_ratio"]["domain"],
        ),
        markup=False,
    )


@data_app.command("med-dialogue")
def med_dialogue(
    out: Annotated[Path, typer.Option("--out", help="Output JSONL file of question/answer rows.")],
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Evaluation data folder (default: $QIAO_DATA_DIR).", show_default=False),
    ] = None,
    lang: LangOption = None,
) -> None:
    """Write med_dialogue_neike title/answer pairs, without the dev questions' entries."""
    setup(None, lang)
    folder = data_dir or _data_dir_from_environment()
    count = write_med_dialogue_pairs(folder, out)
    console.print(t("ws_med_written", count=count, out=out), markup=False)


def _data_dir_from_environment() -> Path:
    value = os.environ.get("QIAO_DATA_DIR")
    if not value:
        raise InvalidInputError(
            "no data folder given; pass --data-dir or set QIAO_DATA_DIR",
            key="ws_no_data_dir",
        )
    return Path(value)
