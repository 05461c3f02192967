"""Vector search: recall against numpy, score conventions, several queries and fields."""

from __future__ import annotations

import numpy as np
import pytest

from qiao.vectordb import Engine, ErrorCode, VectorDBError


def vector_space(engine: Engine, name: str, dimension: int, index: dict, **field: object):
    fields = [
        {"name": "n", "type": "integer"},
        {"name": "emb", "type": "vector", "dimension": dimension, "index": index, **field},
    ]
    return engine.create_space("db", {"name": name, "fields": fields})


def fill(space, vectors: np.ndarray) -> None:
    for start in range(0, len(vectors), 500):
        batch = vectors[start : start + 500]
        space.upsert(
            [{"_id": str(start + i), "n": start + i, "emb": row} for i, row in enumerate(batch)]
        )


def ids_of(hits: list[dict]) -> list[int]:
    return [int(hit["_id"]) for hit in hits]


@pytest.mark.parametrize("metric", ["L2", "InnerProduct"])
def test_flat_search_matches_numpy_exactly(engine, metric):
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((2000, 24)).astype(np.float32)
    queries = rng.standard_normal((20, 24)).astype(np.float32)
    space = vector_space(engine, "flat", 24, {"type": "FLAT", "params": {"metric_type": metric}})
    fill(space, vectors)
    results = space.search([{"field": "emb", "feature": queries.ravel().tolist()}], limit=10)
    assert len(results) == 20
    for query, hits in zip(queries, results, strict=True):
        if metric == "L2":
            scores = ((vectors - query) ** 2).sum(axis=1)
            expected = np.argsort(scores, kind="stable")[:10]
        else:
            scores = vectors @ query
            expected = np.argsort(-scores, kind="stable")[:10]
        assert ids_of(hits) == expected.tolist()
        np.testing.assert_allclose([hit["_score"] for hit in hits], scores[expected], rtol=1e-4)


def test_hnsw_recall_at_10_is_high(engine):
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((5000, 32)).astype(np.float32)
    queries = rng.standard_normal((50, 32)).astype(np.float32)
    index = {"type": "HNSW", "params": {"metric_type": "L2", "nlinks": 16, "efConstruction": 64}}
    space = vector_space(engine, "hnsw", 32, index)
    fill(space, vectors)
    results = space.search(
        [{"field": "emb", "feature": queries}], limit=10, index_params={"efSearch": 64}
    )
    found = 0
    for query, hits in zip(queries, results, strict=True):
        truth = set(np.argsort(((vectors - query) ** 2).sum(axis=1))[:10].tolist())
        found += len(truth & set(ids_of(hits)))
    assert found / (10 * len(queries)) >= 0.9


@pytest.mark.parametrize("index_type", ["FLAT", "HNSW"])
def test_huge_limit_and_ef_search_return_every_row(engine, index_type):
    # faiss allocates limit (and efSearch) results per query up front, so a limit of
    # 2**31 - 1 once aborted the process with std::bad_alloc.
    rng = np.random.default_rng(8)
    vectors = rng.standard_normal((40, 8)).astype(np.float32)
    index = {"type": index_type, "params": {"metric_type": "L2"}}
    space = vector_space(engine, index_type.lower(), 8, index)
    fill(space, vectors)
    huge = 2**31 - 1
    hits = space.search(
        [{"field": "emb", "feature": vectors[3].tolist()}],
        limit=huge,
        index_params={"efSearch": huge},
    )[0]
    expected = np.argsort(((vectors - vectors[3]) ** 2).sum(axis=1), kind="stable")
    assert ids_of(hits) == expected.tolist()
    assert space.search([{"field": "emb", "feature": vectors[3]}], limit=5, offset=huge) == [[]]


@pytest.mark.parametrize(
    "feature",
    [[True, 0, 0, 0, 0, 0, 0, 0], [[1, 0, 0, 0, 0, 0, 0, 0]], [1, 0, "0", 0, 0, 0, 0, 0]],
    ids=["boolean", "nested list", "string"],
)
def test_feature_must_be_a_flat_list_of_numbers(engine, feature):
    space = vector_space(engine, "flat", 8, {"type": "FLAT"})
    with pytest.raises(VectorDBError) as caught:
        space.search([{"field": "emb", "feature": feature}])
    assert caught.value.code == ErrorCode.PARAM_ERROR
    assert "feature" in caught.value.msg


