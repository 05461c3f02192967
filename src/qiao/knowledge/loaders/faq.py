"""FAQ tables (CSV, XLSX): one document per question/answer row.

Columns are found by header, case-insensitively. The question column is the
first of 问题, question, q, 标题, title. The answer column is the first of
答案, 回答, answer, a, and the id column the first of id, doc_id, 编号.
Options name other headers. The header row is the first of the table's first five
non-empty rows in which both a question and an answer column are found, so a
caption row above the headers is allowed. Rows with an empty question or
answer are skipped with a warning.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qiao.errors import IngestError
from qiao.knowledge.encoding import normalize_text
from qiao.knowledge.loaders.base import Document, LoadOptions, Section

__all__ = ["FaqTable", "read_faq_rows"]

logger = logging.getLogger(__name__)

QUESTION_HEADERS = ("问题", "question", "q", "标题", "title")
ANSWER_HEADERS = ("答案", "回答", "answer", "a")
ID_HEADERS = ("id", "doc_id", "编号")
_HEADER_SEARCH_ROWS = 5
_LOGGED_SKIPS = 10


@dataclass
class FaqTable:
    """Origin of one table's rows, and the naming of their documents."""

    #: Path of the file, as given.
    path: str
    #: Prefix of generated document ids, such as the file stem.
    id_prefix: str
    #: Prefix of each row's locator in ``Document.source``, such as ``"row="``.
    locator_prefix: str
    format_name: str
    #: Extra metadata for every row, such as the sheet name.
    metadata: dict[str, str]


@dataclass
class _Columns:
    question: int
    answer: int
    id: int | None
    headers: list[str]


def read_faq_rows(
    rows: Iterable[tuple[int, Sequence[object]]], table: FaqTable, options: LoadOptions
) -> list[Document]:
    """Turn numbered table rows into documents; the first rows must contain the header.

    Returns an empty list when every row is empty. Raises
    :class:`IngestError` when no header row is recognized, when an id repeats,
    or when no row has both a question and an answer.
    """
    columns: _Columns | None = None
    first_headers: list[str] | None = None
    documents: list[Document] = []
    row_of_id: dict[str, int] = {}
    skipped = 0
    searched = 0

    for number, cells in rows:
        values = [_cell_text(cell) for cell in cells]
        if not any(values):
            continue
        if columns is None:
            first_headers = first_headers or values
            columns = _find_columns(values, options, table.path)
            searched += 1
            if columns is None and searched >= _HEADER_SEARCH_ROWS:
                break
            continue

        question = _value(values, columns.question)
        answer = _value(values, columns.answer)
        if not question or not answer:
            skipped += 1
            if skipped <= _LOGGED_SKIPS:
                missing = "question" if not question else "answer"
                logger.warning("%s row %d skipped: empty %s", table.path, number, missing)
            continue

        document = _row_document(number, values, question, answer, columns, table)
        if document.doc_id in row_of_id:
            raise IngestError(
                f"{table.path}: rows {row_of_id[document.doc_id]} and {number} have the same"
                f" id {document.doc_id!r}; make the ids unique"
            )
        row_of_id[document.doc_id] = number
        documents.append(document)

    if first_headers is None:
        return []
    if columns is None:
        raise _columns_error(table.path, first_headers or [], options)
    if skipped > _LOGGED_SKIPS:
        logger.warning("%s: %d rows skipped for an empty question or answer", table.path, skipped)
    if not documents:
        raise IngestError(
            f"{table.path} has no row with both a question and an answer"
            f" (columns {columns.headers[columns.question]!r} and"
            f" {columns.headers[columns.answer]!r}); fill them in or leave the file out"
        )
    return documents


def _row_document(
    number: int,
    values: list[str],
    question: str,
    answer: str,
    columns: _Columns,
    table: FaqTable,
) -> Document:
    doc_id = _value(values, columns.id) if columns.id is not None else ""
    text = f"问题：{question}\n回答：{answer}"
    metadata = {
        header: value
        for index, (header, value) in enumerate(zip(columns.headers, values, strict=False))
        if header and value and index not in (columns.question, columns.answer, columns.id)
    }
    metadata.update(table.metadata)
    metadata.update(format=table.format_name, row=str(number))
    return Document(
        doc_id=doc_id or f"{table.id_prefix}#{number}",
        source=f"{table.path}#{table.locator_prefix}{number}",
        title=question,
        text=text,
        sections=[Section([], 0, len(text))],
        metadata=metadata,
    )


def _find_columns(headers: list[str], options: LoadOptions, path: str) -> _Columns | None:
    """Return the column positions, or ``None`` when ``headers`` is not the header row."""
    keys = [header.strip().rstrip(":：").lower() for header in headers]
    question = _find(keys, options.question_field, QUESTION_HEADERS)
    answer = _find(keys, options.answer_field, ANSWER_HEADERS)
    if question is None or answer is None or question == answer:
        return None
    found_id = _find(keys, options.id_field, ID_HEADERS)
    if options.id_field and found_id is None:
        raise IngestError(
            f"{path}: id column {options.id_field!r} (option --id-field) not found;"
            f" headers found: {_join(headers)}"
        )
    return _Columns(question, answer, found_id, headers)


def _find(keys: list[str], explicit: str | None, aliases: tuple[str, ...]) -> int | None:
    candidates = (explicit.strip().lower(),) if explicit else aliases
    for candidate in candidates:
        if candidate in keys:
            return keys.index(candidate)
    return None


def _columns_error(path: str, headers: list[str], options: LoadOptions) -> IngestError:
    expected = (
        f"{options.question_field or '/'.join(QUESTION_HEADERS)} and"
        f" {options.answer_field or '/'.join(ANSWER_HEADERS)}"
    )
    return IngestError(
        f"{path}: no question and answer columns found (expected {expected});"
        f" headers found: {_join(headers)}; name the columns with --question-field"
        " and --answer-field"
    )


def _join(headers: list[str]) -> str:
    return ", ".join(repr(header) for header in headers if header) or "none"


def _value(values: list[str], index: int) -> str:
    return values[index] if index < len(values) else ""


def _cell_text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime.datetime | datetime.date | datetime.time):
        return cell.isoformat()
    return normalize_text(str(cell))
