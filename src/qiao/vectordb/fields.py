"""Field and index declarations of a space schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from qiao.vectordb.index.factory import VECTOR_INDEX_TYPES

__all__ = ["FieldSpec", "FieldType", "IndexSpec"]


class FieldType(Enum):
    """Storage type of a field; several Vearch type strings map to one storage type."""

    STRING = "string"
    INT = "integer"
    LONG = "long"
    FLOAT = "float"
    DOUBLE = "double"
    BOOL = "boolean"
    DATE = "date"
    STRINGARRAY = "stringArray"
    VECTOR = "vector"


@dataclass(frozen=True)
class IndexSpec:
    """An index declaration: ``{name, type, params}`` plus the fields it covers."""

    name: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    field_names: tuple[str, ...] = ()

    @property
    def is_vector(self) -> bool:
        return self.type in VECTOR_INDEX_TYPES

    def to_dict(self, *, top_level: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {"name": self.name, "type": self.type}
        if top_level:
            if self.type == "COMPOSITE":
                result["field_names"] = list(self.field_names)
            else:
                result["field_name"] = self.field_names[0]
        if self.params:
            result["params"] = dict(self.params)
        return result


@dataclass(frozen=True)
class FieldSpec:
    """A field of a space. ``index`` is the index declared on the field itself, if any."""

    name: str
    type: FieldType
    type_name: str
    dimension: int = 0
    format: str | None = None
    store_type: str | None = None
    index: IndexSpec | None = None

    @property
    def is_vector(self) -> bool:
        return self.type is FieldType.VECTOR

    @property
    def normalizes(self) -> bool:
        """True when vectors are scaled to unit length before indexing and search."""
        return self.format in ("normalization", "normal")

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"name": self.name, "type": self.type_name}
        if self.is_vector:
            result["dimension"] = self.dimension
            if self.format is not None:
                result["format"] = self.format
            if self.store_type is not None:
                result["store_type"] = self.store_type
        if self.index is not None:
            result["index"] = self.index.to_dict()
        return result
