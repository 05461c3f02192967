"""HTML pages: visible text in blocks, ``h1``-``h6`` headings as sections."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from qiao.errors import IngestError
from qiao.knowledge.encoding import decode_bytes
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions
from qiao.knowledge.loaders.builder import DocumentBuilder

__all__ = ["HtmlLoader", "decode_html"]

logger = logging.getLogger(__name__)

# Elements whose content is not page text.
_DROPPED = ("script", "style", "nav", "noscript", "template", "head", "title", "svg", "iframe")
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = frozenset(
    "address article aside blockquote caption dd details div dl dt fieldset figcaption"
    " figure footer form header hr li main ol p pre section summary ul".split()
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_CHARSET_SNIFF_BYTES = 4096
_SPACE_RUN = re.compile(r"\s+")
# GB2312 and GBK pages often use characters only GB18030 (their superset) has.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030"}


class HtmlLoader(Loader):
    """Loader of an HTML page as one document, titled by ``<title>``, else its first ``h1``."""

    extensions = (".html", ".htm")
    format_name = "html"

    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise IngestError(f"failed to read {path}: {error}") from error
        soup = BeautifulSoup(decode_html(data, str(path)), "html.parser")

        title_tag = soup.find("title")
        title = _SPACE_RUN.sub(" ", title_tag.get_text()).strip() if title_tag else ""
        for tag in soup.find_all(_DROPPED):
            tag.decompose()

        builder = DocumentBuilder()
        _TextExtractor(builder).extract(soup.body or soup)
        if not title:
            first_heading = soup.find("h1")
            title = first_heading.get_text(" ", strip=True) if first_heading else path.stem
        yield builder.build(
            doc_id=path.stem,
            source=str(path),
            title=title or path.stem,
            metadata={"format": self.format_name},
        )


def decode_html(data: bytes, name: str) -> str:
    """Decode an HTML page by its ``<meta charset>``, else by detection."""
    declared = _META_CHARSET.search(data[:_CHARSET_SNIFF_BYTES])
    if declared and not data.startswith(
        (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    ):
        encoding = declared.group(1).decode("ascii").lower()
        encoding = _SUPERSETS.get(encoding, encoding)
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as error:
            logger.warning("%s: declared charset %s failed (%s); detecting", name, encoding, error)
    return decode_bytes(data, name)


class _TextExtractor:
    """Walker of the element tree that feeds text blocks and headings to a builder."""

    def __init__(self, builder: DocumentBuilder) -> None:
        self._builder = builder
        self._inline: list[str] = []
        self._in_pre = 0

    def extract(self, root: Tag) -> None:
        self.walk(root)
        self._flush()

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, PreformattedString):
                continue  # comments, CDATA, doctype, processing instructions
            if isinstance(child, NavigableString):
                text = str(child)
                self._inline.append(text if self._in_pre else _SPACE_RUN.sub(" ", text))
            elif isinstance(child, Tag):
                self._walk_element(child)

    def _walk_element(self, element: Tag) -> None:
        name = element.name
        if name in _HEADINGS:
            self._flush()
            self._builder.add_heading(_HEADINGS[name], element.get_text(" "))
        elif name == "br":
            self._inline.append("\n")
        elif name == "table":
            self._flush()
            self._builder.add_block(_table_text(element))
        elif name in _BLOCKS:
            self._flush()
            preformatted = name == "pre"
            self._in_pre += preformatted
            self.walk(element)
            self._in_pre -= preformatted
            self._flush()
        else:
            self.walk(element)

    def _flush(self) -> None:
        if self._inline:
            self._builder.add_block("".join(self._inline))
            self._inline = []


def _table_text(table: Tag) -> str:
    """Return one line per table row, cells joined by `` | ``."""
    rows = []
    for row in table.find_all("tr"):
        cells = [
            _SPACE_RUN.sub(" ", cell.get_text(" ")).strip()
            for cell in row.find_all(("td", "th"), recursive=False)
        ]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)
