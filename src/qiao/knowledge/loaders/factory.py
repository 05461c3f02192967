"""Choice of a loader by file extension, and discovery of files in folders."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from qiao.errors import IngestError, NotFoundError
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions
from qiao.knowledge.loaders.csv_table import CsvLoader
from qiao.knowledge.loaders.excel import XlsxLoader
from qiao.knowledge.loaders.html_page import HtmlLoader
from qiao.knowledge.loaders.jsonl import JsonlLoader
from qiao.knowledge.loaders.markdown import MarkdownLoader
from qiao.knowledge.loaders.pdf import PdfLoader
from qiao.knowledge.loaders.text import TextLoader
from qiao.knowledge.loaders.word import DocxLoader

__all__ = ["SUPPORTED_EXTENSIONS", "get_loader", "iter_files", "load_file"]

logger = logging.getLogger(__name__)

_LOADERS: tuple[Loader, ...] = (
    TextLoader(),
    MarkdownLoader(),
    HtmlLoader(),
    PdfLoader(),
    DocxLoader(),
    XlsxLoader(),
    CsvLoader(),
    JsonlLoader(),
)
_BY_EXTENSION = {extension: loader for loader in _LOADERS for extension in loader.extensions}

#: Lower-case extensions, with the dot, that :func:`load_file` reads.
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(_BY_EXTENSION))


def get_loader(path: Path) -> Loader:
    """Return the loader for the extension of ``path`` (case-insensitive).

    Raises :class:`IngestError` for an unsupported extension.
    """
    loader = _BY_EXTENSION.get(path.suffix.lower())
    if loader is None:
        raise IngestError(
            f"{path}: unsupported file type {path.suffix or '(no extension)'!r};"
            f" supported: {', '.join(SUPPORTED_EXTENSIONS)}. Convert the file or leave it out"
        )
    return loader


def load_file(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load every document in the file ``path``, or none.

    Raises :class:`IngestError` when the file is unsupported, unreadable,
    empty or malformed; no partial result is returned then.
    """
    path = Path(path)
    loader = get_loader(path)
    if not path.is_file():
        raise IngestError(f"{path} is not a file or does not exist; check the path")
    documents = list(loader.load(path, options or LoadOptions()))
    logger.info(
        "loaded %s as %s: %d documents, %d characters",
        path,
        loader.format_name,
        len(documents),
        sum(len(document.text) for document in documents),
    )
    return documents


def iter_files(paths: list[Path]) -> Iterator[Path]:
    """Yield the supported files among ``paths``, walking folders recursively.

    In a folder, hidden files and folders (name starting with ``.``), Office
    lock files (``~$`` prefix) and unsupported extensions are skipped, files
    come sorted by name, and a folder reached twice through links is read once. A file
    named explicitly must have a supported extension, or
    :class:`IngestError` is raised. A path that does not exist raises
    :class:`NotFoundError`.
    """
    for path in map(Path, paths):
        if path.is_dir():
            yield from _walk(path, set())
        elif path.is_file():
            get_loader(path)
            yield path
        else:
            raise NotFoundError(f"{path} does not exist; check the path")


def _walk(folder: Path, visited: set[Path]) -> Iterator[Path]:
    real = folder.resolve()
    if real in visited:
        return
    visited.add(real)
    entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith((".", "~$")):
            continue
        if entry.is_dir():
            yield from _walk(entry, visited)
        elif entry.is_file() and entry.suffix.lower() in _BY_EXTENSION:
            yield entry
