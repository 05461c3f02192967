"""The vector index of each vector field of a space."""

from __future__ import annotations

from qiao.vectordb.fields import FieldSpec, IndexSpec
from qiao.vectordb.index import VectorIndex, create_vector_index, validate_vector_index
from qiao.vectordb.schema import SpaceSchema

__all__ = ["index_spec_for", "new_field_index"]


def index_spec_for(schema: SpaceSchema, spec: FieldSpec) -> IndexSpec:
    """Return the index of vector field ``spec``; a field declared without one is searched FLAT."""
    declared = schema.index_for(spec.name)
    if declared is not None:
        return declared
    params = validate_vector_index("FLAT", {}, spec.dimension)
    return IndexSpec(spec.name, "FLAT", params, (spec.name,))


def new_field_index(schema: SpaceSchema, spec: FieldSpec) -> VectorIndex:
    """Return an empty index for vector field ``spec``."""
    index_spec = index_spec_for(schema, spec)
    return create_vector_index(index_spec.type, index_spec.params, spec.dimension)
