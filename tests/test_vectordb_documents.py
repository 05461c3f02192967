"""Upsert validation, value conversion, partial updates, get and query by id."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from qiao.vectordb import Engine, ErrorCode, VectorDBError

SCHEMA = {
    "name": "docs",
    "fields": [
        {"name": "title", "type": "string"},
        {"name": "code", "type": "keyword", "index": {"name": "code", "type": "INVERTED"}},
        {"name": "tags", "type": "stringArray"},
        {"name": "count", "type": "integer"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "amount", "type": "double"},
        {"name": "ok", "type": "boolean"},
        {"name": "when", "type": "date"},
        {
            "name": "emb",
            "type": "vector",
            "dimension": 3,
            "index": {"name": "emb", "type": "FLAT", "params": {"metric_type": "L2"}},
        },
    ],
}


@pytest.fixture
def space(tmp_path):
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        yield engine.create_space("db", SCHEMA)


def upsert_error(space, document: dict) -> VectorDBError:
    with pytest.raises(VectorDBError) as caught:
        space.upsert([document])
    return caught.value


VALID = {"title": "t", "emb": [0.0, 1.0, 2.0]}


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"unknown": 1}, "unknown field 'unknown'"),
        ({"title": None}, "is null"),
        ({"emb": None}, "is null"),
        ({"title": 5}, "needs a string"),
        ({"title": ["a"]}, "does not accept an array"),
        ({"count": [1, 2]}, "does not accept an array"),
        ({"count": "seven"}, "needs an integer"),
        ({"count": 1.5}, "needs an integer"),
        ({"count": True}, "needs an integer"),
        ({"count": 2**31}, "outside the integer range"),
        ({"big": 2**63}, "outside the long range"),
        ({"ratio": "x"}, "needs a number"),
        ({"ratio": 1e39}, "32-bit float"),
        ({"amount": float("nan")}, "finite"),
        ({"ok": 1}, "true or false"),
        ({"when": 1.5}, "integer seconds"),
        ({"when": "yesterday"}, "not a valid date"),
        ({"tags": "a"}, "list of strings"),
        ({"tags": ["a", 1]}, "list of strings"),
        ({"emb": [1.0, 2.0]}, "dimension is 3"),
        ({"emb": [1.0, 2.0, 3.0, 4.0]}, "dimension is 3"),
        ({"emb": [1.0, float("nan"), 3.0]}, "NaN or infinite"),
        ({"emb": [1.0, float("inf"), 3.0]}, "NaN or infinite"),
        ({"emb": [1.0, "a", 3.0]}, "only numbers"),
        ({"emb": [True, 0, 0]}, "got true or false"),
        ({"emb": {"feature": [1.0, 2.0, 3.0]}}, "list of 3 numbers"),
        ({"title": "x" * 65536}, "65535-byte limit"),
        ({"code": "x" * 1025}, "1024-byte limit of an indexed"),
        ({"tags": ["x" * 40000, "y" * 40000]}, "65535-byte limit"),
        ({"title": "bad \ud800"}, "lone surrogate"),
    ],
)
def test_upsert_rejects_invalid_value(space, changes, fragment):
    error = upsert_error(space, {**VALID, **changes})
    assert error.code == ErrorCode.UPSERT_INVALID_PARAMS
    assert fragment in error.msg
    assert space.doc_num == 0


def test_upsert_accepts_limit_length_strings(space):
    ids = space.upsert([{**VALID, "title": "x" * 65535, "code": "y" * 1024}])
    stored = space.get(ids)[0]
    assert len(stored["title"]) == 65535
    assert len(stored["code"]) == 1024


def test_upsert_rejects_whole_batch_on_one_bad_document(space):
    with pytest.raises(VectorDBError):
        space.upsert([dict(VALID), {**VALID, "count": "bad"}])
    assert space.doc_num == 0


def test_upsert_rejects_new_document_without_vector(space):
    error = upsert_error(space, {"_id": "new", "title": "t"})
    assert error.code == ErrorCode.UPSERT_INVALID_PARAMS
    assert "missing ['emb']" in error.msg
    assert upsert_error(space, {"title": "t"}).code == ErrorCode.UPSERT_INVALID_PARAMS


@pytest.mark.parametrize("bad_id", ["", 5, ["a"], "\udfff"])
def test_upsert_rejects_invalid_id(space, bad_id):
    error = upsert_error(space, {**VALID, "_id": bad_id})
    assert error.code == ErrorCode.PRIMARY_KEY_IS_INVALID


@pytest.mark.parametrize("documents", [[], None, "doc", [1]])
def test_upsert_rejects_non_document_batch(space, documents):
    with pytest.raises(VectorDBError) as caught:
        space.upsert(documents)
    assert caught.value.code == ErrorCode.UPSERT_INVALID_PARAMS


def test_upsert_generates_signed_int64_ids(space):
    ids = space.upsert([dict(VALID) for _ in range(50)])
    assert len(set(ids)) == 50
    for doc_id in ids:
        assert str(int(doc_id)) == doc_id
        assert -(2**63) <= int(doc_id) < 2**63
    assert any(int(doc_id) < 0 for doc_id in ids)


def test_upsert_round_trips_every_type(space):
    document = {
        "_id": "a",
        "title": "标题",
        "code": "c1",
        "tags": ["x", "y"],
        "count": -7,
        "big": 2**62,
        "ratio": 0.1,
        "amount": 1 / 3,
        "ok": True,
        "when": "2024-05-01T08:30:00+08:00",
        "emb": np.array([0.5, -1.0, 2.0]),
    }
    assert space.upsert([document]) == ["a"]
    stored = space.get(["a"], vector_value=True)[0]
    assert stored == {
        "_id": "a",
        "title": "标题",
        "code": "c1",
        "tags": ["x", "y"],
        "count": -7,
        "big": 2**62,
        "ratio": 0.1,
        "amount": 1 / 3,
        "ok": True,
        "when": stored["when"],
        "emb": [0.5, -1.0, 2.0],
    }


def test_upsert_fills_defaults_for_omitted_fields(space):
    space.upsert([{"_id": "a", "emb": [1.0, 1.0, 1.0]}])
    stored = space.get(["a"])[0]
    assert stored["title"] == ""
    assert stored["tags"] == []
    assert stored["count"] == 0
    assert stored["ok"] is False


def test_upsert_accepts_numeric_strings_like_vearch(space):
    space.upsert([{**VALID, "_id": "a", "count": "12", "amount": "2.5"}])
    stored = space.get(["a"])[0]
    assert stored["count"] == 12
    assert stored["amount"] == 2.5


@pytest.fixture
def utc_then_shanghai():
    previous = os.environ.get("TZ")
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


def test_dates_return_as_rfc3339_in_local_zone(space, utc_then_shanghai):
    space.upsert(
        [
            {**VALID, "_id": "s", "when": 1714550400},
            {**VALID, "_id": "z", "when": "2024-05-01T08:00:00+08:00"},
            {**VALID, "_id": "n", "when": "2024-05-01"},
        ]
    )
    os.environ["TZ"] = "UTC"
    time.tzset()
    assert [doc["when"] for doc in space.get(["s", "z", "n"])] == [
        "2024-05-01T08:00:00Z",
        "2024-05-01T00:00:00Z",
        "2024-05-01T00:00:00Z",
    ]
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    assert space.get(["z"])[0]["when"] == "2024-05-01T08:00:00+08:00"


def test_partial_update_keeps_vector_and_other_fields(space):
    space.upsert([{**VALID, "_id": "a", "title": "old", "count": 1, "tags": ["k"]}])
    space.upsert([{"_id": "a", "count": 2}])
    stored = space.get(["a"], vector_value=True)[0]
    assert stored["title"] == "old"
    assert stored["count"] == 2
    assert stored["tags"] == ["k"]
    assert stored["emb"] == [0.0, 1.0, 2.0]
    assert space.doc_num == 1
    hits = space.search([{"field": "emb", "feature": [0.0, 1.0, 2.0]}], limit=5)[0]
    assert [hit["_id"] for hit in hits] == ["a"]
    assert hits[0]["count"] == 2


def test_upsert_batch_merges_repeated_id(space):
    space.upsert(
        [
            {"_id": "a", "title": "first", "count": 1, "emb": [1.0, 0.0, 0.0]},
            {"_id": "a", "count": 2},
        ]
    )
    stored = space.get(["a"], vector_value=True)[0]
    assert (stored["title"], stored["count"], stored["emb"]) == ("first", 2, [1.0, 0.0, 0.0])
    assert space.doc_num == 1


def test_update_with_new_vector_replaces_search_hit(space):
    space.upsert([{"_id": "a", "emb": [1.0, 0.0, 0.0]}, {"_id": "b", "emb": [0.0, 0.0, 9.0]}])
    space.upsert([{"_id": "a", "emb": [0.0, 0.0, 10.0]}])
    hits = space.search([{"field": "emb", "feature": [0.0, 0.0, 10.0]}], limit=5)[0]
    assert [hit["_id"] for hit in hits] == ["a", "b"]
    assert hits[0]["_score"] == 0.0


def test_get_returns_requested_fields_in_order(space):
    space.upsert([{**VALID, "_id": "a", "count": 1}, {**VALID, "_id": "b", "count": 2}])
    documents = space.get(["b", "missing", "a"], fields=["count"])
    assert documents == [{"_id": "b", "count": 2}, {"_id": "a", "count": 1}]
    with_vector = space.get(["a"], fields=["emb"], vector_value=True)
    assert with_vector == [{"_id": "a", "emb": [0.0, 1.0, 2.0]}]
    with pytest.raises(VectorDBError) as caught:
        space.get(["a"], fields=["nope"])
    assert caught.value.code == ErrorCode.PARAM_ERROR


def test_query_by_ids_returns_duplicates(space):
    space.upsert([{**VALID, "_id": "a"}])
    assert [doc["_id"] for doc in space.query(document_ids=["a", "a", "x"])] == ["a", "a"]


def test_query_rejects_bad_arguments(space):
    condition = {"operator": "AND", "conditions": [{"field": "count", "operator": ">", "value": 1}]}
    cases = [
        ({"document_ids": ["a"], "filters": condition}, 444),
        ({}, 442),
        ({"filters": {"operator": "AND", "conditions": []}}, 442),
        ({"document_ids": [str(i) for i in range(500)]}, 441),
    ]
    for arguments, code in cases:
        with pytest.raises(VectorDBError) as caught:
            space.query(**arguments)
        assert caught.value.code == code, arguments


def test_delete_by_ids_returns_existing_ids_once(space):
    space.upsert([{**VALID, "_id": "a"}, {**VALID, "_id": "b"}])
    assert space.delete(document_ids=["a", "a", "missing"]) == ["a"]
    assert space.doc_num == 1
    assert space.get(["a"]) == []


def test_delete_rejects_bad_arguments(space):
    condition = {"operator": "AND", "conditions": [{"field": "count", "operator": ">", "value": 1}]}
    cases = [
        ({"document_ids": ["a"], "filters": condition}, 423),
        ({"document_ids": [str(i) for i in range(500)]}, 424),
        ({}, 425),
    ]
    for arguments, code in cases:
        with pytest.raises(VectorDBError) as caught:
            space.delete(**arguments)
        assert caught.value.code == code, arguments


def test_error_message_is_lowercased_enum_name(space):
    error = upsert_error(space, {**VALID, "nope": 1})
    assert error.msg.startswith("upsert_invalid_params: ")
    assert str(error) == error.msg
    assert error.code == 400


def test_concurrent_writers_and_searchers(space):
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for batch in range(10):
                space.upsert(
                    [
                        {"_id": f"w{worker}-{batch}-{i}", "count": i, "emb": [worker, batch, i]}
                        for i in range(5)
                    ]
                )
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    def read() -> None:
        try:
            for _ in range(50):
                for hits in space.search([{"field": "emb", "feature": [1.0, 1.0, 1.0]}], limit=5):
                    assert all(hit["_id"].startswith("w") for hit in hits)
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(3)]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert space.doc_num == 3 * 10 * 5
