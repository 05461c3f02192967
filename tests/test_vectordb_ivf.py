"""IVFFLAT and IVFPQ indexes: parameter rules, recall on clustered data, filters, re-ranking."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from vectordb_progress import wait_for_progress

from qiao.vectordb import ErrorCode, VectorDBError
from qiao.vectordb.index import Metric
from qiao.vectordb.index.ivfflat import IvfFlatIndex
from qiao.vectordb.index.ivfpq import IvfPqIndex

DIMENSION = 16


def clustered(count: int, seed: int = 0, clusters: int = 24) -> np.ndarray:
    """Points around ``clusters`` random centres, the shape IVF indexes are made for."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIMENSION)).astype(np.float32) * 4
    labels = rng.integers(0, clusters, count)
    return (centres[labels] + rng.standard_normal((count, DIMENSION))).astype(np.float32)


def schema(name: str, index_type: str, **params: object) -> dict:
    return {
        "name": name,
        "refresh_interval": 20,
        "fields": [
            {"name": "n", "type": "integer", "index": {"name": "n_index", "type": "SCALAR"}},
            {
                "name": "emb",
                "type": "vector",
                "dimension": DIMENSION,
                "index": {"name": "emb_idx", "type": index_type, "params": params},
            },
        ],
    }


def fill(space, vectors: np.ndarray, start: int = 0) -> None:
    for offset in range(0, len(vectors), 1000):
        batch = vectors[offset : offset + 1000]
        space.upsert(
            [
                {"_id": str(start + offset + i), "n": start + offset + i, "emb": row}
                for i, row in enumerate(batch)
            ]
        )


def recall_at_10(space, vectors: np.ndarray, queries: np.ndarray, **options) -> float:
    results = space.search([{"field": "emb", "feature": queries}], limit=10, **options)
    found = 0
    for query, hits in zip(queries, results, strict=True):
        truth = set(np.argsort(((vectors - query) ** 2).sum(axis=1))[:10].tolist())
        found += len(truth & {int(hit["_id"]) for hit in hits})
    return found / (10 * len(queries))


@pytest.mark.parametrize(
    ("index_type", "params", "fragment"),
    [
        ("IVFFLAT", {"ncentroids": 0}, "ncentroids 0 is out of range; use a value in [1, 262144]"),
        ("IVFFLAT", {"ncentroids": 262145}, "[1, 262144]"),
        ("IVFFLAT", {"ncentroids": 16, "nprobe": 17}, "nprobe 17 is larger than ncentroids 16"),
        ("IVFFLAT", {"ncentroids": 16, "training_threshold": 255}, "training_threshold 255"),
        ("IVFPQ", {"ncentroids": 300, "training_threshold": 299}, "use >= 300"),
        ("IVFFLAT", {"ncentroids": 6}, "ncentroids 6 x 39 is below 256"),
        ("IVFPQ", {"ncentroids": 16, "nsubvector": 5}, "nsubvector 5 does not divide"),
        ("IVFPQ", {"ncentroids": 16, "nbits_per_idx": 17}, "nbits_per_idx 17"),
        ("IVFPQ", {"ncentroids": 16, "hnsw": {"nlinks": 7}}, "hnsw nlinks 7 is out of range"),
        ("IVFPQ", {"ncentroids": 16, "opq": {"nsubvector": 3}}, "opq nsubvector 3"),
        ("IVFPQ", {"ncentroids": "many"}, "ncentroids must be an integer"),
    ],
)
def test_invalid_ivf_parameters_name_value_and_range(engine, index_type, params, fragment):
    with pytest.raises(VectorDBError) as caught:
        engine.create_space("db", schema("bad", index_type, **params))
    assert caught.value.code == ErrorCode.PARAM_ERROR
    assert fragment in caught.value.msg


def test_ivfflat_rejects_memory_only_store_type(engine):
    bad = schema("bad", "IVFFLAT", ncentroids=16)
    bad["fields"][1]["store_type"] = "MemoryOnly"
    with pytest.raises(VectorDBError, match="MemoryOnly"):
        engine.create_space("db", bad)


def test_defaults_are_vearch_defaults(engine):
    space = engine.create_space("db", schema("pq", "IVFPQ"))
    params = space.describe()["schema"]["fields"][1]["index"]["params"]
    assert params == {
        "metric_type": "InnerProduct",
        "ncentroids": 2048,
        "nprobe": 80,
        "nsubvector": DIMENSION // 2,
        "nbits_per_idx": 8,
    }
    small = engine.create_space("db", schema("small", "IVFFLAT", ncentroids=16))
    assert small.describe()["schema"]["fields"][1]["index"]["params"]["nprobe"] == 16


