"""``qiao demo``: build the bundled Beijing travel knowledge base and ask three questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.rule import Rule

from qiao.cli.common import HomeOption, LangOption, console, setup, t
from qiao.cli.progress import ChunkProgress, progress_bar
from qiao.cli.render import print_sources
from qiao.errors import NotFoundError
from qiao.knowledge import KnowledgeBaseRegistry, build_answerer, ingest_paths

__all__ = ["demo", "find_example"]

DEMO_KB = "travel"
QUESTIONS = ("故宫的门票多少钱？", "颐和园在哪里？", "八达岭长城建议游玩多长时间？")


def find_example() -> Path:
    """Return ``examples/beijing-travel`` of the source checkout this package runs from."""
    candidates = [
        Path.cwd() / "examples" / "beijing-travel",
        Path(__file__).resolve().parents[3] / "examples" / "beijing-travel",
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise NotFoundError(
        "the bundled example folder examples/beijing-travel was not found; run the demo from "
        "the Qiao source checkout or pass --path",
        key="demo_missing",
    )


def demo(
    path: Annotated[Path | None, typer.Option(help="Folder of documents to use.")] = None,
    home: HomeOption = None,
    lang: LangOption = None,
) -> None:
    """Create the 'travel' knowledge base from the bundled example and ask three questions."""
    settings = setup(home, lang)
    folder = path or find_example()
    registry = KnowledgeBaseRegistry(settings)
    if not registry.exists(DEMO_KB):
        registry.create(DEMO_KB)
        console.print(t("kb_created", name=DEMO_KB))
    with registry.open(DEMO_KB) as kb:
        with progress_bar() as bar:
            report = ingest_paths(kb, [folder], progress=ChunkProgress(bar, t("embedding")))
        console.print(
            t(
                "demo_ingested",
                folder=str(folder),
                added=len(report.added) + len(report.replaced),
                unchanged=len(report.unchanged),
                total=len(kb.store),
            )
        )
    with registry.open(DEMO_KB, read_only=True) as kb:
        answerer = build_answerer(kb, settings)
        console.print(t("demo_generator", generator=answerer.generator_name))
        for question in QUESTIONS:
            console.print(Rule())
            console.print(f"[bold]{t('question')}[/bold] {escape(question)}")
            with console.status(t("thinking")):
                answer = answerer.ask(question)
            console.print(f"[bold]{t('answer')}[/bold] {escape(answer.answer)}")
            print_sources(answer)
    console.print(Rule())
    console.print(t("demo_next", name=DEMO_KB))
