"""Excel workbooks (.xlsx) containing FAQ sheets, read with openpyxl."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from qiao.errors import IngestError
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions
from qiao.knowledge.loaders.faq import FaqTable, read_faq_rows

__all__ = ["XlsxLoader"]

logger = logging.getLogger(__name__)


class XlsxLoader(Loader):
    """Loader of every non-empty sheet of a workbook as FAQ rows (see :mod:`.faq`).

    In a one-sheet workbook a row's id is ``<stem>#<row>`` and its source
    ``<path>#row=<row>``, with the row number as Excel shows it. With more
    sheets the sheet name is added: ``<stem>#<sheet>#<row>`` and
    ``<path>#sheet=<sheet>&row=<row>``. Sheets without recognizable columns
    are skipped with a warning while another sheet has them.
    """

    extensions = (".xlsx",)
    format_name = "xlsx"

    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
            raise IngestError(
                f"{path} is not a valid XLSX file ({error});"
                " save it again from Excel or leave it out"
            ) from error

        try:
            documents, errors = self._read_sheets(workbook, path, options)
        finally:
            workbook.close()
        if not documents and errors:
            raise errors[0]
        if not documents:
            raise IngestError(f"{path} is empty: no sheet has a cell with text; add rows")
        for error in errors:
            logger.warning("%s: sheet skipped: %s", path, error)
        yield from documents

    def _read_sheets(
        self, workbook: openpyxl.Workbook, path: Path, options: LoadOptions
    ) -> tuple[list[Document], list[IngestError]]:
        several = len(workbook.worksheets) > 1
        documents: list[Document] = []
        errors: list[IngestError] = []
        for sheet in workbook.worksheets:
            if several:
                table = FaqTable(
                    f"{path}",
                    f"{path.stem}#{sheet.title}",
                    f"sheet={sheet.title}&row=",
                    self.format_name,
                    {"sheet": sheet.title},
                )
            else:
                table = FaqTable(f"{path}", path.stem, "row=", self.format_name, {})
            sheet.reset_dimensions()
            rows = enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
            try:
                documents.extend(read_faq_rows(rows, table, options))
            except IngestError as error:
                errors.append(error)
        return documents, errors