def test_ivfflat_recall_at_nprobe_8_of_32(engine):
    vectors = clustered(4000)
    queries = clustered(40, seed=1)
    space = engine.create_space(
        "db",
        schema(
            "flat", "IVFFLAT", metric_type="L2", ncentroids=32, nprobe=8, training_threshold=2000
        ),
    )
    fill(space, vectors)
    wait_for_progress(space, (2, len(vectors)))
    assert recall_at_10(space, vectors, queries) >= 0.9
    # nprobe in the request overrides the schema's. Probing all lists returns the exact top 10.
    assert recall_at_10(space, vectors, queries, index_params={"nprobe": 32}) == 1.0


def test_ivfpq_reranks_candidates_with_exact_scores(engine):
    vectors = clustered(3000)
    queries = clustered(20, seed=2)
    space = engine.create_space(
        "db",
        schema(
            "pq",
            "IVFPQ",
            metric_type="L2",
            ncentroids=16,
            nprobe=8,
            nsubvector=4,
            nbits_per_idx=6,
            training_threshold=1000,
        ),
    )
    fill(space, vectors)
    wait_for_progress(space, (2, len(vectors)))
    assert recall_at_10(space, vectors, queries, index_params={"recall_num": 100}) >= 0.9
    hits = space.search([{"field": "emb", "feature": queries[0]}], limit=5)[0]
    exact = ((vectors[[int(hit["_id"]) for hit in hits]] - queries[0]) ** 2).sum(axis=1)
    np.testing.assert_allclose([hit["_score"] for hit in hits], exact, rtol=1e-4)
    assert [hit["_score"] for hit in hits] == sorted(hit["_score"] for hit in hits)


def test_ivfpq_with_hnsw_quantizer_and_opq(engine):
    vectors = clustered(1200)
    space = engine.create_space(
        "db",
        schema(
            "pq",
            "IVFPQ",
            metric_type="L2",
            ncentroids=16,
            nprobe=16,
            nsubvector=4,
            nbits_per_idx=4,
            training_threshold=1000,
            hnsw={"nlinks": 16},
            opq={},
        ),
    )
    fill(space, vectors)
    wait_for_progress(space, (2, len(vectors)))
    params = space.describe()["schema"]["fields"][1]["index"]["params"]
    assert params["hnsw"] == {"nlinks": 16, "efConstruction": 200, "efSearch": 64}
    assert params["opq"] == {"nsubvector": 4}
    hits = space.search(
        [{"field": "emb", "feature": vectors[7]}], limit=3, index_params={"recall_num": 50}
    )[0]
    assert hits[0]["_id"] == "7"
    assert hits[0]["_score"] == pytest.approx(0.0, abs=1e-4)

    # faiss allocates recall_num, efSearch and limit results up front; the index caps them.
    huge = 2**31 - 1
    hits = space.search(
        [{"field": "emb", "feature": vectors[7]}],
        limit=huge,
        index_params={"recall_num": huge, "efSearch": huge},
    )[0]
    assert hits[0]["_id"] == "7"
    assert 0 < len(hits) <= len(vectors)


def test_filtered_search_returns_exact_top_k(engine):
    vectors = clustered(3000)
    space = engine.create_space(
        "db",
        schema(
            "flat", "IVFFLAT", metric_type="L2", ncentroids=32, nprobe=1, training_threshold=1000
        ),
    )
    fill(space, vectors)
    wait_for_progress(space, (2, len(vectors)))
    query = vectors[5]
    conditions = [{"field": "n", "operator": ">=", "value": 2500}]
    for condition in (conditions, [{"field": "n", "operator": "<", "value": 2500}]):
        hits = space.search(
            [{"field": "emb", "feature": query}],
            limit=10,
            filters={"operator": "AND", "conditions": condition},
        )[0]
        numbers = np.arange(len(vectors))
        allowed = numbers >= 2500 if condition[0]["operator"] == ">=" else numbers < 2500
        scores = ((vectors - query) ** 2).sum(axis=1)
        scores[~allowed] = np.inf
        assert [int(hit["_id"]) for hit in hits] == np.argsort(scores)[:10].tolist()


