"""``qiao ask`` and ``qiao search``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from qiao.cli.common import HomeOption, JsonOption, LangOption, console, setup, t
from qiao.cli.render import print_hits, print_sources
from qiao.knowledge import Answer, HybridRetriever, KnowledgeBaseRegistry, build_answerer

__all__ = ["ask", "search"]

NameArgument = Annotated[str, typer.Argument(help="Knowledge base name.")]
QuestionArgument = Annotated[str, typer.Argument(help="The question.")]


def ask(
    name: NameArgument,
    question: QuestionArgument,
    stream: Annotated[
        bool, typer.Option("--stream", help="Print the answer as it is generated.")
    ] = False,
    generator: Annotated[
        str | None,
        typer.Option(help="Generator: auto, llama, openai or extractive (default: the setting)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Local GGUF file, or the name of a model registered by qiao workshop deploy."
        ),
    ] = None,
    top_k: Annotated[int | None, typer.Option(help="Passages given to the generator.")] = None,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question from a knowledge base, with numbered citations."""
    overrides = {
        "generator.kind": generator,
        "generator.model_path": model,
        "retrieval.top_k": top_k,
    }
    if model and not generator:
        overrides["generator.kind"] = "llama"
    settings = setup(home, lang, **overrides)
    with KnowledgeBaseRegistry(settings).open(name, read_only=True) as kb:
        answerer = build_answerer(kb, settings)
        if as_json:
            answer = answerer.ask(question)
            print(json.dumps(answer.to_json(), ensure_ascii=False))
            return
        if not stream:
            with console.status(t("thinking")):
                answer = answerer.ask(question)
            console.print(escape(answer.answer))
            print_sources(answer)
            return
        final: Answer | None = None
        printed = ""
        for event in answerer.stream(question):
            if isinstance(event, Answer):
                final = event
            else:
                console.print(escape(event), end="")
                printed += event
        console.print()
        assert final is not None
        if not final.answer.startswith(printed.strip()):
            # Generation was replaced by an extractive answer or a refusal.
            console.print(escape(final.answer))
        print_sources(final)


def search(
    name: NameArgument,
    query: Annotated[str, typer.Argument(help="The search query.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Number of hits.")] = 5,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search a knowledge base (BM25 + vectors, fused) without generating an answer."""
    settings = setup(home, lang)
    with KnowledgeBaseRegistry(settings).open(name, read_only=True) as kb:
        hits = HybridRetriever(kb).search(query, top_k)
    if as_json:
        print(
            json.dumps(
                {"query": query, "hits": [hit.to_json() for hit in hits]}, ensure_ascii=False
            )
        )
        return
    if not hits:
        console.print(t("no_hits"))
    print_hits(hits)
