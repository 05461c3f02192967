"""Filter operators, filtered query, filtered search against numpy, delete by filter."""

from __future__ import annotations

import numpy as np
import pytest

from qiao.vectordb import Engine, ErrorCode, VectorDBError

DIMENSION = 8
COUNT = 400


def schema(index: dict) -> dict:
    return {
        "name": "items",
        "fields": [
            {"name": "n", "type": "integer", "index": {"name": "n", "type": "SCALAR"}},
            {"name": "score", "type": "double", "index": {"name": "score", "type": "INVERTED"}},
            {"name": "weight", "type": "float", "index": {"name": "weight", "type": "SCALAR"}},
            {"name": "flag", "type": "boolean", "index": {"name": "flag", "type": "BITMAP"}},
            {"name": "when", "type": "date", "index": {"name": "when", "type": "SCALAR"}},
            {"name": "color", "type": "keyword", "index": {"name": "color", "type": "BITMAP"}},
            {"name": "tags", "type": "stringArray", "index": {"name": "tags", "type": "INVERTED"}},
            {"name": "emb", "type": "vector", "dimension": DIMENSION, "index": index},
        ],
    }


COLORS = ["red", "green", "blue", "black"]


def make_documents(vectors: np.ndarray) -> list[dict]:
    return [
        {
            "_id": f"d{i}",
            "n": i,
            "score": i / 10,
            "weight": i / 4,
            "flag": i % 2 == 0,
            "when": 1_700_000_000 + i * 86_400,
            "color": COLORS[i % 4],
            "tags": [f"t{i % 3}", f"u{i % 5}"],
            "emb": vectors[i],
        }
        for i in range(len(vectors))
    ]


@pytest.fixture(scope="module")
def vectors():
    return np.random.default_rng(7).standard_normal((COUNT, DIMENSION)).astype(np.float32)


@pytest.fixture(scope="module")
def filled(tmp_path_factory, vectors):
    """A FLAT space shared by the tests that only read."""
    index = {"name": "emb", "type": "FLAT", "params": {"metric_type": "L2"}}
    with Engine(tmp_path_factory.mktemp("filters") / "db") as engine:
        engine.create_database("db")
        created = engine.create_space("db", schema(index))
        created.upsert(make_documents(vectors))
        yield created


@pytest.fixture(params=["FLAT", "HNSW"])
def space(request, tmp_path, vectors):
    index = {"name": "emb", "type": request.param, "params": {"metric_type": "L2"}}
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        created = engine.create_space("db", schema(index))
        created.upsert(make_documents(vectors))
        yield created


def where(*conditions: tuple[str, str, object], operator: str = "AND") -> dict:
    return {
        "operator": operator,
        "conditions": [
            {"field": field, "operator": op, "value": value} for field, op, value in conditions
        ],
    }


def matching_numbers(space, filters: dict) -> list[int]:
    return [doc["n"] for doc in space.query(filters=filters, limit=COUNT, fields=["n"])]


@pytest.mark.parametrize(
    ("condition", "predicate"),
    [
        (("n", "<", 10), lambda i: i < 10),
        (("n", "<=", 10), lambda i: i <= 10),
        (("n", ">", 390), lambda i: i > 390),
        (("n", ">=", 390), lambda i: i >= 390),
        (("n", "=", 17), lambda i: i == 17),
        (("n", "!=", 17), lambda i: i != 17),
        (("n", "<>", 17), lambda i: i != 17),
        (("score", ">", 39.5), lambda i: i / 10 > 39.5),
        (("weight", "=", 0.25), lambda i: i == 1),
        (("flag", "=", True), lambda i: i % 2 == 0),
        (("when", "<", 1_700_000_000 + 5 * 86_400), lambda i: i < 5),
        (("when", ">=", "2023-11-14T22:13:20Z"), lambda i: True),
        (("when", "<", "2023-11-16T22:13:20+00:00"), lambda i: i < 2),
        (("color", "IN", ["red", "blue"]), lambda i: i % 4 in (0, 2)),
        (("color", "NOT IN", ["red", "blue"]), lambda i: i % 4 in (1, 3)),
        (("tags", "IN", ["t1", "u0"]), lambda i: i % 3 == 1 or i % 5 == 0),
        (("tags", "NOT IN", ["t1", "u0"]), lambda i: i % 3 != 1 and i % 5 != 0),
        (("color", "IN", ["purple"]), lambda i: False),
    ],
)
def test_filter_operator_matches(filled, condition, predicate):
    expected = [i for i in range(COUNT) if predicate(i)][:COUNT]
    assert matching_numbers(filled, where(condition)) == expected


def test_filter_and_merges_conditions_on_one_field(filled):
    assert matching_numbers(filled, where(("n", ">", 5), ("n", "<=", 8))) == [6, 7, 8]


def test_filter_or_unites_conditions(filled):
    filters = where(("n", "<", 2), ("color", "IN", ["black"]), operator="OR")
    expected = [i for i in range(COUNT) if i < 2 or i % 4 == 3]
    assert matching_numbers(filled, filters) == expected


