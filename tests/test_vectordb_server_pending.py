"""Server routes whose engine methods come from other parts of the vector database.

Each test runs once the engine has the method it needs (space updates,
index add/remove, rebuild and force merge, partitions, paging, IVF indexes)
and is skipped before.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from vectordb_server import ROOT_AUTH, start_server

from qiao.vectordb import Engine, Space
from qiao.vectordb.index.factory import SUPPORTED_VECTOR_INDEX_TYPES

SCHEMA = {
    "name": "items",
    "replica_num": 1,
    "fields": [
        {"name": "title", "type": "string", "index": {"name": "title", "type": "SCALAR"}},
        {"name": "year", "type": "integer", "index": {"name": "year", "type": "SCALAR"}},
        {
            "name": "vec",
            "type": "vector",
            "dimension": 4,
            "index": {"name": "vec", "type": "FLAT", "params": {"metric_type": "L2"}},
        },
    ],
}
TARGET = {"db_name": "d", "space_name": "items"}
DOCUMENTS = [
    {"_id": str(i), "title": f"t{i}", "year": 2000 + i, "vec": [float(i), 0, 0, 1]}
    for i in range(10)
]


def _needs(owner: type, name: str, keyword: str | None = None) -> pytest.MarkDecorator:
    import inspect

    method = getattr(owner, name, None)
    present = method is not None and (
        keyword is None or keyword in inspect.signature(method).parameters
    )
    return pytest.mark.skipif(
        not present, reason=f"{owner.__name__}.{name} lacks {keyword or name}"
    )


@pytest.fixture
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    url, stop = start_server(tmp_path_factory.mktemp("pending"))
    with httpx.Client(base_url=url, auth=ROOT_AUTH, timeout=60) as client:
        client.post("/dbs/d")
        assert client.post("/dbs/d/spaces", json=SCHEMA).json()["code"] == 0
        client.post("/document/upsert", json={**TARGET, "documents": DOCUMENTS})
        yield client
    stop()


@_needs(Engine, "update_space")
def test_update_space_adds_field(client: httpx.Client) -> None:
    fields = [*SCHEMA["fields"], {"name": "extra", "type": "integer"}]
    response = client.put("/dbs/d/spaces/items", json={"fields": fields})
    assert response.json()["code"] == 0, response.text
    info = client.get("/dbs/d/spaces/items").json()["data"]
    assert "extra" in [field["name"] for field in info["schema"]["fields"]]


@_needs(Engine, "update_space")
def test_update_space_rejects_index_change(client: httpx.Client) -> None:
    response = client.put("/dbs/d/spaces/items", json={"indexes": [{"name": "x"}]})
    assert response.status_code == 400
    assert response.json()["code"] == 6


@_needs(Engine, "add_indexes")
def test_add_and_remove_index(client: httpx.Client) -> None:
    added = client.post(
        "/dbs/d/spaces/items/indexes",
        json={"indexes": [{"name": "title_bitmap", "type": "BITMAP", "field_name": "title"}]},
    )
    assert added.json()["code"] == 0, added.text
    names = [
        index.get("name")
        for index in client.get("/dbs/d/spaces/items/indexes").json()["data"]["indexes"]
    ]
    assert "title_bitmap" in names
    removed = client.delete("/dbs/d/spaces/items/indexes/title_bitmap")
    assert removed.json()["code"] == 0, removed.text


@_needs(Space, "indexes_info")
def test_index_info_detail(client: httpx.Client) -> None:
    info = client.get("/dbs/d/spaces/items/indexes?detail=true").json()["data"]
    assert set(info) >= {"db_name", "space_name", "indexes", "build_state"}


@_needs(Space, "rebuild_index")
def test_index_rebuild(client: httpx.Client) -> None:
    body = {**TARGET, "drop_before_rebuild": True, "limit_cpu": 1}
    assert client.post("/index/rebuild", json=body).json()["data"]["_shards"]["failed"] == 0
    search = {**TARGET, "vectors": [{"field": "vec", "feature": [3, 0, 0, 1]}], "limit": 1}
    assert (
        client.post("/document/search", json=search).json()["data"]["documents"][0][0]["_id"] == "3"
    )


@_needs(Space, "forcemerge")
def test_index_forcemerge(client: httpx.Client) -> None:
    assert client.post("/index/forcemerge", json=TARGET).json()["data"]["_shards"]["failed"] == 0
    unknown = client.post("/index/forcemerge", json={**TARGET, "partition_id": 987654})
    assert (unknown.status_code, unknown.json()["code"]) == (400, 6)


@_needs(Space, "query", "page_size")
def test_query_paging_and_sort(client: httpx.Client) -> None:
    filters = {
        "operator": "AND",
        "conditions": [{"field": "year", "operator": ">=", "value": 2000}],
    }
    body = {**TARGET, "filters": filters, "page_size": 3, "page_num": 2, "sort": [{"year": "desc"}]}
    documents = client.post("/document/query", json=body).json()["data"]["documents"]
    assert [doc["year"] for doc in documents] == [2006, 2005, 2004]


@_needs(Space, "query", "partition_id")
def test_query_by_partition(client: httpx.Client) -> None:
    entity = client.get("/cache/dbs/d/spaces/items").json()["data"]
    partition_id = entity["partitions"][0]["id"]
    body = {**TARGET, "document_ids": ["1", "missing"], "partition_id": partition_id}
    documents = client.post("/document/query", json=body).json()["data"]["documents"]
    assert documents[0]["_id"] == "1"
    assert documents[1]["code"] == 404


@_needs(Space, "search", "partition_names")
def test_search_partition_names_unknown(client: httpx.Client) -> None:
    body = {
        **TARGET,
        "vectors": [{"field": "vec", "feature": [1, 0, 0, 1]}],
        "partition_names": ["nope"],
    }
    response = client.post("/document/search", json=body)
    assert response.json()["code"] != 0


@_needs(Space, "describe", "detail")
def test_space_detail_partitions(client: httpx.Client) -> None:
    info = client.get("/dbs/d/spaces/items?detail=true").json()["data"]
    assert sum(entry["index_num"] for entry in info["partitions"]) == 10
    assert "errors" not in info


@_needs(Space, "entity")
def test_create_space_entity_fields(client: httpx.Client) -> None:
    entity = client.get("/cache/dbs/d/spaces/items").json()["data"]
    partition = entity["partitions"][0]
    assert set(partition) >= {"id", "name", "space_id", "db_id", "partition_slot", "replicas"}


@pytest.mark.parametrize("index_type", ["IVFFLAT", "IVFPQ"])
def test_pyvearch_ivf_spaces(tmp_path_factory: pytest.TempPathFactory, index_type: str) -> None:
    if index_type not in SUPPORTED_VECTOR_INDEX_TYPES:
        pytest.skip(f"the engine has no {index_type} index yet")
    pytest.importorskip("pandas", reason="pyvearch needs pandas")
    from vearch.config import Config
    from vearch.core.vearch import Vearch
    from vearch.schema.field import Field
    from vearch.schema.index import IvfFlatIndex, IvfPQIndex
    from vearch.schema.space import SpaceSchema
    from vearch.utils import DataType, MetricType, VectorInfo

    url, stop = start_server(tmp_path_factory.mktemp("ivf"))
    try:
        vc = Vearch(Config(host=url, token="secret"))
        vc.create_database("d")
        if index_type == "IVFFLAT":
            vector_index = IvfFlatIndex("vec", MetricType.L2, ncentroids=4, training_threshold=256)
        else:
            vector_index = IvfPQIndex(
                "vec", MetricType.L2, ncentroids=4, nsubvector=2, training_threshold=256
            )
        fields = [Field("vec", DataType.VECTOR, vector_index, dimension=4)]
        created = vc.create_space("d", SpaceSchema("ivf", fields, replica_num=1))
        assert created.is_success(), created.msg
        rows = [{"vec": [float(i % 17), float(i % 5), 1.0, float(i % 3)]} for i in range(300)]
        ids = vc.upsert("d", "ivf", rows).get_document_ids()
        assert len(ids) == 300
        found = vc.search(
            "d", "ivf", [VectorInfo("vec", rows[7]["vec"])], limit=1, is_brute_search=1
        )
        assert found.is_success(), found.msg
        assert found.documents[0][0]["_score"] == pytest.approx(0.0)
    finally:
        stop()
