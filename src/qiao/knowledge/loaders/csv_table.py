"""CSV files containing an FAQ table, in UTF-8, GB18030 or another detected encoding."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from pathlib import Path

from qiao.errors import IngestError
from qiao.knowledge.encoding import decode_file
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions
from qiao.knowledge.loaders.faq import FaqTable, read_faq_rows

__all__ = ["CsvLoader"]

logger = logging.getLogger(__name__)

_DELIMITERS = (",", "\t", ";", "|")


class CsvLoader(Loader):
    """Loader of the rows of an FAQ table (see :mod:`.faq`), one document per row.

    The delimiter is the one of ``, TAB ; |`` that splits the first line into
    the most fields. Row numbers count records from 1 for the header, as a
    spreadsheet shows them, so a quoted field with line breaks counts once.
    """

    extensions = (".csv",)
    format_name = "csv"

    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        text = decode_file(path)
        delimiter = _detect_delimiter(text)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        table = FaqTable(str(path), path.stem, "row=", self.format_name, {})
        try:
            documents = read_faq_rows(enumerate(reader, start=1), table, options)
        except csv.Error as error:
            raise IngestError(f"{path} is not valid CSV: {error}") from error
        if not documents:
            raise IngestError(f"{path} is empty: no row has a cell with text; add rows")
        yield from documents


def _detect_delimiter(text: str) -> str:
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {
        delimiter: len(next(csv.reader([first_line], delimiter=delimiter), []))
        for delimiter in _DELIMITERS
    }
    return max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
