"""Engine.update_space: partition_num expansion, new fields, rename, enabled, rejections."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qiao.vectordb import Engine, ErrorCode, VectorDBError

DIMENSION = 4
MAX_UINT32 = 2**32 - 1


def schema() -> dict:
    return {
        "name": "docs",
        "partition_num": 2,
        "fields": [
            {"name": "n", "type": "integer", "index": {"name": "n", "type": "SCALAR"}},
            {
                "name": "emb",
                "type": "vector",
                "dimension": DIMENSION,
                "index": {"name": "emb", "type": "FLAT", "params": {"metric_type": "L2"}},
            },
        ],
    }


def documents(count: int, start: int = 0) -> list[dict]:
    rng = np.random.default_rng(start)
    return [
        {"_id": f"doc-{i}", "n": i, "emb": rng.standard_normal(DIMENSION).tolist()}
        for i in range(start, start + count)
    ]


@pytest.fixture
def engine(tmp_path):
    with Engine(tmp_path / "db") as opened:
        opened.create_database("db")
        opened.create_space("db", schema()).upsert(documents(50))
        yield opened


def test_partition_num_expansion_adds_partitions(engine):
    before = engine.get_space("db", "docs").entity()["partitions"]
    space = engine.update_space("db", "docs", {"partition_num": 4})
    entity = space.entity()
    assert entity["partition_num"] == 4
    assert [p["id"] for p in entity["partitions"][:2]] == [p["id"] for p in before]
    width = MAX_UINT32 // 4
    assert [p["partition_slot"] for p in entity["partitions"]] == [i * width for i in range(4)]
    assert space.doc_num == 50
    space.upsert(documents(200, start=50))
    counts = [p["doc_num"] for p in space.describe()["partitions"]]
    assert sum(counts) == 250
    assert min(counts[2:]) > 0
    assert entity["version"] == 2


def test_partition_num_cannot_shrink(engine):
    with pytest.raises(VectorDBError) as error:
        engine.update_space("db", "docs", {"partition_num": 1})
    assert error.value.code == ErrorCode.PARAM_ERROR
    assert "should greater than" in error.value.msg


def test_partition_num_expansion_is_capped(engine):
    # Space creation caps partition_num at 1024, and an update must not go around it.
    with pytest.raises(VectorDBError) as error:
        engine.update_space("db", "docs", {"partition_num": 5000})
    assert error.value.code == ErrorCode.PARAM_ERROR
    assert "above the maximum 1024" in error.value.msg
    assert engine.get_space("db", "docs").describe()["partition_num"] == 2


def test_added_field_gets_default_and_persists(tmp_path):
    path = tmp_path / "db"
    with Engine(path) as engine:
        engine.create_database("db")
        engine.create_space("db", schema()).upsert(documents(10))
        new_field = {"name": "tag", "type": "keyword", "index": {"name": "tag", "type": "INVERTED"}}
        space = engine.update_space("db", "docs", {"fields": schema()["fields"] + [new_field]})
        assert space.get(["doc-1"])[0]["tag"] == ""
        space.upsert([{"_id": "doc-1", "tag": "red"}])
    with Engine(path) as engine:
        space = engine.get_space("db", "docs")
        condition = {"field": "tag", "operator": "IN", "value": ["red"]}
        found = space.query(filters={"operator": "AND", "conditions": [condition]})
        assert [doc["_id"] for doc in found] == ["doc-1"]
        assert space.get(["doc-2"])[0]["tag"] == ""


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"fields": [{"name": "n", "type": "long"}]}, "not equals by field"),
        ({"fields": [{"name": "v2", "type": "vector", "dimension": 4}]}, "scalar fields only"),
        ({"indexes": [{"name": "x", "type": "SCALAR", "field_name": "n"}]}, "indexes"),
        ({"replica_num": 3}, "replica_num can not change"),
        ({"enabled": "yes"}, "enabled"),
        ({"name": "bad name"}, "remove the characters"),
    ],
)
def test_update_rejects_invalid_change(engine, changes, fragment):
    with pytest.raises(VectorDBError) as error:
        engine.update_space("db", "docs", changes)
    assert error.value.code == ErrorCode.PARAM_ERROR
    assert fragment in error.value.msg
    assert engine.get_space("db", "docs").entity()["version"] == 1


def test_rename_moves_space(tmp_path):
    path = tmp_path / "db"
    with Engine(path) as engine:
        engine.create_database("db")
        engine.create_space("db", schema()).upsert(documents(10))
        engine.create_space("db", {**schema(), "name": "taken"})
        with pytest.raises(VectorDBError) as error:
            engine.update_space("db", "docs", {"name": "taken"})
        assert error.value.code == ErrorCode.SPACE_EXIST
        renamed = engine.update_space("db", "docs", {"name": "papers", "enabled": False})
        assert renamed.name == "papers"
        assert renamed.doc_num == 10
        assert renamed.entity()["enabled"] is False
        assert engine.list_spaces("db") == ["papers", "taken"]
        with pytest.raises(VectorDBError) as error:
            engine.get_space("db", "docs")
        assert error.value.code == ErrorCode.SPACE_NOT_EXIST
    with Engine(path) as engine:
        space = engine.get_space("db", "papers")
        assert space.doc_num == 10
        assert space.describe()["space_name"] == "papers"


def test_interrupted_rename_finishes_on_open(tmp_path):
    """A crash after space.json got the new name but before the folder rename."""
    path = tmp_path / "db"
    with Engine(path) as engine:
        engine.create_database("db")
        engine.create_space("db", schema()).upsert(documents(10))
    space_file = path / "dbs" / "db" / "spaces" / "docs" / "space.json"
    meta = json.loads(space_file.read_text())
    meta["name"] = meta["schema"]["name"] = "papers"
    space_file.write_text(json.dumps(meta))
    with Engine(path) as engine:
        assert engine.list_spaces("db") == ["papers"]
        assert engine.get_space("db", "papers").doc_num == 10


def test_entity_has_vearch_space_keys(engine):
    entity = engine.get_space("db", "docs").entity()
    for key in ("id", "name", "db_id", "enabled", "fields", "partitions", "space_properties"):
        assert key in entity
    assert entity["space_properties"]["n"]["option"] == 1
    assert entity["space_properties"]["emb"]["dimension"] == DIMENSION
    assert entity["partitions"][0]["replicas"] == [1]
