"""Conversion of stored rows to the documents that get, query and search return."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qiao.vectordb.dates import format_date
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.fields import FieldSpec, FieldType
from qiao.vectordb.index import VectorIndex
from qiao.vectordb.schema import SpaceSchema
from qiao.vectordb.store import DocumentStore

__all__ = ["DocumentRenderer", "select_fields"]


def select_fields(
    schema: SpaceSchema, fields: Sequence[str] | None, vector_value: bool
) -> tuple[list[FieldSpec], list[FieldSpec]]:
    """Return the scalar and vector fields to return; raise PARAM_ERROR for unknown names.

    Without ``fields``, or with an empty list, every scalar field is returned. Vector fields are
    returned only with ``vector_value``: those listed in ``fields``, or all.
    """
    if fields is None or (isinstance(fields, list | tuple) and not fields):
        chosen = list(schema.fields)
    else:
        if isinstance(fields, str) or not isinstance(fields, Sequence):
            raise VectorDBError(
                ErrorCode.PARAM_ERROR, f"fields must be a list of names, got {fields!r}"
            )
        chosen = []
        for name in fields:
            if name in ("_id", "_score"):
                continue
            spec = schema.get_field(name) if isinstance(name, str) else None
            if spec is None:
                raise VectorDBError(
                    ErrorCode.PARAM_ERROR, f"field {name!r} is not a field of space {schema.name!r}"
                )
            chosen.append(spec)
    scalars = [spec for spec in chosen if not spec.is_vector]
    vectors = [spec for spec in chosen if spec.is_vector] if vector_value else []
    return scalars, vectors


def _output_value(spec: FieldSpec, value: Any) -> Any:
    if spec.type is FieldType.DATE:
        return format_date(value)
    if spec.type is FieldType.FLOAT:
        # The shortest decimal that reads back as the same float32, so 0.1 returns as 0.1.
        return float(str(np.float32(value)))
    return value


class DocumentRenderer:
    """Builds output documents ``{_id, [_score], fields...}`` from rows."""

    def __init__(self, store: DocumentStore, indexes: dict[str, VectorIndex]) -> None:
        self._store = store
        self._indexes = indexes

    def render(
        self,
        rows: Sequence[int],
        scalars: Sequence[FieldSpec],
        vectors: Sequence[FieldSpec],
        scores: Sequence[float] | None = None,
    ) -> list[dict[str, Any]]:
        """Return one document per row, with ``_score`` when scores are given.

        Vector values are returned as lists of the stored float32 values.
        """
        ids = self._store.ids
        if not vectors and all(spec.type is FieldType.STRING for spec in scalars):
            return self._render_plain(rows, ids, scalars, scores)
        row_array = np.asarray(rows, dtype=np.int64)
        vector_values = {
            spec.name: self._indexes[spec.name].reconstruct(row_array).tolist() for spec in vectors
        }
        documents = []
        for position, row in enumerate(row_array.tolist()):
            document: dict[str, Any] = {"_id": ids[row]}
            if scores is not None:
                document["_score"] = float(scores[position])
            for spec in scalars:
                value = self._store.columns[spec.name].get(row)
                document[spec.name] = _output_value(spec, value)
            for spec in vectors:
                document[spec.name] = vector_values[spec.name][position]
            documents.append(document)
        return documents

    def _render_plain(
        self,
        rows: Sequence[int],
        ids: list[str],
        scalars: Sequence[FieldSpec],
        scores: Sequence[float] | None,
    ) -> list[dict[str, Any]]:
        """Render documents whose returned fields need no conversion (ids and strings)."""
        columns = [(spec.name, self._store.columns[spec.name]) for spec in scalars]
        if scores is None:
            documents = [{"_id": ids[row]} for row in rows]
        else:
            documents = [
                {"_id": ids[row], "_score": float(score)}
                for row, score in zip(rows, scores, strict=True)
            ]
        for name, column in columns:
            for document, row in zip(documents, rows, strict=True):
                document[name] = column.get(row)
        return documents
