"""JSON Lines files: one document per line, each a JSON object.

A bad line (invalid JSON, not an object, a missing id or text) fails the
whole file: no document of it is loaded, so a corrected file can be added
again without leaving a partial copy behind. Blank lines are ignored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from qiao.errors import IngestError
from qiao.knowledge.encoding import decode_file, normalize_text
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions, Section

__all__ = ["JsonlLoader"]

logger = logging.getLogger(__name__)

_ID_FIELDS = ("doc_id", "id")
_TEXT_FIELD = "text"
_TITLE_FIELD = "title"


class JsonlLoader(Loader):
    """Loader of each line of a JSONL file as a document.

    Fields: the id is ``id_field``, else ``doc_id``, else ``id``; the text
    is ``text_field`` (default ``text``); the title is ``title_field``
    (default ``title``), else the id. Other string and number fields go into
    the metadata. The source is ``<path>#line=<N>``, N counted from 1.
    """

    extensions = (".jsonl",)
    format_name = "jsonl"

    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        documents: list[Document] = []
        line_of_id: dict[str, int] = {}
        # split("\n") and not splitlines(): JSON strings may contain a raw U+2028.
        for number, line in enumerate(decode_file(path).split("\n"), start=1):
            if not line.strip():
                continue
            document = self._read_line(path, number, line, options)
            if document.doc_id in line_of_id:
                raise IngestError(
                    f"{path}: lines {line_of_id[document.doc_id]} and {number} have the same"
                    f" id {document.doc_id!r}; make the ids unique"
                )
            line_of_id[document.doc_id] = number
            documents.append(document)
        if not documents:
            raise IngestError(f"{path} is empty: it has no JSON lines; add records or leave it out")
        yield from documents

    def _read_line(self, path: Path, number: int, line: str, options: LoadOptions) -> Document:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise IngestError(f"{path} line {number} is not valid JSON: {error}") from error
        if not isinstance(record, dict):
            raise IngestError(
                f"{path} line {number} is a JSON {type(record).__name__}, not an object;"
                " write one object per line"
            )

        id_fields = (options.id_field,) if options.id_field else _ID_FIELDS
        id_field = next((name for name in id_fields if _scalar(record.get(name))), None)
        if id_field is None:
            raise _missing_field_error(path, number, " or ".join(id_fields), "--id-field")
        text_field = options.text_field or _TEXT_FIELD
        text = record.get(text_field)
        text = normalize_text(text) if isinstance(text, str) else ""
        if not text:
            raise _missing_field_error(path, number, text_field, "--text-field")

        doc_id = _scalar(record[id_field])
        title_field = options.title_field or _TITLE_FIELD
        title = _scalar(record.get(title_field)) or doc_id
        used = {id_field, text_field, title_field}
        metadata = {
            key: _scalar(value)
            for key, value in record.items()
            if key not in used and _scalar(value)
        }
        metadata.update(format=self.format_name, line=str(number))
        return Document(
            doc_id=doc_id,
            source=f"{path}#line={number}",
            title=title,
            text=text,
            sections=[Section([], 0, len(text))],
            metadata=metadata,
        )


def _scalar(value: object) -> str:
    """Return a string or number field as stripped text, anything else as ``""``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value).strip()


def _missing_field_error(path: Path, number: int, field: str, option: str) -> IngestError:
    return IngestError(
        f"{path} line {number} has no non-empty {field!r} field; add it, or name the"
        f" field that holds it with {option}"
    )
