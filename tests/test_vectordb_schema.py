"""Space schema validation and the database and space lifecycle of the engine."""

from __future__ import annotations

import pytest

from qiao.vectordb import Engine, ErrorCode, VectorDBError


def vector_field(index_type: str = "FLAT", **params: object) -> dict:
    return {
        "name": "emb",
        "type": "vector",
        "dimension": 4,
        "index": {"name": "emb_idx", "type": index_type, "params": params},
    }


def space(*fields: dict, name: str = "docs", **extra: object) -> dict:
    return {"name": name, "fields": list(fields) or [vector_field()], **extra}


def error_of(engine: Engine, schema: dict) -> VectorDBError:
    with pytest.raises(VectorDBError) as caught:
        engine.create_space("db", schema)
    return caught.value


def test_schema_accepts_every_field_type(engine):
    fields = [
        {"name": name, "type": type_name}
        for name, type_name in [
            ("s1", "string"),
            ("s2", "keyword"),
            ("s3", "text"),
            ("i1", "integer"),
            ("i2", "short"),
            ("i3", "byte"),
            ("l", "long"),
            ("f", "float"),
            ("d", "double"),
            ("b1", "boolean"),
            ("b2", "bool"),
            ("t", "date"),
            ("a1", "stringArray"),
            ("a2", "StringArray"),
            ("a3", "string_array"),
        ]
    ]
    created = engine.create_space("db", space(*fields, vector_field()))
    described = created.describe()
    assert [field["name"] for field in described["schema"]["fields"]][:3] == ["s1", "s2", "s3"]
    assert described["doc_num"] == 0
    assert described["space_name"] == "docs"


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        (space({"name": "x", "type": "keyword"}), "at least one vector field"),
        (space({"name": "emb", "type": "vector", "dimension": 4}), "at least one vector field"),
        (space({"name": "x", "type": "geo"}, vector_field()), "unknown type"),
        (space({"name": "_id", "type": "string"}, vector_field()), "reserved"),
        (space({"name": "_score", "type": "string"}, vector_field()), "reserved"),
        (space({"name": "", "type": "string"}, vector_field()), "non-empty"),
        (space(vector_field(), vector_field()), "duplicated"),
        (space({"name": "emb", "type": "vector", "dimension": 0}), "dimension"),
        (space({"name": "emb", "type": "vector", "dimension": "4"}), "dimension"),
        (space(vector_field(metric_type="Cosine")), "metric_type"),
        (space(vector_field("HNSW", nlinks=7)), "nlinks"),
        (space(vector_field("HNSW", nlinks=97)), "nlinks"),
        (space(vector_field("HNSW", efConstruction=15)), "efConstruction"),
        (space(vector_field("HNSW", efConstruction=1025)), "efConstruction"),
        (space(vector_field("HNSW", efSearch=0)), "efSearch"),
        (space(vector_field("IVFRABITQ")), "not supported"),
        (space(vector_field("NOPE")), "unknown"),
        (
            space({"name": "x", "type": "string", "index": {"type": "FLAT"}}, vector_field()),
            "vector",
        ),
        (
            space(
                {"name": "x", "type": "string", "index": {"type": "INVERTED_LIST"}}, vector_field()
            ),
            "INVERTED_LIST",
        ),
        (space({**vector_field(), "index": {"type": "SCALAR"}}), "vector index"),
        (space({**vector_field(), "format": "unit"}), "format"),
        (space({**vector_field(), "store_type": "Disk"}), "store_type"),
        (space({**vector_field("HNSW"), "store_type": "RocksDB"}), "RocksDB"),
        (space(vector_field(), partition_num=0), "partition_num"),
        (space(vector_field(), partition_num=5000), "partition_num"),
        (space(vector_field(), name="1abc"), "must not start"),
        (space(vector_field(), name="_abc"), "must not start"),
        (space(vector_field(), name="a-b"), "remove the characters"),
        (space(vector_field(), name="a b"), "remove the characters"),
        (space(vector_field(), name=".."), "must not start"),
    ],
)
def test_schema_rejects_invalid_definition(engine, schema, fragment):
    error = error_of(engine, schema)
    assert error.code == ErrorCode.PARAM_ERROR
    assert fragment in error.msg
    assert error.msg.startswith("param_error: ")


def test_schema_rejects_replicas_beyond_one_node(engine):
    error = error_of(engine, space(vector_field(), replica_num=3))
    assert error.code == ErrorCode.MASTER_PS_NOT_ENOUGH_SELECT
    assert "replica_num" in error.msg


