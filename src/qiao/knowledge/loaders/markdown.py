"""Markdown files: ATX headings become sections, ``doc_id`` markers set ids.

A line ``<!-- doc_id: XYZ -->`` before the first heading sets the document id.
Under a heading it sets the id of that heading's section and of its
sub-sections, which keep it unless they have a marker of their own. Marker
lines, heading lines and a YAML front matter block are left out of section
bodies, so they never reach a chunk. Setext headings (text underlined with
``===`` or ``---``) are not recognized and stay body text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from qiao.errors import IngestError
from qiao.knowledge.encoding import decode_file, normalize_text
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions, Section

__all__ = ["MarkdownLoader", "parse_markdown"]

logger = logging.getLogger(__name__)

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_MARKER = re.compile(r"^\s*<!--\s*doc_id\s*:\s*(.+?)\s*-->\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)(?:\n|\Z)", re.DOTALL)


@dataclass
class _Heading:
    level: int
    text: str
    doc_id: str | None
    has_marker: bool = False


class MarkdownLoader(Loader):
    """Loader of a Markdown file as one document.

    The title is the front matter ``title``, else the first level-1 heading,
    else the file stem.
    """

    extensions = (".md", ".markdown")
    format_name = "markdown"

    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        text = normalize_text(decode_file(path), keep_indent=True)
        yield parse_markdown(text, source=str(path), default_id=path.stem)


def parse_markdown(text: str, *, source: str, default_id: str) -> Document:
    """Parse normalized Markdown ``text`` into a document with sections."""
    front_matter, body_start = _read_front_matter(text, source)
    parser = _SectionParser(source)
    parser.feed(text, body_start)
    if not parser.sections:
        raise IngestError(
            f"{source} is empty: it contains no text outside headings and markers;"
            " add content or leave the file out"
        )

    doc_id = parser.doc_id or front_matter.pop("doc_id", None) or default_id
    title = front_matter.pop("title", None) or parser.first_title or default_id
    metadata = {**front_matter, "format": MarkdownLoader.format_name}
    return Document(doc_id, source, title, text, parser.sections, metadata)


class _SectionParser:
    """Line-by-line reader of Markdown text that collects section body spans."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sections: list[Section] = []
        self.doc_id: str | None = None
        self.first_title: str | None = None
        self._headings: list[_Heading] = []
        self._heading_sections: list[Section] = []
        self._body_start: int | None = None
        self._body_end = 0
        self._fence: str | None = None

    def feed(self, text: str, offset: int) -> None:
        line_number = text.count("\n", 0, offset)
        while offset < len(text):
            line_end = text.find("\n", offset)
            if line_end < 0:
                line_end = len(text)
            line_number += 1
            self._read_line(text[offset:line_end], offset, line_end, line_number)
            offset = line_end + 1
        self._close_body()

    def _read_line(self, line: str, start: int, end: int, line_number: int) -> None:
        fence = _FENCE.match(line)
        if fence and (self._fence is None or fence.group(1).startswith(self._fence)):
            self._fence = None if self._fence else fence.group(1)
        elif self._fence is None:
            heading = _HEADING.match(line)
            if heading:
                self._open_heading(len(heading.group(1)), heading.group(2).strip())
                return
            marker = _MARKER.match(line)
            if marker:
                self._set_marker(marker.group(1), line_number)
                return

        if line.strip():
            if self._body_start is None:
                self._body_start = start
            self._body_end = end

    def _open_heading(self, level: int, text: str) -> None:
        self._close_body()
        while self._headings and self._headings[-1].level >= level:
            self._headings.pop()
        parent_id = self._headings[-1].doc_id if self._headings else None
        self._headings.append(_Heading(level, text, parent_id))
        self._heading_sections = []
        if level == 1 and self.first_title is None:
            self.first_title = text

    def _set_marker(self, doc_id: str, line_number: int) -> None:
        self._close_body()
        if not self._headings:
            if self.doc_id is not None and self.doc_id != doc_id:
                raise self._conflict_error(self.doc_id, doc_id, line_number)
            self.doc_id = doc_id
            return

        heading = self._headings[-1]
        if heading.has_marker and heading.doc_id != doc_id:
            raise self._conflict_error(heading.doc_id, doc_id, line_number)
        heading.doc_id = doc_id
        heading.has_marker = True
        # Body text between the heading and a late marker belongs to the same section.
        for section in self._heading_sections:
            section.doc_id = doc_id

    def _close_body(self) -> None:
        if self._body_start is None:
            return
        heading = self._headings[-1] if self._headings else None
        section = Section(
            heading_path=[item.text for item in self._headings],
            start=self._body_start,
            end=self._body_end,
            doc_id=heading.doc_id if heading else None,
        )
        self.sections.append(section)
        self._heading_sections.append(section)
        self._body_start = None

    def _conflict_error(self, old: str | None, new: str, line_number: int) -> IngestError:
        return IngestError(
            f"{self.source} line {line_number}: doc_id marker {new!r} conflicts with"
            f" the earlier marker {old!r} for the same section; keep one marker per heading"
        )


def _read_front_matter(text: str, source: str) -> tuple[dict[str, str], int]:
    """Return the scalar fields of a leading YAML block and the offset after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, 0
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        logger.warning("%s: front matter is not valid YAML, read as text: %s", source, error)
        return {}, 0
    if not isinstance(data, dict):
        return {}, 0
    fields = {
        str(key): str(value)
        for key, value in data.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }
    return fields, match.end()
