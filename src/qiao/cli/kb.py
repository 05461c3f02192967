"""``qiao kb``: create, list, show, delete knowledge bases and add files to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qiao.cli.common import HomeOption, JsonOption, LangOption, console, error_console, setup, t
from qiao.cli.progress import ChunkProgress, progress_bar
from qiao.errors import QiaoError
from qiao.knowledge import KnowledgeBaseRegistry, LoadOptions, ingest_paths, remove_paths

__all__ = ["app"]

app = typer.Typer(help="Manage knowledge bases. / 管理知识库。", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="Knowledge base name.")]


@app.command("create")
def create(name: NameArgument, home: HomeOption = None, lang: LangOption = None) -> None:
    """Create an empty knowledge base."""
    settings = setup(home, lang)
    KnowledgeBaseRegistry(settings).create(name)
    console.print(t("kb_created", name=name))


@app.command("list")
def list_(home: HomeOption = None, lang: LangOption = None, as_json: JsonOption = False) -> None:
    """List knowledge bases."""
    settings = setup(home, lang)
    registry = KnowledgeBaseRegistry(settings)
    rows = []
    for name in registry.names():
        try:
            with registry.open(name, read_only=True) as kb:
                rows.append(kb.stats())
        except QiaoError as error:
            # One damaged base must not hide the others.
            error_console.print(t("error", message=str(error)), style="red", markup=False)
            rows.append({"name": name, "error": str(error)})
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        console.print(t("kb_none"))
        return
    table = Table(
        t("col_name"), t("col_files"), t("col_documents"), t("col_chunks"), t("col_created")
    )
    for row in rows:
        if "error" in row:
            table.add_row(row["name"], "-", "-", "-", t("damaged"))
            continue
        table.add_row(
            row["name"],
            str(row["files"]),
            str(row["documents"]),
            str(row["chunks"]),
            row["created"],
        )
    console.print(table)


@app.command("show")
def show(
    name: NameArgument,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the settings and contents of a knowledge base."""
    settings = setup(home, lang)
    with KnowledgeBaseRegistry(settings).open(name, read_only=True) as kb:
        stats = kb.stats()
        files = {path: record.chunks for path, record in sorted(kb.files.items())}
    if as_json:
        print(json.dumps({**stats, "file_chunks": files}, ensure_ascii=False))
        return
    for key, value in stats.items():
        console.print(f"{key}: {value}")


@app.command("delete")
def delete(
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    home: HomeOption = None,
    lang: LangOption = None,
) -> None:
    """Delete a knowledge base and everything stored in it."""
    settings = setup(home, lang)
    registry = KnowledgeBaseRegistry(settings)
    registry.info(name)
    if not yes and not typer.confirm(t("kb_confirm_delete", name=name)):
        raise typer.Exit(1)
    registry.delete(name)
    console.print(t("kb_deleted", name=name))


@app.command("add")
def add(
    name: NameArgument,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to add.")],
    id_field: Annotated[
        str | None, typer.Option(help="JSONL/CSV field with each record's document id.")
    ] = None,
    text_field: Annotated[str | None, typer.Option(help="JSONL field with the text.")] = None,
    title_field: Annotated[str | None, typer.Option(help="JSONL field with the title.")] = None,
    question_field: Annotated[
        str | None, typer.Option(help="FAQ sheet column with questions.")
    ] = None,
    answer_field: Annotated[str | None, typer.Option(help="FAQ sheet column with answers.")] = None,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add files and folders; unchanged files are skipped, changed files replaced."""
    settings = setup(home, lang)
    options = LoadOptions(
        id_field=id_field,
        text_field=text_field,
        title_field=title_field,
        question_field=question_field,
        answer_field=answer_field,
    )
    with KnowledgeBaseRegistry(settings).open(name) as kb:
        if as_json:
            report = ingest_paths(kb, paths, options)
        else:
            with progress_bar() as bar:
                report = ingest_paths(kb, paths, options, ChunkProgress(bar, t("embedding")))
        chunks_total = len(kb.store)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for path, message in report.failed:
            error_console.print(t("file_skipped", path=path, message=message))
        embed_share = report.embed_seconds / report.seconds if report.seconds else 0.0
        console.print(
            t(
                "kb_added",
                name=name,
                added=len(report.added),
                replaced=len(report.replaced),
                unchanged=len(report.unchanged),
                failed=len(report.failed),
                chunks=report.chunks,
                total=chunks_total,
                seconds=report.seconds,
                share=embed_share * 100,
            )
        )
    if report.failed:
        # Some files were not added: the command did not fully succeed.
        raise typer.Exit(1)


@app.command("remove")
def remove(
    name: NameArgument,
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders to remove, even if deleted.")
    ],
    home: HomeOption = None,
    lang: LangOption = None,
) -> None:
    """Remove files (or every file under a folder) and their chunks from a knowledge base."""
    settings = setup(home, lang)
    with KnowledgeBaseRegistry(settings).open(name) as kb:
        removed = remove_paths(kb, paths)
        total = len(kb.store)
    console.print(t("kb_removed", name=name, files=len(removed), total=total))