def test_hnsw_brute_search_is_exact(engine):
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((1000, 16)).astype(np.float32)
    space = vector_space(engine, "hnsw", 16, {"type": "HNSW", "params": {"metric_type": "L2"}})
    fill(space, vectors)
    query = vectors[10] + 0.05
    hits = space.search([{"field": "emb", "feature": query}], limit=20, is_brute_search=1)[0]
    expected = np.argsort(((vectors - query) ** 2).sum(axis=1), kind="stable")[:20]
    assert ids_of(hits) == expected.tolist()


def test_l2_score_is_squared_distance_ascending(engine):
    space = vector_space(engine, "l2", 2, {"type": "FLAT", "params": {"metric_type": "L2"}})
    space.upsert([{"_id": "a", "emb": [3.0, 4.0]}, {"_id": "b", "emb": [1.0, 0.0]}])
    hits = space.search([{"field": "emb", "feature": [0.0, 0.0]}])[0]
    assert [(hit["_id"], hit["_score"]) for hit in hits] == [("b", 1.0), ("a", 25.0)]
    rooted = space.search([{"field": "emb", "feature": [0.0, 0.0]}], l2_sqrt=True)[0]
    assert [hit["_score"] for hit in rooted] == [1.0, 5.0]


def test_inner_product_score_is_descending_dot(engine):
    space = vector_space(engine, "ip", 2, {"type": "FLAT", "params": {}})
    space.upsert([{"_id": "a", "emb": [1.0, 2.0]}, {"_id": "b", "emb": [3.0, 1.0]}])
    hits = space.search([{"field": "emb", "feature": [1.0, 1.0]}], l2_sqrt=True)[0]
    assert [(hit["_id"], hit["_score"]) for hit in hits] == [("b", 4.0), ("a", 3.0)]


def test_normalization_format_gives_cosine(engine):
    space = vector_space(engine, "cos", 2, {"type": "FLAT", "params": {}}, format="normalization")
    space.upsert([{"_id": "a", "emb": [10.0, 0.0]}, {"_id": "b", "emb": [1.0, 1.0]}])
    hits = space.search([{"field": "emb", "feature": [2.0, 0.0]}])[0]
    assert [hit["_id"] for hit in hits] == ["a", "b"]
    assert hits[0]["_score"] == pytest.approx(1.0)
    assert hits[1]["_score"] == pytest.approx(2**-0.5)
    stored = space.get(["a"], vector_value=True)[0]["emb"]
    assert stored == [1.0, 0.0]


def test_request_metric_overrides_index_metric(engine):
    space = vector_space(engine, "ip", 2, {"type": "FLAT", "params": {}})
    space.upsert([{"_id": "near", "emb": [1.0, 0.0]}, {"_id": "long", "emb": [5.0, 5.0]}])
    by_dot = space.search([{"field": "emb", "feature": [1.0, 0.0]}])[0]
    by_l2 = space.search(
        [{"field": "emb", "feature": [1.0, 0.0]}], index_params={"metric_type": "L2"}
    )[0]
    assert [hit["_id"] for hit in by_dot] == ["long", "near"]
    assert [(hit["_id"], hit["_score"]) for hit in by_l2] == [("near", 0.0), ("long", 41.0)]


def test_min_and_max_score_bound_hits(engine):
    space = vector_space(engine, "l2", 1, {"type": "FLAT", "params": {"metric_type": "L2"}})
    space.upsert([{"_id": str(i), "emb": [float(i)]} for i in range(6)])
    bounded = [{"field": "emb", "feature": [0.0], "min_score": 1.0, "max_score": 9.0}]
    assert [hit["_id"] for hit in space.search(bounded)[0]] == ["1", "2", "3"]


