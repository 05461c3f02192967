"""Assembly of a document's text from blocks, with sections and offsets."""

from __future__ import annotations

from qiao.errors import IngestError
from qiao.knowledge.encoding import normalize_text
from qiao.knowledge.loaders.base import Document, Section

__all__ = ["DocumentBuilder"]

_BLOCK_SEPARATOR = "\n\n"


class DocumentBuilder:
    """Accumulator of headings and text blocks, separated by blank lines.

    Used by formats whose text is extracted (HTML, DOCX, PDF): a heading line
    is written into the text, and the blocks after it, up to the next heading
    of the same or a higher level, form its section.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._headings: list[tuple[int, str]] = []
        self._path: list[str] = []
        self._body_start: int | None = None
        self._sections: list[Section] = []

    def add_heading(self, level: int, text: str) -> None:
        """Write a heading of ``level`` (1 = top) and open its section."""
        text = normalize_text(text).replace("\n", " ")
        if not text:
            return
        while self._headings and self._headings[-1][0] >= level:
            self._headings.pop()
        self._headings.append((level, text))
        self._close_section()
        self._append(text)
        self._path = [heading for _, heading in self._headings]

    def start_section(self, heading_path: list[str]) -> None:
        """Open a section with ``heading_path`` without writing a heading line."""
        self._close_section()
        self._headings = []
        self._path = list(heading_path)

    def add_block(self, text: str) -> None:
        """Append a paragraph, list item or table to the current section."""
        text = normalize_text(text)
        if not text:
            return
        start = self._append(text)
        if self._body_start is None:
            self._body_start = start

    def build(self, *, doc_id: str, source: str, title: str, metadata: dict[str, str]) -> Document:
        """Return the document, or raise :class:`IngestError` when it has no body text."""
        self._close_section()
        if not self._sections:
            raise IngestError(
                f"{source} is empty: it contains no text outside headings;"
                " add content or leave the file out"
            )
        return Document(
            doc_id=doc_id,
            source=source,
            title=title,
            text="".join(self._parts),
            sections=self._sections,
            metadata=metadata,
        )

    def _append(self, text: str) -> int:
        if self._parts:
            self._parts.append(_BLOCK_SEPARATOR)
            self._length += len(_BLOCK_SEPARATOR)
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        return start

    def _close_section(self) -> None:
        if self._body_start is not None:
            self._sections.append(Section(list(self._path), self._body_start, self._length))
        self._body_start = None
