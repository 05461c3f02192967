"""Data model of loaded documents and the interface of a format loader."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Document", "LoadOptions", "Loader", "Section"]


@dataclass
class Section:
    """A span of body text under one heading path.

    ``start``/``end`` are character offsets into :attr:`Document.text`; the
    heading line itself is outside the span. Sections do not overlap, but they
    need not cover the whole text, and one heading may own several spans.
    """

    heading_path: list[str]
    start: int
    end: int
    #: Document id given to this section by a marker, else ``None``.
    doc_id: str | None = None


@dataclass
class Document:
    """One loaded document: normalized text plus its sections."""

    doc_id: str
    #: File path as given, plus ``#row=N`` or ``#line=N`` for record files.
    source: str
    title: str
    #: Normalized full text; section and chunk offsets refer to it.
    text: str
    sections: list[Section]
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadOptions:
    """Field names for record files (CSV, XLSX, JSONL); ``None`` means detect."""

    id_field: str | None = None
    text_field: str | None = None
    title_field: str | None = None
    question_field: str | None = None
    answer_field: str | None = None


class Loader(ABC):
    """Reader of one file format into documents."""

    #: Lower-case file extensions handled by this loader, with the dot.
    extensions: tuple[str, ...]
    #: Short format name stored in ``Document.metadata["format"]``.
    format_name: str

    @abstractmethod
    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        """Yield the documents in ``path``.

        Raises :class:`qiao.errors.IngestError` when the file cannot be read.
        """