def test_schema_fills_hnsw_defaults(engine):
    created = engine.create_space("db", space(vector_field("HNSW")))
    params = created.describe()["schema"]["fields"][0]["index"]["params"]
    assert params == {
        "metric_type": "InnerProduct",
        "nlinks": 32,
        "efConstruction": 100,
        "efSearch": 64,
    }


def test_schema_keeps_scalar_and_composite_indexes(engine):
    schema = space(
        {"name": "kind", "type": "keyword", "index": {"name": "kind_idx", "type": "INVERTED"}},
        {"name": "year", "type": "integer"},
        {"name": "month", "type": "integer"},
        vector_field(),
        indexes=[
            {"name": "year_idx", "type": "BITMAP", "field_name": "year"},
            {"name": "ym", "type": "COMPOSITE", "field_names": ["year", "month"]},
        ],
    )
    described = engine.create_space("db", schema).describe()["schema"]
    assert described["fields"][0]["index"] == {"name": "kind_idx", "type": "INVERTED"}
    assert described["indexes"] == [
        {"name": "year_idx", "type": "BITMAP", "field_name": "year"},
        {"name": "ym", "type": "COMPOSITE", "field_names": ["year", "month"]},
    ]


def test_schema_rejects_composite_with_one_field(engine):
    schema = space(
        {"name": "year", "type": "integer"},
        vector_field(),
        indexes=[{"name": "ym", "type": "COMPOSITE", "field_names": ["year"]}],
    )
    assert "at least two" in error_of(engine, schema).msg


def test_schema_survives_reopen(tmp_path):
    schema = space({"name": "kind", "type": "keyword"}, vector_field("HNSW", nlinks=16))
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        before = engine.create_space("db", schema).describe()
    with Engine(tmp_path / "db") as engine:
        after = engine.get_space("db", "docs").describe()
    assert after == before


def test_engine_database_lifecycle(engine):
    assert engine.create_database("other") == {"id": 2, "name": "other"}
    assert engine.list_databases() == ["db", "other"]
    assert engine.describe_database("other") == {"id": 2, "name": "other"}
    with pytest.raises(VectorDBError) as exists:
        engine.create_database("other")
    assert exists.value.code == ErrorCode.DB_EXIST
    engine.drop_database("other")
    assert engine.list_databases() == ["db"]
    with pytest.raises(VectorDBError) as missing:
        engine.drop_database("other")
    assert missing.value.code == ErrorCode.DB_NOT_EXIST


def test_engine_rejects_dropping_nonempty_database(engine):
    engine.create_space("db", space())
    with pytest.raises(VectorDBError) as caught:
        engine.drop_database("db")
    assert caught.value.code == ErrorCode.DB_NOT_EMPTY
    assert caught.value.msg.startswith("db_not_empty: ")


def test_engine_space_lifecycle(engine):
    created = engine.create_space("db", space())
    assert engine.get_space("db", "docs") is created
    assert engine.list_spaces("db") == ["docs"]
    with pytest.raises(VectorDBError) as exists:
        engine.create_space("db", space())
    assert exists.value.code == ErrorCode.SPACE_EXIST
    engine.drop_space("db", "docs")
    assert engine.list_spaces("db") == []
    with pytest.raises(VectorDBError) as missing:
        engine.get_space("db", "docs")
    assert missing.value.code == ErrorCode.SPACE_NOT_EXIST
    # A caller holding the Space from before the drop gets SPACE_NOT_EXIST, not "closed".
    with pytest.raises(VectorDBError) as dropped:
        created.get(["x"])
    assert dropped.value.code == ErrorCode.SPACE_NOT_EXIST
    assert "dropped" in dropped.value.msg


def test_engine_reports_unknown_database(engine):
    with pytest.raises(VectorDBError) as caught:
        engine.create_space("nope", space())
    assert caught.value.code == ErrorCode.DB_NOT_EXIST


@pytest.mark.parametrize("name", ["a/b", "bad\ud800"], ids=["slash", "lone surrogate"])
def test_engine_rejects_invalid_database_name(engine, name):
    with pytest.raises(VectorDBError) as caught:
        engine.create_database(name)
    assert caught.value.code == ErrorCode.PARAM_ERROR
    with pytest.raises(VectorDBError) as caught:
        engine.get_space(name, "docs")
    assert caught.value.code == ErrorCode.PARAM_ERROR


def test_engine_drop_removes_files(engine, tmp_path):
    engine.create_space("db", space())
    engine.drop_space("db", "docs")
    engine.drop_database("db")
    assert list((tmp_path / "db" / "dbs").iterdir()) == []
