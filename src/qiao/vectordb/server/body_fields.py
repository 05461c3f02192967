"""The JSON fields of each request body: one table serves binding and the OpenAPI document.

Field names and Go types follow Vearch v3.5 (``internal/entity/request``).
"""

from __future__ import annotations

from qiao.vectordb.server.body import BodyField as F

__all__ = ["DELETE", "INDEX", "QUERY", "SEARCH", "UPSERT"]

_TARGET = (
    F("db_name", "string", "Database name."),
    F("space_name", "string", "Space name or alias."),
)
_FILTERS = F(
    "filters",
    "object",
    'Filter {"operator": "AND"|"OR", "conditions": [{"field", "operator", "value"}]}.',
)
_PAGING = (
    F("sort", "any", "Sort fields."),
    F("page_size", "int32"),
    F("page_num", "int32"),
    F("offset", "int32"),
    F("partition_names", "string_array", "Partitions to read."),
    F("load_balance", "string", "Replica choice: leader, random, ... (one replica here)."),
    F("trace", "boolean"),
)

UPSERT = (
    *_TARGET,
    F("documents", "array", "Documents: objects of field values, with an optional _id."),
    F("partitions", "array", "Ids of the partitions to write to (numbers or numeric strings)."),
)

QUERY = (
    *_TARGET,
    F("document_ids", "string_array", "Ids to get (fewer than 500)."),
    _FILTERS,
    F("fields", "string_array", "Fields to return."),
    F("vector_value", "boolean", "Return vector fields too."),
    F("limit", "int32", "Maximum number of documents (default 50)."),
    F("partition_id", "uint32", "Get the ids from this partition."),
    F("get_by_hash", "boolean"),
    F("next", "boolean", "With partition_id: return the document after each id."),
    *_PAGING,
)

SEARCH = (
    *_TARGET,
    F(
        "vectors",
        "array",
        'Query vectors [{"field", "feature": [nq x dimension numbers], "min_score", "max_score"}].',
    ),
    _FILTERS,
    F("fields", "string_array", "Fields to return."),
    F("vector_value", "boolean", "Return vector fields too."),
    F("limit", "int32", "Hits per query vector (default 50)."),
    F("index_params", "object", "metric_type, nprobe, efSearch, recall_num, ..."),
    F("is_brute_search", "int32", "1: exact search; 2: exact while the index is unbuilt."),
    F("l2_sqrt", "boolean", "Return the L2 distance instead of its square."),
    F("ranker", "object", 'Weights of several vector fields {"type": "WeightedRanker", "params"}.'),
    *_PAGING,
)

DELETE = (
    *_TARGET,
    F("document_ids", "string_array", "Ids to delete (fewer than 500)."),
    _FILTERS,
    F("limit", "int32", "Maximum number of documents a filter deletes."),
    F("trace", "boolean"),
)

INDEX = (
    *_TARGET,
    F("partition_id", "uint32"),
    F("drop_before_rebuild", "boolean"),
    F("limit_cpu", "int64"),
    F("describe", "int64"),
)
