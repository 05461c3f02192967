"""The official Vearch Python SDK (pyvearch 3.5.6) against Qiao's server, unchanged.

pyvearch and pandas, which pyvearch imports without declaring, are in the
``test`` extra, so a missing one fails the import instead of skipping.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from vearch.config import Config
from vearch.core.vearch import Vearch
from vearch.filter import Condition, FieldValue, Filter
from vearch.schema.field import Field
from vearch.schema.index import (
    FlatIndex,
    HNSWIndex,
    IvfFlatIndex,
    IvfPQIndex,
    ScalarIndex,
)
from vearch.schema.space import SpaceSchema
from vearch.utils import DataType, MetricType, VectorInfo
from vectordb_server import start_server

DB = "sdk_db"
DIMENSION = 8


@pytest.fixture(scope="module")
def vc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vearch]:
    url, stop = start_server(tmp_path_factory.mktemp("sdk"))
    yield Vearch(Config(host=url, token="secret"))
    stop()


@pytest.fixture
def database(vc: Vearch) -> str:
    """The database of the space tests, created by the first test that needs it."""
    if not vc.is_database_exist(DB):
        vc.create_database(DB)
    return DB


def _schema(name: str, vector_index: object, partition_num: int = 1) -> SpaceSchema:
    fields = [
        Field("title", DataType.STRING, index=ScalarIndex("title_idx")),
        Field("year", DataType.INTEGER, index=ScalarIndex("year_idx")),
        Field("price", DataType.FLOAT),
        Field("vec", DataType.VECTOR, vector_index, dimension=DIMENSION),
    ]
    return SpaceSchema(name, fields, partition_num=partition_num, replica_num=1)


def _space_info(vc: Vearch, name: str) -> dict:
    result = vc.client._get_space_detail(DB, name)
    assert result.code == 0, result.msg
    return result.data


def _wait_indexed(vc: Vearch, name: str, count: int, timeout: float = 30.0) -> None:
    """Poll the space GET until its partitions index ``count`` documents, as Vearch clients do."""
    deadline = time.monotonic() + timeout
    while sum(entry["index_num"] for entry in _space_info(vc, name)["partitions"]) < count:
        assert time.monotonic() < deadline, f"{name} did not index {count} documents"
        time.sleep(0.2)


def _rows(count: int) -> list[dict]:
    rows = []
    for i in range(count):
        vector = [0.0] * DIMENSION
        vector[i % DIMENSION] = 1.0 + i // DIMENSION
        rows.append({"title": f"doc{i}", "year": 2000 + i, "price": i * 1.5, "vec": vector})
    return rows


def test_databases(vc: Vearch) -> None:
    name = "sdk_lifecycle"
    assert vc.create_database(name).is_success()
    assert vc.is_database_exist(name)
    assert not vc.is_database_exist("sdk_missing")
    assert name in [db.name for db in vc.list_databases()]
    second = vc.create_database(name)
    assert second.code == 201
    assert vc.drop_database(name).is_success()
    assert not vc.is_database_exist(name)


@pytest.mark.parametrize(
    "vector_index",
    [
        FlatIndex("vec_idx", MetricType.L2),
        HNSWIndex("vec_idx", MetricType.L2, nlinks=32, efConstruction=100),
    ],
    ids=["FLAT", "HNSW"],
)
def test_space_documents(vc: Vearch, database: str, vector_index: object) -> None:
    name = f"sdk_{vector_index._index_type.lower()}"  # type: ignore[attr-defined]
    created = vc.create_space(DB, _schema(name, vector_index))
    assert created.is_success(), created.msg
    exists, _, schema = vc.is_space_exist(DB, name)
    assert exists
    assert [field.name for field in schema.fields] == ["title", "year", "price", "vec"]
    assert name in [space.name for space in vc.list_spaces(DB)]

    upserted = vc.upsert(DB, name, _rows(20))
    assert upserted.is_success(), upserted.msg
    ids = upserted.get_document_ids()
    assert len(ids) == 20

    # The nearest neighbour of row 3's vector is row 3.
    query_vector = _rows(20)[3]["vec"]
    found = vc.search(DB, name, [VectorInfo("vec", query_vector)], limit=3)
    assert found.is_success(), found.msg
    assert found.documents[0][0]["_id"] == ids[3]
    assert found.documents[0][0]["_score"] == pytest.approx(0.0)

    year_filter = Filter(
        operator="AND", conditions=[Condition(operator=">=", fv=FieldValue("year", 2010))]
    )
    filtered = vc.search(
        DB, name, [VectorInfo("vec", query_vector)], filter=year_filter, fields=["year"], limit=5
    )
    assert filtered.is_success(), filtered.msg
    assert all(hit["year"] >= 2010 for hit in filtered.documents[0])
    assert len(filtered.documents[0]) == 5

    by_id = vc.query(DB, name, document_ids=[ids[0], ids[1]], vector=True)
    assert by_id.is_success(), by_id.msg
    assert [doc["title"] for doc in by_id.documents] == ["doc0", "doc1"]
    assert len(by_id.documents[0]["vec"]) == DIMENSION

    in_filter = Filter(
        operator="AND",
        conditions=[Condition(operator="IN", fv=FieldValue("title", ["doc4", "doc5"]))],
    )
    by_filter = vc.query(DB, name, filter=in_filter)
    assert sorted(doc["title"] for doc in by_filter.documents) == ["doc4", "doc5"]

    deleted = vc.delete(DB, name, document_ids=[ids[0]])
    assert deleted.is_success(), deleted.msg
    assert deleted.document_ids == [ids[0]]
    deleted_by_filter = vc.delete(DB, name, filter=year_filter, limit=3)
    assert deleted_by_filter.total == 3
    remaining = vc.query(DB, name, filter=year_filter, limit=50)
    assert len(remaining.documents) == 7

    assert vc.drop_space(DB, name).is_success()
    exists, _, _ = vc.is_space_exist(DB, name)
    assert not exists


@pytest.mark.parametrize(
    "vector_index",
    [
        IvfFlatIndex("vec_idx", MetricType.L2, ncentroids=8, training_threshold=256, nprobe=4),
        IvfPQIndex(
            "vec_idx", MetricType.L2, ncentroids=8, nsubvector=4, training_threshold=256, nprobe=4
        ),
    ],
    ids=["IVFFLAT", "IVFPQ"],
)
def test_trained_index_space(vc: Vearch, database: str, vector_index: object) -> None:
    name = f"sdk_{vector_index._index_type.lower()}"  # type: ignore[attr-defined]
    created = vc.create_space(DB, _schema(name, vector_index))
    assert created.is_success(), created.msg
    rows = _rows(300)
    ids = vc.upsert(DB, name, rows).get_document_ids()
    assert len(ids) == 300

    _wait_indexed(vc, name, 300)
    info = _space_info(vc, name)
    assert [entry["index_status"] for entry in info["partitions"]] == [2]

    # nprobe = ncentroids visits every list, so the nearest row is found.
    for row in (3, 150, 299):
        found = vc.search(
            DB,
            name,
            [VectorInfo("vec", rows[row]["vec"])],
            limit=3,
            fields=["title"],
            index_params={"nprobe": 8, "metric_type": "L2"},
        )
        assert found.is_success(), found.msg
        assert found.documents[0][0]["_id"] == ids[row]
        assert found.documents[0][0]["title"] == f"doc{row}"
    assert vc.drop_space(DB, name).is_success()


def test_space_with_two_partitions(vc: Vearch, database: str) -> None:
    name = "sdk_partitioned"
    created = vc.create_space(DB, _schema(name, FlatIndex("vec_idx", MetricType.L2), 2))
    assert created.is_success(), created.msg
    rows = _rows(40)
    ids = vc.upsert(DB, name, rows).get_document_ids()

    info = _space_info(vc, name)
    assert info["partition_num"] == 2
    counts = [entry["doc_num"] for entry in info["partitions"]]
    assert len(counts) == 2 and sum(counts) == 40 and min(counts) > 0

    found = vc.search(DB, name, [VectorInfo("vec", rows[17]["vec"])], limit=1)
    assert found.documents[0][0]["_id"] == ids[17]
    year_filter = Filter(
        operator="AND", conditions=[Condition(operator="<", fv=FieldValue("year", 2010))]
    )
    queried = vc.query(DB, name, filter=year_filter, limit=50)
    assert sorted(doc["year"] for doc in queried.documents) == list(range(2000, 2010))
    assert vc.drop_space(DB, name).is_success()


def test_unknown_space_errors(vc: Vearch, database: str) -> None:
    result = vc.upsert(DB, "sdk_missing", [{"title": "x"}])
    assert result.code == 6
    found = vc.search(DB, "sdk_missing", [VectorInfo("vec", [0.0] * DIMENSION)])
    assert found.code == 6


def test_wrong_token_fails(vc: Vearch) -> None:
    host = vc.client.host
    other = Vearch(Config(host=host, token="wrong"))
    result = other.client._list_db()
    assert result.code == 3
