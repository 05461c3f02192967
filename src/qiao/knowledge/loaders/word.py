"""Word documents (.docx), read with python-docx.

Paragraphs styled ``Heading N`` (or the localized ``标题 N``) open sections;
tables become one line per row with cells joined by `` | ``. Body paragraphs
and tables are read in document order. Headers, footers, footnotes and
text boxes are not read.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.document import Document as WordDocument
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from qiao.errors import IngestError
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions
from qiao.knowledge.loaders.builder import DocumentBuilder

__all__ = ["DocxLoader"]

logger = logging.getLogger(__name__)

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)


class DocxLoader(Loader):
    """Loader of a DOCX file as one document.

    The title is the core property ``title``, else the first paragraph styled
    ``Title``, else the file stem.
    """

    extensions = (".docx",)
    format_name = "docx"

    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        try:
            word = docx.Document(str(path))
        except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as error:
            raise IngestError(
                f"{path} is not a valid DOCX file ({error});"
                " save it again from Word or leave it out"
            ) from error

        title = (word.core_properties.title or "").strip()
        builder = DocumentBuilder()
        for block in _iter_blocks(word):
            if isinstance(block, Table):
                builder.add_block(_table_text(block))
                continue
            style = block.style.name if block.style is not None else ""
            heading = _HEADING_STYLE.match(style or "")
            if heading:
                builder.add_heading(int(heading.group(1)), block.text)
            elif style == "Title" and not title:
                title = block.text.strip()
            else:
                builder.add_block(block.text)

        yield builder.build(
            doc_id=path.stem,
            source=str(path),
            title=title or path.stem,
            metadata={"format": self.format_name},
        )


def _iter_blocks(word: WordDocument) -> Iterator[Paragraph | Table]:
    """Yield the body's paragraphs and tables in document order."""
    body = word.element.body
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, word)
        elif child.tag == qn("w:tbl"):
            yield Table(child, word)


def _table_text(table: Table) -> str:
    """Return one line per row; a merged cell is written once per row."""
    rows = []
    for row in table.rows:
        cells = []
        seen = []
        for cell in row.cells:
            if any(cell._tc is element for element in seen):
                continue
            seen.append(cell._tc)
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)
