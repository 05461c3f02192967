"""Rich progress bars for long operations."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from qiao.cli.common import error_console

__all__ = ["ChunkProgress", "progress_bar"]


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=error_console,
        transient=False,
    )


class ChunkProgress:
    """Adapts ingestion progress to a rich progress bar."""

    def __init__(self, progress: Progress, description: str) -> None:
        self._progress = progress
        self._description = description
        self._task: int | None = None

    def start(self, total_chunks: int) -> None:
        # With nothing to embed (all files unchanged or failed), draw no empty bar.
        if total_chunks:
            self._task = self._progress.add_task(self._description, total=total_chunks)

    def advance(self, chunks: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, chunks)
