"""Text rendering of answers and search hits."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from qiao.cli.common import console, t
from qiao.knowledge import Answer, Hit
from qiao.knowledge.chunker import chunk_label

__all__ = ["print_hits", "print_sources", "short_source"]


def short_source(source: str) -> str:
    """Return the file name plus any record suffix, e.g. ``faq.jsonl#line=3``."""
    path, _, suffix = source.partition("#")
    name = Path(path).name
    return f"{name}#{suffix}" if suffix else name


def print_sources(answer: Answer) -> None:
    if answer.refused or not answer.citations:
        return
    console.print()
    console.print(t("sources"))
    for citation in answer.citations:
        heading = f" · {escape(citation.heading)}" if citation.heading else ""
        console.print(f"  [{citation.index}] {escape(short_source(citation.source))}{heading}")
        console.print(f"      {escape(citation.snippet)}", style="dim")
    if answer.mode == "extractive" and answer.notice:
        console.print()
        console.print(t("generation_off"), style="yellow", markup=False)
        console.print(escape(answer.notice), style="dim")


def print_hits(hits: list[Hit]) -> None:
    for hit in hits:
        chunk = hit.chunk
        label = chunk_label(chunk)
        dense = "-" if hit.dense_score is None else f"{hit.dense_score:.3f}"
        bm25 = "-" if hit.bm25_score is None else f"{hit.bm25_score:.2f}"
        console.print(
            f"{hit.rank}. [bold]{escape(label or chunk.doc_id)}[/bold]  "
            f"({escape(short_source(chunk.source))}, doc_id={escape(chunk.doc_id)}, "
            f"score={hit.score:.4f}, dense={dense}, bm25={bm25})"
        )
        text = chunk.text.replace("\n", " ")
        console.print(f"   {escape(text[:160])}{'…' if len(text) > 160 else ''}", style="dim")
