"""Chinese-aware chunking of loaded documents into passages for retrieval.

Rules, applied per section so that no chunk crosses a section boundary:

1. Paragraphs (separated by blank lines) are packed whole while the chunk
   stays within ``size`` characters.
2. A paragraph longer than ``size`` is split at sentence ends: 。！？；!?…,
   an English period before whitespace, and a line break. Closing quotes
   and brackets stay with their sentence.
3. Only a sentence longer than ``size`` is cut inside, at the last comma,
   enumeration comma, colon or space in the second half of the window, else
   exactly at ``size``.
4. A chunk after the first in a section starts with the trailing sentences
   of the previous chunk, up to ``overlap`` characters, when they fit.

Every chunk satisfies ``doc.text[chunk.start:chunk.end] == chunk.text``, and
no chunk starts or ends with whitespace.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from qiao.errors import InvalidInputError
from qiao.knowledge.loaders.base import Document, Section

__all__ = ["Chunk", "chunk_context", "chunk_label", "chunk_document"]

logger = logging.getLogger(__name__)

HEADING_SEPARATOR = " > "

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?:[。！？；!?…]+|\.(?=\s))[”’\"'）)\]】」』》]*|\n")
_SOFT_BREAKS = "，,、：: "

Span = tuple[int, int]


@dataclass
class Chunk:
    """A passage of one document, located by character offsets into its text."""

    #: The section's marker id when it has one, else the document id.
    doc_id: str
    source: str
    title: str
    #: Heading path of the section, joined with " > "; empty before any heading.
    heading: str
    text: str
    start: int
    end: int
    #: Position of the chunk within its document, from 0.
    index: int


def chunk_document(doc: Document, size: int = 400, overlap: int = 60) -> list[Chunk]:
    """Split ``doc`` into chunks of at most ``size`` characters each.

    Raises :class:`InvalidInputError` unless ``size > 0`` and
    ``0 <= overlap < size``.
    """
    if size <= 0:
        raise InvalidInputError(f"chunk size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise InvalidInputError(
            f"chunk overlap must be at least 0 and below the chunk size {size}, got {overlap}"
        )

    chunks: list[Chunk] = []
    for section in doc.sections:
        for start, end in _chunk_spans(doc.text, section, size, overlap):
            chunks.append(
                Chunk(
                    doc_id=section.doc_id or doc.doc_id,
                    source=doc.source,
                    title=doc.title,
                    heading=HEADING_SEPARATOR.join(section.heading_path),
                    text=doc.text[start:end],
                    start=start,
                    end=end,
                    index=len(chunks),
                )
            )
    logger.debug("chunked %s into %d chunks", doc.source, len(chunks))
    return chunks


class Labeled(Protocol):
    """Anything with a title, a heading path and a text, such as a chunk or a stored chunk."""

    title: str
    heading: str
    text: str


def chunk_label(chunk: Labeled) -> str:
    """Return ``"{title} > {heading}"`` without empty parts or a heading that repeats the title.

    A Markdown file titled by its first ``#`` heading has that title at the
    start of every heading path, so it is left out there.
    """
    heading = chunk.heading
    if heading == chunk.title:
        heading = ""
    elif heading.startswith(chunk.title + HEADING_SEPARATOR):
        heading = heading[len(chunk.title) + len(HEADING_SEPARATOR) :]
    return HEADING_SEPARATOR.join(part for part in (chunk.title, heading) if part)


def chunk_context(chunk: Labeled) -> str:
    """Return the text to embed and index: the label line, then the chunk text."""
    label = chunk_label(chunk)
    return f"{label}\n{chunk.text}" if label else chunk.text


def _chunk_spans(text: str, section: Section, size: int, overlap: int) -> list[Span]:
    pieces = [
        piece
        for paragraph in _paragraphs(text, section.start, section.end)
        for piece in _pieces(text, paragraph, size)
    ]
    spans: list[Span] = []
    for piece_start, piece_end in pieces:
        if spans and piece_end - spans[-1][0] <= size:
            spans[-1] = (spans[-1][0], piece_end)
            continue
        carried = None
        if spans and overlap:
            carried = _overlap_start(text, spans[-1], max(piece_end - size, 0), overlap)
        spans.append((piece_start if carried is None else carried, piece_end))
    return spans


def _paragraphs(text: str, start: int, end: int) -> list[Span]:
    spans = []
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, end))
    return _trimmed(text, spans)


def _pieces(text: str, paragraph: Span, size: int) -> list[Span]:
    """Return ``paragraph`` whole, or its sentences, hard-cut when above ``size``."""
    start, end = paragraph
    if end - start <= size:
        return [paragraph]
    pieces = []
    for sentence in _sentences(text, start, end):
        if sentence[1] - sentence[0] <= size:
            pieces.append(sentence)
        else:
            pieces.extend(_hard_cut(text, sentence, size))
    return pieces


def _sentences(text: str, start: int, end: int) -> list[Span]:
    spans = []
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, end))
    return _trimmed(text, spans)


def _hard_cut(text: str, sentence: Span, size: int) -> list[Span]:
    start, end = sentence
    pieces = []
    while end - start > size:
        window_end = start + size
        cut = window_end
        for position in range(window_end - 1, start + size // 2, -1):
            if text[position] in _SOFT_BREAKS:
                cut = position + 1
                break
        pieces.append(_trim(text, start, cut))
        start = _trim(text, cut, end)[0]
    pieces.append((start, end))
    return [piece for piece in pieces if piece[0] < piece[1]]


def _overlap_start(text: str, previous: Span, lowest: int, overlap: int) -> int | None:
    """Find the start of the trailing sentences of ``previous`` to carry over, if any.

    The carried text is at most ``overlap`` characters, starts at or after
    ``lowest`` (so the next chunk stays within its size), and is never the
    whole previous chunk.
    """
    previous_start, previous_end = previous
    lowest = max(lowest, previous_end - overlap, previous_start + 1)
    carried = None
    for sentence_start, _ in reversed(_sentences(text, previous_start, previous_end)):
        if sentence_start < lowest:
            break
        carried = sentence_start
    return carried


def _trimmed(text: str, spans: list[Span]) -> list[Span]:
    """Return ``spans`` without surrounding whitespace, dropping the empty ones."""
    trimmed = [_trim(text, start, end) for start, end in spans]
    return [(start, end) for start, end in trimmed if start < end]


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
