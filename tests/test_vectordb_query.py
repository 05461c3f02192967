"""Query and search: direct gets, docid iteration, paging, sort, index rules, field types."""

from __future__ import annotations

import numpy as np
import pytest

from qiao.vectordb import Engine, ErrorCode, VectorDBError

DIMENSION = 4
COUNT = 120


def schema(partition_num: int = 2) -> dict:
    return {
        "name": "items",
        "partition_num": partition_num,
        "fields": [
            {"name": "n", "type": "integer", "index": {"name": "n", "type": "SCALAR"}},
            {"name": "group", "type": "keyword", "index": {"name": "g", "type": "BITMAP"}},
            {"name": "rank", "type": "double"},
            {"name": "label", "type": "string"},
            {"name": "a", "type": "long"},
            {"name": "b", "type": "long"},
            {
                "name": "emb",
                "type": "vector",
                "dimension": DIMENSION,
                "index": {"name": "emb", "type": "FLAT", "params": {"metric_type": "L2"}},
            },
        ],
        "indexes": [{"name": "ab", "type": "COMPOSITE", "field_names": ["a", "b"]}],
    }


def make_documents() -> list[dict]:
    rng = np.random.default_rng(3)
    return [
        {
            "_id": f"d{i}",
            "n": i,
            "group": "even" if i % 2 == 0 else "odd",
            "rank": float((i * 37) % COUNT),
            "label": f"label-{i % 7}",
            "a": i % 3,
            "b": i % 5,
            "emb": rng.standard_normal(DIMENSION).tolist(),
        }
        for i in range(COUNT)
    ]


ALL = {"operator": "AND", "conditions": [{"field": "n", "operator": ">=", "value": 0}]}


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    with Engine(tmp_path_factory.mktemp("query") / "db") as engine:
        engine.create_database("db")
        created = engine.create_space("db", schema())
        created.upsert(make_documents())
        created.delete(document_ids=["d5"])
        yield created


def ids(documents: list[dict]) -> list[str]:
    return [document["_id"] for document in documents]


def test_query_limit_defaults_to_50(space):
    assert len(space.query(filters=ALL)) == 50


def test_direct_get_marks_missing_ids(space):
    found = space.query(document_ids=["d1", "missing", "d1", "d5"], get_by_hash=True)
    assert found[0]["_id"] == "d1"
    assert found[0]["n"] == 1
    assert found[1] == {"_id": "missing", "code": 404, "msg": "document not found"}
    assert found[2] == found[0]
    assert found[3]["code"] == 404


def test_direct_get_reads_only_named_partition(space):
    partitions = [p["id"] for p in space.entity()["partitions"]]
    found = [space.query(document_ids=["d7"], partition_id=pid)[0] for pid in partitions]
    assert sorted("code" in entry for entry in found) == [False, True]
    with pytest.raises(VectorDBError) as error:
        space.query(document_ids=["d7"], partition_id=max(partitions) + 50)
    assert error.value.code == ErrorCode.PARTITION_NOT_EXIST


def test_next_iterates_a_partition_by_docid(space):
    seen = []
    for partition in space.entity()["partitions"]:
        docid = -1
        while True:
            (entry,) = space.query(
                document_ids=[str(docid)], partition_id=partition["id"], next=True
            )
            if entry.get("code") == 404:
                break
            assert entry["_docid"] > docid
            docid = entry["_docid"]
            seen.append(entry["_id"])
    assert sorted(seen) == sorted(f"d{i}" for i in range(COUNT) if i != 5)
    with pytest.raises(VectorDBError) as error:
        space.query(document_ids=["0"], next=True)
    assert "partition_id" in error.value.msg


def test_query_offset_and_pages(space):
    everything = ids(space.query(filters=ALL, limit=200))
    assert ids(space.query(filters=ALL, offset=10, limit=5)) == everything[10:15]
    assert ids(space.query(filters=ALL, page_size=7, page_num=3)) == everything[14:21]
    assert ids(space.query(filters=ALL, page_size=7)) == everything[:7]
    assert space.query(filters=ALL, offset=500) == []


