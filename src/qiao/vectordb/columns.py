"""In-memory columns of scalar field values, one value per row, append-only."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from qiao.vectordb.fields import FieldType

__all__ = [
    "BoolMask",
    "GrowableArray",
    "Column",
    "NumericColumn",
    "StringArrayColumn",
    "StringColumn",
    "create_column",
]

_NUMERIC_DTYPES = {
    FieldType.INT: np.int32,
    FieldType.LONG: np.int64,
    FieldType.FLOAT: np.float32,
    FieldType.DOUBLE: np.float64,
    FieldType.BOOL: np.bool_,
    FieldType.DATE: np.int64,
}


class GrowableArray:
    """A numpy array that grows by doubling; ``view()`` returns the filled part."""

    def __init__(self, dtype: type, capacity: int = 1024) -> None:
        self._data = np.zeros(capacity, dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def extend(self, values: np.ndarray) -> None:
        needed = self._size + len(values)
        if needed > len(self._data):
            grown = np.zeros(max(needed, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : needed] = values
        self._size = needed

    def view(self) -> np.ndarray:
        return self._data[: self._size]


class BoolMask(GrowableArray):
    """A growable boolean array, used for the live-row mask."""

    def __init__(self) -> None:
        super().__init__(np.bool_)

    def set(self, row: int, value: bool) -> None:
        self._data[row] = value


class Column(ABC):
    """Values of one scalar field, indexed by row."""

    default: Any

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def extend(self, values: Sequence[Any]) -> None:
        """Append values in storage form, one per new row."""

    @abstractmethod
    def get(self, row: int) -> Any:
        """Return the value of ``row`` in storage form."""

    @abstractmethod
    def to_list(self, start: int, stop: int) -> list[Any]:
        """Return the values of rows ``start`` to ``stop`` as JSON-compatible Python values."""

    @abstractmethod
    def take(self, rows: np.ndarray) -> list[Any]:
        """Return the values of ``rows`` as JSON-compatible Python values."""


class NumericColumn(Column):
    """Integer, float, boolean or date values in a numpy array, for vectorised range filters."""

    def __init__(self, field_type: FieldType) -> None:
        self.field_type = field_type
        self.dtype = _NUMERIC_DTYPES[field_type]
        self.default = False if field_type is FieldType.BOOL else 0
        self._array = GrowableArray(self.dtype)

    def __len__(self) -> int:
        return len(self._array)

    def extend(self, values: Sequence[Any]) -> None:
        self._array.extend(np.asarray(values, dtype=self.dtype))

    def get(self, row: int) -> Any:
        return self._array.view()[row].item()

    def values(self) -> np.ndarray:
        """Return a view of all values; it is invalidated by the next ``extend``."""
        return self._array.view()

    def to_list(self, start: int, stop: int) -> list[Any]:
        return self._array.view()[start:stop].tolist()

    def take(self, rows: np.ndarray) -> list[Any]:
        return self._array.view()[rows].tolist()


class _PostingColumn(Column):
    """A column with a postings map from each string to the rows that contain it."""

    def __init__(self) -> None:
        self._values: list[Any] = []
        self._postings: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, row: int) -> Any:
        return self._values[row]

    def to_list(self, start: int, stop: int) -> list[Any]:
        return list(self._values[start:stop])

    def take(self, rows: np.ndarray) -> list[Any]:
        return [self._values[row] for row in rows.tolist()]

    def rows_with_any(self, terms: Iterable[str]) -> np.ndarray:
        """Return the rows (possibly deleted ones too) that contain at least one of ``terms``."""
        hits = [self._postings.get(term, []) for term in set(terms)]
        if not hits:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate([np.asarray(rows, dtype=np.int64) for rows in hits]))

    def _post(self, term: str, row: int) -> None:
        rows = self._postings.get(term)
        if rows is None:
            self._postings[term] = [row]
        elif rows[-1] != row:
            rows.append(row)


class StringColumn(_PostingColumn):
    """String values."""

    default = ""

    def extend(self, values: Sequence[Any]) -> None:
        row = len(self._values)
        for offset, value in enumerate(values):
            self._post(value, row + offset)
        self._values.extend(values)


class StringArrayColumn(_PostingColumn):
    """Lists of strings; a term filter matches a row when any element matches."""

    default: list[str] = []

    def extend(self, values: Sequence[Any]) -> None:
        row = len(self._values)
        for offset, value in enumerate(values):
            for element in value:
                self._post(element, row + offset)
        self._values.extend(list(value) for value in values)

    def get(self, row: int) -> Any:
        return list(self._values[row])


def create_column(field_type: FieldType) -> Column:
    """Return an empty column for a scalar field type."""
    if field_type is FieldType.STRING:
        return StringColumn()
    if field_type is FieldType.STRINGARRAY:
        return StringArrayColumn()
    return NumericColumn(field_type)