def test_new_rows_are_found_before_they_are_indexed(engine):
    vectors = clustered(1500)
    space = engine.create_space(
        "db",
        schema("flat", "IVFFLAT", metric_type="L2", ncentroids=16, training_threshold=1000),
    )
    fill(space, vectors[:1000])
    wait_for_progress(space, (2, 1000))
    fill(space, vectors[1000:], start=1000)
    # Found at once, by the exact scan of rows the index does not hold yet.
    hits = space.search([{"field": "emb", "feature": vectors[1400]}], limit=1)[0]
    assert hits[0]["_id"] == "1400"
    wait_for_progress(space, (2, 1500))
    deleted = space.delete(document_ids=["1400"])
    assert deleted == ["1400"]
    hits = space.search([{"field": "emb", "feature": vectors[1400]}], limit=1)[0]
    assert hits[0]["_id"] != "1400"


def test_inner_product_with_normalization_gives_cosine(engine):
    vectors = clustered(1200)
    raw = schema("cos", "IVFFLAT", ncentroids=16, nprobe=16, training_threshold=1000)
    raw["fields"][1]["format"] = "normalization"
    space = engine.create_space("db", raw)
    fill(space, vectors)
    wait_for_progress(space, (2, len(vectors)))
    hits = space.search([{"field": "emb", "feature": vectors[3] * 10}], limit=3)[0]
    assert hits[0]["_id"] == "3"
    assert hits[0]["_score"] == pytest.approx(1.0, abs=1e-5)
    assert hits[1]["_score"] <= hits[0]["_score"]


def test_search_index_params_are_checked(engine):
    vectors = clustered(1200)
    # 4 centroids take at most 4 x 256 training points, so 1024 of the 1200 are drawn.
    space = engine.create_space(
        "db", schema("flat", "IVFFLAT", metric_type="L2", ncentroids=4, training_threshold=1000)
    )
    fill(space, vectors)
    wait_for_progress(space, (2, len(vectors)))
    accepted = {"nprobe": 2, "recall_num": 40, "parallel_on_queries": 1, "efSearch": 32}
    hits = space.search([{"field": "emb", "feature": vectors[9]}], limit=2, index_params=accepted)
    assert hits[0][0]["_id"] == "9"
    for bad in ({"nprobe": 0}, {"recall_num": -3}, {"nprobe": "4"}, {"metric_type": "cos"}):
        with pytest.raises(VectorDBError) as caught:
            space.search([{"field": "emb", "feature": vectors[9]}], index_params=bad)
        assert caught.value.code == ErrorCode.PARAM_ERROR


@pytest.mark.parametrize(
    ("index_class", "params"),
    [
        (IvfFlatIndex, {"ncentroids": 16, "nprobe": 4}),
        (IvfPqIndex, {"ncentroids": 16, "nprobe": 4, "nsubvector": 4, "opq": {}}),
    ],
)
def test_lists_laid_out_afresh_give_the_same_hits(index_class, params):
    vectors = clustered(3000)
    params = index_class.validate_params({"metric_type": "L2", **params}, DIMENSION)
    index = index_class(DIMENSION, Metric.L2, params)
    index.add(vectors[:2000])
    trained = index.train_faiss_index(vectors[:2000])
    for start in range(0, 2000, 100):
        trained.add(vectors[start : start + 100])
    index.install(trained)
    queries = vectors[::97]
    before = index.search(queries, 10, None, {})
    assert index.relayout_due

    copied = index.compact_lists()
    assert copied is not None
    assert index.install_lists(*copied)
    assert not index.relayout_due
    after = index.search(queries, 10, None, {})
    for rows_before, rows_after in zip(before.rows, after.rows, strict=True):
        np.testing.assert_array_equal(rows_before, rows_after)
    for scores_before, scores_after in zip(before.scores, after.scores, strict=True):
        np.testing.assert_array_equal(scores_before, scores_after)

    # New rows make the layout stale again; lists copied from a replaced index are refused.
    index.add(vectors[2000:])
    index.catch_up(1000)
    assert index.relayout_due
    copied = index.compact_lists()
    assert copied is not None
    index.install(index.train_faiss_index(vectors))
    assert not index.install_lists(*copied)


def test_indexer_lays_out_the_lists_once_writes_stop(engine, caplog):
    caplog.set_level(logging.INFO, logger="qiao.vectordb.indexer")
    vectors = clustered(2000)
    space = engine.create_space(
        "db", schema("layout", "IVFFLAT", metric_type="L2", ncentroids=16, training_threshold=500)
    )
    fill(space, vectors)
    wait_for_progress(space, (2, len(vectors)))
    deadline = time.monotonic() + 10
    while not any("afresh" in record.getMessage() for record in caplog.records):
        assert time.monotonic() < deadline, "the lists were not laid out afresh"
        time.sleep(0.02)
    assert recall_at_10(space, vectors, vectors[::50], index_params={"nprobe": 16}) == 1.0
