"""``qiao eval retrieval`` and ``qiao eval answers``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qiao.cli.common import HomeOption, JsonOption, LangOption, console, setup, t
from qiao.cli.progress import progress_bar
from qiao.errors import InvalidInputError
from qiao.knowledge import (
    HybridRetriever,
    KnowledgeBaseRegistry,
    build_answerer,
    evaluate_answers,
    evaluate_retrieval,
    read_qa,
)

__all__ = ["app"]

app = typer.Typer(help="Evaluate retrieval and answers. / 评测检索与回答。", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="Knowledge base name.")]
QAOption = Annotated[
    Path,
    typer.Option(
        "--qa", help="JSONL file with question and gold_doc_id (or gold_doc_ids) per row."
    ),
]
LimitOption = Annotated[int | None, typer.Option(help="Evaluate only the first N questions.")]
QueryFieldOption = Annotated[
    str, typer.Option(help="Field of each row that contains the question.")
]


def _parse_ks(value: str) -> list[int]:
    try:
        ks = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise InvalidInputError(
            f"invalid --k value {value!r}; give positive integers separated by commas, e.g. 1,5,10",
            key="bad_k",
            value=value,
        )
    return ks


@app.command("retrieval")
def retrieval(
    name: NameArgument,
    qa: QAOption,
    k: Annotated[str, typer.Option("--k", help="Cut-offs for recall, comma-separated.")] = "1,5,10",
    limit: LimitOption = None,
    query_field: QueryFieldOption = "question",
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure recall@k, MRR@10 and search latency on a question file."""
    settings = setup(home, lang)
    ks = _parse_ks(k)
    rows = read_qa(qa, query_field, limit)
    with KnowledgeBaseRegistry(settings).open(name, read_only=True) as kb:
        retriever = HybridRetriever(kb)
        result = _run(
            lambda tick: evaluate_retrieval(retriever, rows, ks, tick), len(rows), as_json
        )
    _print(result, as_json)


@app.command("answers")
def answers(
    name: NameArgument,
    qa: QAOption,
    limit: LimitOption = None,
    query_field: QueryFieldOption = "question",
    generator: Annotated[
        str | None, typer.Option(help="Generator: auto, llama, openai or extractive.")
    ] = None,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure answer F1 / exact match, answer-key containment, citation hits and refusals."""
    settings = setup(home, lang, **{"generator.kind": generator})
    rows = read_qa(qa, query_field, limit)
    with KnowledgeBaseRegistry(settings).open(name, read_only=True) as kb:
        answerer = build_answerer(kb, settings)
        result = _run(lambda tick: evaluate_answers(answerer, rows, tick), len(rows), as_json)
    _print(result, as_json)


def _run(job: Any, total: int, quiet: bool) -> dict[str, Any]:
    if quiet:
        return job(None)
    with progress_bar() as bar:
        task = bar.add_task(t("evaluating"), total=total)
        return job(lambda: bar.advance(task))


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    table = Table(t("col_metric"), t("col_value"))
    for key, value in result.items():
        table.add_row(key, "-" if value is None else str(value))
    console.print(table)