def test_filter_skips_deleted_documents(space):
    space.delete(document_ids=["d1", "d2"])
    assert matching_numbers(space, where(("n", "<", 4))) == [0, 3]


def test_query_limit_applies_to_filter(filled):
    assert matching_numbers(filled, where(("n", ">=", 0)))[:3] == [0, 1, 2]
    assert len(filled.query(filters=where(("n", ">=", 0)))) == 50
    assert len(filled.query(filters=where(("n", ">=", 0)), limit=7)) == 7


@pytest.mark.parametrize(
    ("filters", "code"),
    [
        ({"operator": "XOR", "conditions": [{"field": "n", "operator": "<", "value": 1}]}, 300),
        (where(("n", "LIKE", 1)), 301),
        (where(("n", "in", ["1"])), 301),
        (where(("color", "<", 1)), ErrorCode.PARAM_ERROR),
        (where(("n", "IN", ["1"])), ErrorCode.PARAM_ERROR),
        (where(("color", "IN", "red")), ErrorCode.PARAM_ERROR),
        (where(("color", "IN", [1])), ErrorCode.PARAM_ERROR),
        (where(("n", "<", "ten")), ErrorCode.PARAM_ERROR),
        (where(("when", "<", "someday")), ErrorCode.PARAM_ERROR),
        (where(("missing", "<", 1)), ErrorCode.PARAM_ERROR),
        (where(("emb", "<", 1)), ErrorCode.PARAM_ERROR),
    ],
)
def test_filter_rejects_invalid_condition(filled, filters, code):
    with pytest.raises(VectorDBError) as caught:
        filled.query(filters=filters)
    assert caught.value.code == code


def brute_force(vectors: np.ndarray, query: np.ndarray, rows: list[int], k: int) -> list[str]:
    distances = ((vectors[rows] - query) ** 2).sum(axis=1)
    order = np.argsort(distances, kind="stable")[:k]
    return [f"d{rows[i]}" for i in order]


@pytest.mark.parametrize(
    ("filters", "predicate"),
    [
        (where(("color", "IN", ["green"])), lambda i: i % 4 == 1),
        (where(("n", "<", 30)), lambda i: i < 30),
        (where(("n", ">=", 0)), lambda i: True),
        (where(("n", "=", 3)), lambda i: i == 3),
        (where(("tags", "IN", ["u4"]), ("flag", "=", False)), lambda i: i % 5 == 4 and i % 2),
    ],
)
def test_filtered_search_returns_true_top_k(space, vectors, filters, predicate):
    rows = [i for i in range(COUNT) if predicate(i)]
    for query in vectors[:5] + 0.01:
        hits = space.search(
            [{"field": "emb", "feature": query.tolist()}], filters=filters, limit=10
        )
        assert [hit["_id"] for hit in hits[0]] == brute_force(vectors, query, rows, 10)


def test_filtered_search_fills_k_with_selective_filter(tmp_path):
    vectors = np.random.default_rng(3).standard_normal((6000, DIMENSION)).astype(np.float32)
    index = {"name": "emb", "type": "HNSW", "params": {"metric_type": "L2", "nlinks": 8}}
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        created = engine.create_space("db", schema(index))
        created.upsert(make_documents(vectors))
        # 5,000 of 6,000 documents match, so the graph walk with a selector runs.
        filters = where(("n", ">=", 1000))
        hits = created.search(
            [{"field": "emb", "feature": vectors[0].tolist()}], filters=filters, limit=100
        )
        assert len(hits[0]) == 100
        assert all(hit["n"] >= 1000 for hit in hits[0])
        # 1 in 300 documents match, so the result contains every one of them.
        rare = where(("n", ">=", 5980))
        hits = created.search(
            [{"field": "emb", "feature": vectors[0].tolist()}], filters=rare, limit=50
        )
        assert [hit["_id"] for hit in hits[0]] == brute_force(
            vectors, vectors[0], list(range(5980, 6000)), 50
        )


def test_delete_by_filter_removes_matches_only(space, vectors):
    deleted = space.delete(filters=where(("color", "IN", ["red"])))
    assert sorted(deleted, key=lambda doc_id: int(doc_id[1:])) == [
        f"d{i}" for i in range(0, COUNT, 4)
    ]
    assert space.doc_num == COUNT - COUNT // 4
    assert space.query(filters=where(("color", "IN", ["red"]))) == []
    hits = space.search([{"field": "emb", "feature": vectors[0].tolist()}], limit=COUNT)[0]
    assert len(hits) == COUNT - COUNT // 4
    assert all(hit["color"] != "red" for hit in hits)


def test_delete_by_filter_respects_limit(space):
    deleted = space.delete(filters=where(("n", "<", 100)), limit=10)
    assert deleted == [f"d{i}" for i in range(10)]
    assert space.doc_num == COUNT - 10
