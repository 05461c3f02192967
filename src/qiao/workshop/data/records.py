"""Reading of training-data files into raw records (one dict per row).

JSONL (``.jsonl``, ``.ndjson``), JSON (a top-level array of objects), CSV and
XLSX files are read. CSV and XLSX rows become dicts keyed by the header row.
Text files may be UTF-8 or GB18030, as :func:`qiao.knowledge.encoding.decode_bytes`
detects. A line that is not valid JSON, or a JSON value that is not an
object, raises :class:`InvalidInputError` naming the file and line, because
such a file is damaged and skipping lines would hide it.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiao.errors import IngestError, InvalidInputError, NotFoundError
from qiao.knowledge.encoding import decode_file

__all__ = ["SUFFIXES", "RawRecord", "read_records"]

SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".xlsx")
_CSV_DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True)
class RawRecord:
    """One row of an input file and where it came from.

    ``location`` is ``line=N`` for JSONL, ``item=N`` for JSON arrays and
    ``row=N`` (``sheet=S&row=N`` for workbooks with several sheets) for tables,
    counted from 1 as editors and spreadsheets show them.
    """

    path: str
    location: str
    fields: dict[str, Any]

    @property
    def source(self) -> str:
        return f"{self.path}#{self.location}"


def read_records(path: Path) -> Iterator[RawRecord]:
    """Yield the rows of ``path``; the reader is chosen by the file suffix."""
    if not path.is_file():
        raise NotFoundError(f"input file {path} not found; check the path")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        yield from _read_jsonl(path)
    elif suffix == ".json":
        yield from _read_json_array(path)
    elif suffix == ".csv":
        yield from _read_csv(path)
    elif suffix == ".xlsx":
        yield from _read_xlsx(path)
    else:
        raise InvalidInputError(
            f"{path}: unsupported file type {suffix or '(none)'!r};"
            f" use one of {', '.join(SUFFIXES)}"
        )


def _decode(path: Path) -> str:
    try:
        return decode_file(path)
    except IngestError as error:
        raise InvalidInputError(str(error)) from error


def _read_jsonl(path: Path) -> Iterator[RawRecord]:
    text = _decode(path).lstrip("\ufeff")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInputError(
                f"{path} line {number} is not valid JSON ({error.msg} at column {error.colno});"
                " fix or delete that line"
            ) from error
        yield RawRecord(str(path), f"line={number}", _require_object(value, path, "line", number))


def _read_json_array(path: Path) -> Iterator[RawRecord]:
    try:
        value = json.loads(_decode(path).lstrip("\ufeff"))
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno});"
            " fix the file or save it as JSONL with one object per line"
        ) from error
    if isinstance(value, dict):
        # A single conversation or row saved as one object.
        value = [value]
    if not isinstance(value, list):
        raise InvalidInputError(
            f"{path} holds a JSON {type(value).__name__}; expected an array of objects"
        )
    for number, item in enumerate(value, start=1):
        yield RawRecord(str(path), f"item={number}", _require_object(item, path, "item", number))


def _require_object(value: object, path: Path, unit: str, number: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError(
            f"{path} {unit} {number} is a JSON {type(value).__name__}, not an object;"
            ' each row must be an object such as {"instruction": ..., "output": ...}'
        )
    return value


def _read_csv(path: Path) -> Iterator[RawRecord]:
    text = _decode(path).lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = max(
        _CSV_DELIMITERS,
        key=lambda candidate: len(next(csv.reader([first_line], delimiter=candidate), [])),
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from _table_records(str(path), "", enumerate(reader, start=1))
    except csv.Error as error:
        raise InvalidInputError(f"{path} is not valid CSV: {error}") from error


def _read_xlsx(path: Path) -> Iterator[RawRecord]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise InvalidInputError(
            f"{path} is not a valid XLSX file ({error}); save it again from Excel"
        ) from error
    try:
        several = len(workbook.worksheets) > 1
        for sheet in workbook.worksheets:
            prefix = f"sheet={sheet.title}&" if several else ""
            sheet.reset_dimensions()
            rows = enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
            yield from _table_records(str(path), prefix, rows)
    finally:
        workbook.close()


def _table_records(path: str, prefix: str, rows: Iterator[tuple[int, Any]]) -> Iterator[RawRecord]:
    """Turn table rows into records keyed by the first non-empty row (the header)."""
    headers: list[str] | None = None
    for number, row in rows:
        cells = [_cell_text(cell) for cell in row]
        if not any(cells):
            continue
        if headers is None:
            headers = [cell.strip() for cell in cells]
            continue
        fields = {
            header: cells[index] if index < len(cells) else ""
            for index, header in enumerate(headers)
            if header
        }
        yield RawRecord(path, f"{prefix}row={number}", fields)


def _cell_text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime.datetime | datetime.date | datetime.time):
        return cell.isoformat()
    return str(cell)