def test_search_returns_requested_fields_and_vectors(engine):
    space = vector_space(engine, "f", 2, {"type": "FLAT", "params": {}})
    space.upsert([{"_id": "a", "n": 4, "emb": [1.0, 2.0]}])
    hit = space.search([{"field": "emb", "feature": [1.0, 0.0]}], fields=["n"])[0][0]
    assert hit == {"_id": "a", "_score": 1.0, "n": 4}
    with_vector = space.search([{"field": "emb", "feature": [1.0, 0.0]}], vector_value=True)
    assert with_vector[0][0] == {"_id": "a", "_score": 1.0, "n": 4, "emb": [1.0, 2.0]}


def test_search_limit_larger_than_space(engine):
    space = vector_space(engine, "few", 2, {"type": "HNSW", "params": {}})
    space.upsert([{"emb": [1.0, float(i)]} for i in range(3)])
    assert len(space.search([{"field": "emb", "feature": [1.0, 1.0]}], limit=50)[0]) == 3


def test_search_on_empty_space_returns_empty_lists(engine):
    space = vector_space(engine, "empty", 2, {"type": "FLAT", "params": {}})
    assert space.search([{"field": "emb", "feature": [1.0, 0.0, 0.0, 1.0]}]) == [[], []]


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"vectors": []}, ErrorCode.SEARCH_INVALID_PARAMS_SHOULD_HAVE_VECTOR_FIELD),
        ({"vectors": [{"field": "emb", "feature": [1.0, 2.0, 3.0]}]}, ErrorCode.PARAM_ERROR),
        ({"vectors": [{"field": "n", "feature": [1.0, 2.0]}]}, ErrorCode.PARAM_ERROR),
        ({"vectors": [{"field": "x", "feature": [1.0, 2.0]}]}, ErrorCode.PARAM_ERROR),
        ({"vectors": [{"field": "emb", "feature": [1.0, float("nan")]}]}, ErrorCode.PARAM_ERROR),
        ({"vectors": [{"field": "emb", "feature": [1, 2]}], "limit": 0}, ErrorCode.PARAM_ERROR),
        (
            {"vectors": [{"field": "emb", "feature": [1, 2]}], "index_params": {"efSearch": -1}},
            ErrorCode.PARAM_ERROR,
        ),
        (
            {
                "vectors": [{"field": "emb", "feature": [1, 2]}],
                "index_params": {"metric_type": "x"},
            },
            ErrorCode.PARAM_ERROR,
        ),
    ],
)
def test_search_rejects_invalid_request(engine, arguments, code):
    space = vector_space(engine, "bad", 2, {"type": "HNSW", "params": {}})
    space.upsert([{"emb": [1.0, 2.0]}])
    with pytest.raises(VectorDBError) as caught:
        space.search(**arguments)
    assert caught.value.code == code


def two_vector_space(engine: Engine):
    fields = [
        {
            "name": "a",
            "type": "vector",
            "dimension": 1,
            "index": {"type": "FLAT", "params": {"metric_type": "L2"}},
        },
        {
            "name": "b",
            "type": "vector",
            "dimension": 1,
            "index": {"type": "FLAT", "params": {"metric_type": "L2"}},
        },
    ]
    space = engine.create_space("db", {"name": "two", "fields": fields})
    space.upsert(
        [
            {"_id": "x", "a": [1.0], "b": [1.0]},
            {"_id": "y", "a": [2.0], "b": [0.0]},
            {"_id": "z", "a": [9.0], "b": [9.0]},
        ]
    )
    return space


def test_multi_vector_search_sums_weighted_scores(engine):
    space = two_vector_space(engine)
    vectors = [{"field": "a", "feature": [0.0]}, {"field": "b", "feature": [0.0]}]
    default = space.search(vectors, limit=2)[0]
    # Each field keeps its top 2 (x, y), so z is dropped; default weights are 1/2 each.
    assert [(hit["_id"], hit["_score"]) for hit in default] == [("x", 1.0), ("y", 2.0)]
    weighted = space.search(vectors, limit=2, ranker={"type": "WeightedRanker", "params": [1, 1]})
    assert [(hit["_id"], hit["_score"]) for hit in weighted[0]] == [("x", 2.0), ("y", 4.0)]
    with pytest.raises(VectorDBError):
        space.search(vectors, ranker={"type": "WeightedRanker", "params": [1]})
