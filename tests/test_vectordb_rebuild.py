"""Index maintenance: rebuild, force-merge, index info, adding and removing scalar indexes."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest
from vectordb_progress import wait_for_progress

from qiao.vectordb import Engine, ErrorCode, VectorDBError

DIMENSION = 8
VECTORS = np.random.default_rng(11).standard_normal((2000, DIMENSION)).astype(np.float32)


def schema(index_type: str = "IVFFLAT") -> dict:
    params = {"metric_type": "L2"}
    if index_type.startswith("IVF"):
        params.update(ncentroids=8, nprobe=8, training_threshold=256)
    return {
        "name": "docs",
        "refresh_interval": 20,
        "fields": [
            {"name": "n", "type": "integer"},
            {"name": "tag", "type": "keyword"},
            {"name": "size", "type": "float"},
            {
                "name": "emb",
                "type": "vector",
                "dimension": DIMENSION,
                "index": {"name": "emb_idx", "type": index_type, "params": params},
            },
        ],
    }


def documents(numbers) -> list[dict]:
    return [
        {"_id": f"doc{n}", "n": n, "tag": f"t{n % 3}", "size": n / 2, "emb": VECTORS[n]}
        for n in numbers
    ]


def nearest(space, number: int) -> str:
    hits = space.search([{"field": "emb", "feature": VECTORS[number]}], limit=1)
    return hits[0][0]["_id"]


def trained_space(engine, index_type: str = "IVFFLAT", count: int = 500):
    space = engine.create_space("db", schema(index_type))
    space.upsert(documents(range(count)))
    if index_type.startswith("IVF"):
        wait_for_progress(space, (2, count))
    return space


def test_rebuild_keeps_serving_the_old_index(engine, caplog):
    space = trained_space(engine)
    caplog.set_level(logging.INFO, logger="qiao.vectordb.indexer")
    caplog.clear()
    space.rebuild_index()
    # The old index serves searches while the new one trains, so no brute-force error.
    assert nearest(space, 42) == "doc42"
    deadline = time.monotonic() + 20
    while not any("trained the IVFFLAT" in record.getMessage() for record in caplog.records):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    wait_for_progress(space, (2, 500))
    assert nearest(space, 42) == "doc42"


def test_rebuild_with_drop_retrains_from_unindexed(engine):
    space = trained_space(engine)
    space.rebuild_index(drop_before_rebuild=True, limit_cpu=1)
    # Brute force while the index is not built (2) returns hits in every state.
    hits = space.search([{"field": "emb", "feature": VECTORS[7]}], limit=1, is_brute_search=2)
    assert hits[0][0]["_id"] == "doc7"
    wait_for_progress(space, (2, 500))
    assert nearest(space, 7) == "doc7"


@pytest.mark.parametrize("index_type", ["FLAT", "HNSW"])
def test_rebuild_of_untrained_types_is_immediate(engine, index_type):
    space = trained_space(engine, index_type, 300)
    space.rebuild_index()
    assert space.index_progress() == (2, 300)
    assert nearest(space, 9) == "doc9"


def test_rebuild_checks_arguments(engine):
    space = trained_space(engine, "FLAT", 10)
    with pytest.raises(VectorDBError) as wrong_partition:
        space.rebuild_index(partition_id=max(space.meta.layout.ids) + 100)
    assert wrong_partition.value.code == ErrorCode.PARAM_ERROR
    with pytest.raises(VectorDBError) as negative:
        space.rebuild_index(limit_cpu=-1)
    assert negative.value.code == ErrorCode.PARAM_ERROR
    space.rebuild_index(describe=1, partition_id=space.meta.layout.ids[0])
    # partition_id 0 means every partition, as in Vearch.
    space.rebuild_index(partition_id=0)
    assert space.index_progress() == (2, 10)


def test_forcemerge_compacts_without_retraining(engine, caplog):
    space = trained_space(engine)
    space.delete(document_ids=[f"doc{n}" for n in range(100)])
    caplog.set_level(logging.INFO, logger="qiao.vectordb")
    caplog.clear()
    space.forcemerge()
    partition = space.describe()["partitions"][0]
    assert partition["max_docid"] == 399
    assert space.doc_num == 400
    wait_for_progress(space, (2, 400))
    assert nearest(space, 250) == "doc250"
    assert space.get(["doc5"]) == []
    messages = [record.getMessage() for record in caplog.records]
    assert not any(message.startswith("training the") for message in messages)
    with pytest.raises(VectorDBError) as wrong_partition:
        space.forcemerge(partition_id=-5)
    assert wrong_partition.value.code == ErrorCode.PARAM_ERROR


def test_forcemerge_survives_reopen(tmp_path):
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        space = trained_space(engine)
        space.delete(document_ids=[f"doc{n}" for n in range(0, 500, 2)])
        space.forcemerge()
    with Engine(tmp_path / "db") as engine:
        space = engine.get_space("db", "docs")
        assert space.doc_num == 250
        assert space.index_progress()[0] == 2
        assert nearest(space, 301) == "doc301"


def test_indexes_info_reports_declared_indexes_and_state(engine):
    space = trained_space(engine)
    info = space.indexes_info()
    assert info["db_name"] == "db"
    assert info["space_name"] == "docs"
    assert [index["name"] for index in info["indexes"]] == ["emb_idx"]
    assert info["build_state"] == {
        "index_status": 2,
        "state": "indexed",
        "index_num": 500,
        "max_docid": 499,
    }
    detailed = space.indexes_info(detail=True)["indexes"][0]
    assert detailed["field_name"] == "emb"
    assert (detailed["index_status"], detailed["indexed_num"], detailed["total"]) == (2, 500, 500)


def test_add_and_remove_scalar_indexes_persist(tmp_path):
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        space = trained_space(engine, "FLAT", 20)
        engine.add_indexes(
            "db",
            "docs",
            [
                {"name": "tag_idx", "type": "INVERTED", "field_name": "tag"},
                {"name": "n_size", "type": "COMPOSITE", "field_names": ["n", "size"]},
            ],
        )
        assert space.schema.is_indexed("tag")
        assert space.schema.is_indexed("size")
        names = [index["name"] for index in space.indexes_info()["indexes"]]
        assert names == ["emb_idx", "tag_idx", "n_size"]
    stored = json.loads((tmp_path / "db/dbs/db/spaces/docs/space.json").read_text())
    assert [index["name"] for index in stored["schema"]["indexes"]] == ["tag_idx", "n_size"]
    with Engine(tmp_path / "db") as engine:
        space = engine.get_space("db", "docs")
        assert space.schema.is_indexed("tag")
        engine.remove_index("db", "docs", "tag_idx")
        assert not space.schema.is_indexed("tag")
        assert space.doc_num == 20
    with Engine(tmp_path / "db") as engine:
        space = engine.get_space("db", "docs")
        assert [index["name"] for index in space.indexes_info()["indexes"]] == [
            "emb_idx",
            "n_size",
        ]


@pytest.mark.parametrize(
    ("indexes", "fragment"),
    [
        ([{"name": "emb2", "type": "HNSW", "field_name": "emb"}], "vector indexes are fixed"),
        ([{"name": "emb_idx", "type": "SCALAR", "field_name": "n"}], "already exists"),
        ([{"name": "x", "type": "SCALAR", "field_name": "missing"}], "unknown field_name"),
        ([{"name": "c", "type": "COMPOSITE", "field_names": ["n"]}], "at least two"),
        ([], "non-empty list"),
    ],
)
def test_add_indexes_rejects_invalid_requests(engine, indexes, fragment):
    trained_space(engine, "FLAT", 5)
    with pytest.raises(VectorDBError) as caught:
        engine.add_indexes("db", "docs", indexes)
    assert caught.value.code == ErrorCode.PARAM_ERROR
    assert fragment in caught.value.msg


def test_remove_index_rejects_vector_and_unknown_indexes(engine):
    trained_space(engine, "FLAT", 5)
    with pytest.raises(VectorDBError, match="cannot be removed"):
        engine.remove_index("db", "docs", "emb_idx")
    with pytest.raises(VectorDBError, match="does not exist"):
        engine.remove_index("db", "docs", "nope")