def test_query_sorts_before_paging(space):
    ordered = space.query(filters=ALL, sort=[{"rank": {"order": "desc"}}], limit=200)
    ranks = [doc["rank"] for doc in ordered]
    assert ranks == sorted(ranks, reverse=True)
    page = space.query(filters=ALL, sort=[{"rank": "desc"}], offset=3, limit=4)
    assert ids(page) == ids(ordered)[3:7]
    by_two = space.query(filters=ALL, sort=["a", {"n": "desc"}], limit=200)
    keys = [(doc["a"], -doc["n"]) for doc in by_two]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "arguments",
    [
        {"sort": [{"nope": "asc"}]},
        {"sort": [{"rank": "up"}]},
        {"sort": [{"emb": "asc"}]},
        {"offset": -1},
        {"page_size": 0},
        {"page_num": 2},
        {"limit": 0},
    ],
)
def test_query_rejects_bad_paging(space, arguments):
    with pytest.raises(VectorDBError) as error:
        space.query(filters=ALL, **arguments)
    assert error.value.code == ErrorCode.PARAM_ERROR


def test_search_pages_and_sorts_hits(space):
    feature = make_documents()[0]["emb"]
    vectors = [{"field": "emb", "feature": feature}]
    best = space.search(vectors, limit=20)[0]
    assert [hit["_score"] for hit in best] == sorted(hit["_score"] for hit in best)
    assert ids(space.search(vectors, offset=5, limit=5)[0]) == ids(best)[5:10]
    assert ids(space.search(vectors, page_size=4, page_num=2)[0]) == ids(best)[4:8]
    by_n = space.search(vectors, limit=20, sort=[{"n": "asc"}])[0]
    assert [hit["n"] for hit in by_n] == sorted(hit["n"] for hit in best)
    by_score = space.search(vectors, limit=20, sort=[{"_score": "desc"}])[0]
    assert ids(by_score) == ids(best)[::-1]


def test_filter_on_unindexed_field_is_rejected(space):
    condition = {"field": "rank", "operator": ">", "value": 3}
    with pytest.raises(VectorDBError) as error:
        space.query(filters={"operator": "AND", "conditions": [condition]})
    assert error.value.code == ErrorCode.PARAM_ERROR
    assert "field:[rank] not set index" in error.value.msg
    term = {"field": "label", "operator": "IN", "value": ["label-1"]}
    with pytest.raises(VectorDBError) as error:
        space.delete(filters={"operator": "AND", "conditions": [term]})
    assert "not set index" in error.value.msg


def test_composite_index_fields_can_be_filtered(space):
    condition = {"field": "a", "operator": "=", "value": 1}
    found = space.query(filters={"operator": "AND", "conditions": [condition]}, limit=200)
    assert sorted(doc["n"] for doc in found) == [i for i in range(COUNT) if i % 3 == 1]


def test_delete_by_filter_respects_limit(tmp_path):
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        space = engine.create_space("db", schema())
        space.upsert(make_documents())
        condition = {"field": "group", "operator": "IN", "value": ["even"]}
        deleted = space.delete(filters={"operator": "AND", "conditions": [condition]}, limit=7)
        assert len(deleted) == 7
        assert space.doc_num == COUNT - 7
        assert space.delete(document_ids=["d1", "d1", "d3"]) == ["d1", "d3"]
        with pytest.raises(VectorDBError) as error:
            space.delete(document_ids=[f"x{i}" for i in range(500)])
        assert error.value.code == 424


TYPE_STRINGS = {
    "text": "a",
    "keyword": "b",
    "string": "c",
    "integer": 1,
    "short": 2,
    "byte": 3,
    "long": 2**40,
    "float": 0.5,
    "double": 0.25,
    "boolean": True,
    "bool": False,
    "date": 86_400,
    "stringArray": ["x", "y"],
    "StringArray": ["z"],
    "string_array": [],
}


def test_every_vearch_type_string_is_accepted(tmp_path):
    fields = [{"name": f"f_{name}", "type": name} for name in TYPE_STRINGS]
    vectors = [
        {
            "name": name,
            "type": "vector",
            "dimension": DIMENSION,
            "index": {"name": name, "type": "FLAT", "params": {"metric_type": "L2"}},
        }
        for name in ("v1", "v2")
    ]
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        space = engine.create_space("db", {"name": "types", "fields": fields + vectors})
        document = {f"f_{name}": value for name, value in TYPE_STRINGS.items()}
        document.update({"_id": "one", "v1": [1.0] * DIMENSION, "v2": [2.0] * DIMENSION})
        space.upsert([document])
        (stored,) = space.get(["one"])
        assert stored["f_date"].startswith("1970-01-0")
        assert stored["f_date"][-6] in "+-" or stored["f_date"].endswith("Z")
        for name, value in TYPE_STRINGS.items():
            if name != "date":
                assert stored[f"f_{name}"] == value
