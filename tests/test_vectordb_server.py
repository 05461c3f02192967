"""The Vearch-compatible REST server: routes, envelope, status codes and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from vectordb_server import ROOT_AUTH, start_server

from qiao.vectordb import Engine
from qiao.vectordb.server.routes_documents import _is_quick_search

SCHEMA = {
    "name": "items",
    "replica_num": 1,
    "fields": [
        {"name": "title", "type": "string", "index": {"name": "title", "type": "SCALAR"}},
        {"name": "year", "type": "integer", "index": {"name": "year", "type": "SCALAR"}},
        {"name": "tags", "type": "stringArray", "index": {"name": "tags", "type": "SCALAR"}},
        {
            "name": "vec",
            "type": "vector",
            "dimension": 4,
            "index": {"name": "vec", "type": "FLAT", "params": {"metric_type": "L2"}},
        },
    ],
}
DOCUMENTS = [
    {"_id": "a", "title": "alpha", "year": 2001, "tags": ["x"], "vec": [1, 0, 0, 0]},
    {"_id": "b", "title": "beta", "year": 2002, "tags": ["y"], "vec": [0, 1, 0, 0]},
    {"_id": "c", "title": "gamma", "year": 2003, "tags": ["x", "y"], "vec": [0, 0, 1, 0]},
]
TARGET = {"db_name": "shop", "space_name": "items"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    url, stop = start_server(tmp_path_factory.mktemp("vdb"), with_master=True)
    client = httpx.Client(base_url=url, auth=ROOT_AUTH, timeout=30)
    assert client.post("/dbs/shop").json()["code"] == 0
    assert client.post("/dbs/shop/spaces", json=SCHEMA).json()["code"] == 0
    upserted = client.post("/document/upsert", json={**TARGET, "documents": DOCUMENTS})
    assert upserted.json()["code"] == 0
    yield client, stop.master_url  # type: ignore[attr-defined]
    client.close()
    stop()


@pytest.fixture
def client(server: tuple[httpx.Client, str]) -> httpx.Client:
    return server[0]


def test_root_returns_name_and_version(client: httpx.Client) -> None:
    body = client.get("/").json()
    assert body["code"] == 0
    assert body["data"]["name"] == "qiao"
    assert set(body["data"]["version"]) == {"build_version", "build_time", "commit_id"}
    assert "msg" not in body


def test_request_id_is_echoed(client: httpx.Client) -> None:
    ok = client.get("/dbs", headers={"X-Request-Id": "req-7"}).json()
    failed = client.get("/dbs/nothing", headers={"X-Request-Id": "req-8"}).json()
    assert ok["request_id"] == "req-7"
    assert failed["request_id"] == "req-8"
    assert "request_id" not in client.get("/dbs").json()


def test_database_routes(client: httpx.Client) -> None:
    created = client.post("/dbs/temp")
    assert created.status_code == 200
    assert created.json()["data"]["name"] == "temp"
    assert client.get("/dbs/temp").json()["data"]["name"] == "temp"
    assert "temp" in [db["name"] for db in client.get("/dbs").json()["data"]]

    duplicate = client.post("/dbs/temp")
    assert (duplicate.status_code, duplicate.json()["code"]) == (422, 201)
    assert duplicate.json()["msg"].startswith("db_exist")

    assert client.delete("/dbs/temp").json() == {"code": 0}
    missing = client.get("/dbs/temp")
    assert (missing.status_code, missing.json()["code"]) == (404, 200)
    assert "not_exist" in missing.json()["msg"]


def test_drop_nonempty_database_fails(client: httpx.Client) -> None:
    response = client.delete("/dbs/shop")
    assert (response.status_code, response.json()["code"]) == (500, 202)


def test_put_database_needs_cluster(client: httpx.Client) -> None:
    response = client.put("/dbs/shop", json={})
    assert response.status_code == 400
    assert "Vearch cluster" in response.json()["msg"]


def test_space_routes(client: httpx.Client) -> None:
    info = client.get("/dbs/shop/spaces/items").json()["data"]
    assert info["space_name"] == "items"
    assert info["doc_num"] == 3
    assert "errors" not in info
    listed = client.get("/dbs/shop/spaces").json()["data"]
    assert [space["space_name"] for space in listed] == ["items"]

    duplicate = client.post("/dbs/shop/spaces", json=SCHEMA)
    assert (duplicate.status_code, duplicate.json()["code"]) == (422, 220)
    missing = client.get("/dbs/shop/spaces/nothing")
    assert (missing.status_code, missing.json()["code"]) == (404, 221)


def test_create_space_returns_entity(client: httpx.Client) -> None:
    schema = {**SCHEMA, "name": "scratch"}
    entity = client.post("/dbs/shop/spaces", json=schema).json()["data"]
    assert entity["name"] == "scratch"
    assert entity["partitions"][0]["space_id"] == entity["id"]
    assert "enable_realtime" in entity
    cached = client.get("/cache/dbs/shop/spaces/scratch").json()["data"]
    assert cached["id"] == entity["id"]
    assert client.delete("/dbs/shop/spaces/scratch").json() == {"code": 0}
    gone = client.get("/cache/dbs/shop/spaces/scratch")
    assert (gone.status_code, gone.json()["code"]) == (500, 221)


def test_replica_num_three_fails(client: httpx.Client) -> None:
    response = client.post("/dbs/shop/spaces", json={**SCHEMA, "name": "tri", "replica_num": 3})
    assert (response.status_code, response.json()["code"]) == (500, 100)


def test_upsert_search_query_delete(client: httpx.Client) -> None:
    upserted = client.post(
        "/document/upsert",
        json={**TARGET, "documents": [{"title": "new", "year": 2010, "vec": [0, 0, 0, 1]}]},
    ).json()
    assert upserted["data"]["total"] == 1
    new_id = upserted["data"]["document_ids"][0]["_id"]

    search = client.post(
        "/document/search",
        json={**TARGET, "vectors": [{"field": "vec", "feature": [0, 0, 0, 1]}], "limit": 2},
    ).json()
    hits = search["data"]["documents"][0]
    assert hits[0]["_id"] == new_id
    assert hits[0]["_score"] == 0.0

    queried = client.post("/document/query", json={**TARGET, "document_ids": [new_id]}).json()
    assert queried["data"]["total"] == 1
    assert queried["data"]["documents"][0]["title"] == "new"

    deleted = client.post("/document/delete", json={**TARGET, "document_ids": [new_id]}).json()
    assert deleted["data"] == {"total": 1, "document_ids": [new_id]}
    again = client.post("/document/query", json={**TARGET, "document_ids": [new_id]}).json()
    assert again["data"]["total"] == 0


def test_search_with_filter(client: httpx.Client) -> None:
    filters = {
        "operator": "AND",
        "conditions": [{"field": "year", "operator": ">=", "value": 2002}],
    }
    body = {
        **TARGET,
        "vectors": [{"field": "vec", "feature": [1, 0, 0, 0]}],
        "filters": filters,
        "fields": ["title"],
    }
    hits = client.post("/document/search", json=body).json()["data"]["documents"][0]
    assert {hit["_id"] for hit in hits} == {"b", "c"}
    assert set(hits[0]) == {"_id", "_score", "title"}


def test_query_by_filter_in(client: httpx.Client) -> None:
    filters = {
        "operator": "AND",
        "conditions": [{"field": "tags", "operator": "IN", "value": ["y"]}],
    }
    body = {**TARGET, "filters": filters, "vector_value": True}
    documents = client.post("/document/query", json=body).json()["data"]["documents"]
    assert sorted(doc["_id"] for doc in documents) == ["b", "c"]
    assert documents[0]["vec"] == [0.0, 1.0, 0.0, 0.0]


def test_index_flush(client: httpx.Client) -> None:
    body = client.post("/index/flush", json=TARGET).json()
    assert body["data"]["_shards"]["failed"] == 0


def test_master_port_serves_master_routes_only(server: tuple[httpx.Client, str]) -> None:
    _, master_url = server
    with httpx.Client(base_url=master_url, auth=ROOT_AUTH) as master:
        assert master.get("/dbs").json()["code"] == 0
        assert master.post("/document/upsert", json={}).status_code == 404
        assert master.post("/document/search", json={}).status_code == 404
        # Vearch's master serves "/" without authentication.
        assert httpx.get(master_url + "/").json()["code"] == 0


def test_index_descriptions(client: httpx.Client) -> None:
    info = client.get("/dbs/shop/spaces/items/indexes").json()["data"]
    assert info["db_name"] == "shop"
    assert "vec" in [index.get("field_name") for index in info["indexes"]]


# Space updates, index administration, partitions and paging, each on a space of its own.

YEARS_FIELDS = [*SCHEMA["fields"], {"name": "label", "type": "string"}]
YEARS = [
    {
        "_id": str(i),
        "title": f"t{i}",
        "year": 2000 + i,
        "label": "odd" if i % 2 else "even",
        "vec": [float(i), 0, 0, 1],
    }
    for i in range(10)
]


@pytest.fixture
def years(client: httpx.Client, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A space of ten documents, ``_id`` "0".."9" with year 2000..2009, dropped afterwards."""
    name = request.node.name.removeprefix("test_")[:40]
    schema = {**SCHEMA, "name": name, "fields": YEARS_FIELDS}
    assert client.post("/dbs/shop/spaces", json=schema).json()["code"] == 0
    target = {"db_name": "shop", "space_name": name}
    assert client.post("/document/upsert", json={**target, "documents": YEARS}).json()["code"] == 0
    yield target
    client.delete(f"/dbs/shop/spaces/{name}")


def test_update_space_adds_field(client: httpx.Client, years: dict[str, str]) -> None:
    path = f"/dbs/shop/spaces/{years['space_name']}"
    fields = [*YEARS_FIELDS, {"name": "extra", "type": "integer"}]
    response = client.put(path, json={"fields": fields})
    assert response.json()["code"] == 0, response.text
    assert "extra" in response.json()["data"]["space_properties"]
    info = client.get(path).json()["data"]
    assert "extra" in [field["name"] for field in info["schema"]["fields"]]


def test_update_space_rejects_index_change(client: httpx.Client, years: dict[str, str]) -> None:
    path = f"/dbs/shop/spaces/{years['space_name']}"
    response = client.put(path, json={"indexes": [{"name": "x"}]})
    assert (response.status_code, response.json()["code"]) == (400, 6)


def test_add_and_remove_index(client: httpx.Client, years: dict[str, str]) -> None:
    path = f"/dbs/shop/spaces/{years['space_name']}/indexes"
    index = {"name": "label_bitmap", "type": "BITMAP", "field_name": "label"}
    added = client.post(path, json={"indexes": [index]})
    assert added.json()["code"] == 0, added.text
    names = [entry.get("name") for entry in client.get(path).json()["data"]["indexes"]]
    assert "label_bitmap" in names
    filters = {
        "operator": "AND",
        "conditions": [{"field": "label", "operator": "IN", "value": ["odd"]}],
    }
    query = {**years, "filters": filters}
    odd = client.post("/document/query", json=query).json()["data"]["documents"]
    assert sorted(doc["_id"] for doc in odd) == ["1", "3", "5", "7", "9"]

    removed = client.delete(f"{path}/label_bitmap")
    assert removed.json()["code"] == 0, removed.text
    names = [entry.get("name") for entry in client.get(path).json()["data"]["indexes"]]
    assert "label_bitmap" not in names


def test_index_info_detail(client: httpx.Client, years: dict[str, str]) -> None:
    path = f"/dbs/shop/spaces/{years['space_name']}/indexes?detail=true"
    info = client.get(path).json()["data"]
    assert set(info) == {"db_name", "space_name", "indexes", "build_state"}
    assert info["build_state"]["index_num"] == 10
    vector_index = next(entry for entry in info["indexes"] if entry.get("field_name") == "vec")
    assert vector_index["indexed_num"] == 10


def test_index_rebuild(client: httpx.Client, years: dict[str, str]) -> None:
    body = {**years, "drop_before_rebuild": True, "limit_cpu": 1}
    assert client.post("/index/rebuild", json=body).json()["data"]["_shards"]["failed"] == 0
    search = {**years, "vectors": [{"field": "vec", "feature": [3, 0, 0, 1]}], "limit": 1}
    hits = client.post("/document/search", json=search).json()["data"]["documents"][0]
    assert hits[0]["_id"] == "3"


def test_index_forcemerge(client: httpx.Client, years: dict[str, str]) -> None:
    client.post("/document/delete", json={**years, "document_ids": ["0", "1"]})
    # partition_id 0 means every partition, as in Vearch.
    merged = client.post("/index/forcemerge", json={**years, "partition_id": 0}).json()
    assert merged["data"]["_shards"]["failed"] == 0
    info = client.get(f"/dbs/shop/spaces/{years['space_name']}").json()["data"]
    assert info["doc_num"] == 8
    assert info["partitions"][0]["max_docid"] == 7

    unknown = client.post("/index/forcemerge", json={**years, "partition_id": 987654})
    assert (unknown.status_code, unknown.json()["code"]) == (400, 6)
    assert "987654" in unknown.json()["msg"]


def test_query_paging_and_sort(client: httpx.Client, years: dict[str, str]) -> None:
    filters = {"operator": "AND", "conditions": [{"field": "year", "operator": ">=", "value": 0}]}
    body = {**years, "filters": filters, "page_size": 3, "page_num": 2, "sort": [{"year": "desc"}]}
    documents = client.post("/document/query", json=body).json()["data"]["documents"]
    assert [doc["year"] for doc in documents] == [2006, 2005, 2004]


def test_query_by_partition(client: httpx.Client, years: dict[str, str]) -> None:
    entity = client.get(f"/cache/dbs/shop/spaces/{years['space_name']}").json()["data"]
    partition = entity["partitions"][0]
    assert set(partition) >= {"id", "name", "space_id", "db_id", "partition_slot", "replicas"}
    body = {**years, "document_ids": ["1", "missing"], "partition_id": partition["id"]}
    documents = client.post("/document/query", json=body).json()["data"]["documents"]
    assert documents[0]["_id"] == "1"
    assert (documents[1]["_id"], documents[1]["code"]) == ("missing", 404)


def test_search_unknown_partition_name(client: httpx.Client, years: dict[str, str]) -> None:
    body = {
        **years,
        "vectors": [{"field": "vec", "feature": [1, 0, 0, 1]}],
        "partition_names": ["nope"],
    }
    response = client.post("/document/search", json=body)
    assert (response.status_code, response.json()["code"]) == (400, 6)
    assert "nope" in response.json()["msg"]


def test_space_detail_partitions(client: httpx.Client, years: dict[str, str]) -> None:
    info = client.get(f"/dbs/shop/spaces/{years['space_name']}?detail=true").json()["data"]
    assert sum(entry["index_num"] for entry in info["partitions"]) == 10
    assert "raft_status" in info["partitions"][0]
    assert "errors" not in info


# Bad input: (method, path, body, HTTP status, Vearch code).
UNKNOWN = {"db_name": "shop", "space_name": "nothing"}
VECTOR = [{"field": "vec", "feature": [1, 0, 0, 0]}]
BAD_REQUESTS = [
    ("malformed json", "/document/upsert", b"{bad", 400, 1),
    ("body not an object", "/document/query", b"[1, 2]", 400, 1),
    ("empty body", "/document/search", b"", 400, 1),
    ("limit as string", "/document/query", {**TARGET, "limit": "5"}, 400, 1),
    ("limit as float", "/document/query", {**TARGET, "limit": 2.5}, 400, 1),
    ("numeric ids", "/document/query", {**TARGET, "document_ids": [1, 2]}, 400, 1),
    ("NaN vector", "/document/upsert", b'{"documents": [{"vec": [NaN, 0, 0, 0]}]}', 400, 1),
    (
        "number beyond float64",
        "/document/search",
        b'{"db_name": "shop", "space_name": "items", "vectors": '
        b'[{"field": "vec", "feature": [1, 0, 0, 0], "min_score": 1e309}]}',
        400,
        1,
    ),
    (
        "integer of 5000 digits",
        "/document/query",
        b'{"db_name": "shop", "space_name": "items", "limit": ' + b"9" * 5000 + b"}",
        400,
        1,
    ),
    (
        "lone surrogate in db_name",
        "/document/query",
        b'{"db_name": "\\ud800", "space_name": "items", "document_ids": ["a"]}',
        400,
        1,
    ),
    (
        "boolean in feature",
        "/document/search",
        {**TARGET, "vectors": [{"field": "vec", "feature": [True, 0, 0, 0]}]},
        400,
        6,
    ),
    (
        "nested feature",
        "/document/search",
        {**TARGET, "vectors": [{"field": "vec", "feature": [[1, 0, 0, 0]]}]},
        400,
        6,
    ),
    (
        "boolean in vector",
        "/document/upsert",
        {**TARGET, "documents": [{"_id": "z", "vec": [True, 0, 0, 0]}]},
        500,
        400,
    ),
    ("unknown space on upsert", "/document/upsert", {**UNKNOWN, "documents": [{}]}, 500, 6),
    ("unknown space on search", "/document/search", {**UNKNOWN, "vectors": VECTOR}, 500, 6),
    ("unknown db on query", "/document/query", {"db_name": "no", "space_name": "x"}, 500, 6),
    (
        "unknown field",
        "/document/upsert",
        {**TARGET, "documents": [{"_id": "z", "bad": 1}]},
        500,
        400,
    ),
    (
        "null value",
        "/document/upsert",
        {**TARGET, "documents": [{"_id": "z", "title": None}]},
        500,
        400,
    ),
    ("short vector", "/document/upsert", {**TARGET, "documents": [{"vec": [1, 2]}]}, 500, 400),
    (
        "huge vector value",
        "/document/upsert",
        {**TARGET, "documents": [{"vec": [1e300, 0, 0, 0]}]},
        500,
        400,
    ),
    (
        "indexed string too long",
        "/document/upsert",
        {**TARGET, "documents": [{"_id": "z", "title": "x" * 2000}]},
        500,
        400,
    ),
    (
        "unindexed string too long",
        "/document/upsert",
        {**TARGET, "documents": [{"_id": "z", "tags": ["x" * 70000]}]},
        500,
        400,
    ),
    ("query without target", "/document/query", TARGET, 400, 442),
    (
        "query with both",
        "/document/query",
        {
            **TARGET,
            "document_ids": ["a"],
            "filters": {
                "operator": "AND",
                "conditions": [{"field": "year", "operator": ">", "value": 1}],
            },
        },
        400,
        444,
    ),
    (
        "query 500 ids",
        "/document/query",
        {**TARGET, "document_ids": [str(i) for i in range(500)]},
        422,
        441,
    ),
    ("delete without target", "/document/delete", TARGET, 400, 425),
    (
        "delete with both",
        "/document/delete",
        {
            **TARGET,
            "document_ids": ["a"],
            "filters": {
                "operator": "AND",
                "conditions": [{"field": "year", "operator": ">", "value": 1}],
            },
        },
        400,
        423,
    ),
    (
        "delete 500 ids",
        "/document/delete",
        {**TARGET, "document_ids": [str(i) for i in range(500)]},
        400,
        424,
    ),
    ("search without vectors", "/document/search", TARGET, 500, 460),
    (
        "bad filter operator",
        "/document/query",
        {
            **TARGET,
            "filters": {
                "operator": "XOR",
                "conditions": [{"field": "year", "operator": ">", "value": 1}],
            },
        },
        400,
        300,
    ),
    (
        "bad condition operator",
        "/document/query",
        {
            **TARGET,
            "filters": {
                "operator": "AND",
                "conditions": [{"field": "year", "operator": "~", "value": 1}],
            },
        },
        400,
        301,
    ),
    (
        "range on string",
        "/document/query",
        {
            **TARGET,
            "filters": {
                "operator": "AND",
                "conditions": [{"field": "title", "operator": ">", "value": 1}],
            },
        },
        400,
        6,
    ),
    (
        "unknown return field",
        "/document/search",
        {**TARGET, "vectors": VECTOR, "fields": ["nope"]},
        400,
        6,
    ),
    ("bad space name", "/dbs/shop/spaces", {**SCHEMA, "name": "bad-name"}, 400, 6),
    (
        "space without vector index",
        "/dbs/shop/spaces",
        {"name": "plain", "replica_num": 1, "fields": [{"name": "t", "type": "string"}]},
        400,
        6,
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_request(client: httpx.Client, path: str, body: object, status: int, code: int) -> None:
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    else:
        response = client.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text
    assert response.json()["msg"]


def test_huge_limit_returns_every_document(client: httpx.Client) -> None:
    # The limit used to reach faiss, which allocates it per query and aborted the server.
    body = {**TARGET, "vectors": VECTOR, "limit": 2**31 - 1, "fields": ["title"]}
    response = client.post("/document/search", json=body)
    assert response.json()["code"] == 0, response.text
    hits = response.json()["data"]["documents"][0]
    assert [hit["_id"] for hit in hits][:1] == ["a"]
    assert len(hits) == client.get("/dbs/shop/spaces/items").json()["data"]["doc_num"]


@pytest.mark.slow
def test_drop_during_searches_gives_code_6(client: httpx.Client) -> None:
    # Searches that resolved the space before a drop must not end in HTTP 500, code 1.
    schema = {**SCHEMA, "name": "dropped"}
    target = {"db_name": "shop", "space_name": "dropped"}
    answers: list[tuple[int, int]] = []
    stop = threading.Event()

    def search() -> None:
        with httpx.Client(base_url=str(client.base_url), auth=ROOT_AUTH, timeout=30) as own:
            while not stop.is_set():
                response = own.post("/document/search", json={**target, "vectors": VECTOR})
                answers.append((response.status_code, response.json()["code"]))

    # Enough rows that each search holds the space a while, so drops land mid-search.
    rows = [{"_id": str(i), "vec": [i % 7, i % 5, i % 3, 1]} for i in range(20000)]
    threads = [threading.Thread(target=search) for _ in range(6)]
    for thread in threads:
        thread.start()
    for _ in range(4):
        assert client.post("/dbs/shop/spaces", json=schema).json()["code"] == 0
        client.post("/document/upsert", json={**target, "documents": rows})
        time.sleep(0.2)
        assert client.delete("/dbs/shop/spaces/dropped").json()["code"] == 0
    stop.set()
    for thread in threads:
        thread.join()
    assert answers
    assert set(answers) <= {(200, 0), (500, 6)}


def test_bad_database_name(client: httpx.Client) -> None:
    response = client.post("/dbs/_hidden")
    assert (response.status_code, response.json()["code"]) == (400, 6)


def test_timeout_must_be_integer(client: httpx.Client) -> None:
    response = client.get("/dbs?timeout=soon")
    assert (response.status_code, response.json()["code"]) == (400, 6)
    assert client.get("/dbs?timeout=5000").json()["code"] == 0


def test_unknown_route_is_404(client: httpx.Client) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["code"] == 1


def test_cluster_only_routes(client: httpx.Client) -> None:
    for method, path in [
        ("GET", "/members"),
        ("POST", "/schedule/recover_server"),
        ("POST", "/meta/remove_server"),
        ("POST", "/partitions/change_member"),
        ("POST", "/backup/dbs/shop"),
        ("GET", "/clean_lock"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 400, path
        assert response.json()["code"] == 702, path
        assert "Vearch cluster" in response.json()["msg"], path


def test_cluster_information(client: httpx.Client) -> None:
    stats = client.get("/cluster/stats").json()["data"]
    assert stats[0]["fs"]["total_in_bytes"] > 0
    health = client.get("/cluster/health?db=shop&detail=true").json()["data"]
    assert health[0]["db_name"] == "shop"
    assert health[0]["spaces"][0]["partitions"]
    servers = client.get("/servers").json()["data"]
    assert servers["count"] == 1
    assert client.get("/routers").json()["data"]
    partitions = client.get("/partitions").json()["data"]
    assert {entry["space_name"] for entry in partitions} == {"items"}


def test_config_is_stored(tmp_path: Path) -> None:
    url, stop = start_server(tmp_path / "db")
    try:
        with httpx.Client(base_url=url, auth=ROOT_AUTH) as client:
            client.post("/dbs/d")
            client.post("/dbs/d/spaces", json=SCHEMA)
            set_space = client.post("/config/d/items", json={"engine_cache_size": 1024})
            assert set_space.json()["data"]["engine_cache_size"] == 1024
            limits = {"request_limit_enabled": True, "read_request_limit_count": 5}
            client.post("/config/request_limit", json=limits)
            assert client.post("/config/trace", json={"trace": True}).json()["data"] == {
                "trace": True
            }
            missing = client.get("/config/d/nothing")
            assert (missing.status_code, missing.json()["code"]) == (404, 221)
    finally:
        stop()

    url, stop = start_server(tmp_path / "db")
    try:
        with httpx.Client(base_url=url, auth=ROOT_AUTH) as client:
            assert client.get("/config/d/items").json()["data"]["engine_cache_size"] == 1024
            stored = client.get("/config/request_limit").json()["data"]
            assert stored["read_request_limit_count"] == 5
            assert stored["write_request_limit_count"] == 0
    finally:
        stop()


def test_aliases(tmp_path: Path) -> None:
    url, stop = start_server(tmp_path / "db")
    try:
        with httpx.Client(base_url=url, auth=ROOT_AUTH) as client:
            client.post("/dbs/d")
            client.post("/dbs/d/spaces", json=SCHEMA)
            client.post("/dbs/d/spaces", json={**SCHEMA, "name": "other"})
            created = client.post("/alias/current/dbs/d/spaces/items").json()
            assert created["data"] == {"name": "current", "db_name": "d", "space_name": "items"}
            duplicate = client.post("/alias/current/dbs/d/spaces/items")
            assert (duplicate.status_code, duplicate.json()["code"]) == (422, 241)
            to_missing = client.post("/alias/later/dbs/d/spaces/nothing")
            assert (to_missing.status_code, to_missing.json()["code"]) == (404, 221)

            # Document calls accept the alias where they take a space name.
            via_alias = {"db_name": "d", "space_name": "current"}
            client.post("/document/upsert", json={**via_alias, "documents": DOCUMENTS[:1]})
            got = client.post("/document/query", json={**via_alias, "document_ids": ["a"]})
            assert got.json()["data"]["total"] == 1

            client.put("/alias/current/dbs/d/spaces/other")
            assert client.get("/alias/current").json()["data"]["space_name"] == "other"
            got = client.post("/document/query", json={**via_alias, "document_ids": ["a"]})
            assert got.json()["data"]["total"] == 0
            assert [alias["name"] for alias in client.get("/alias").json()["data"]] == ["current"]
    finally:
        stop()

    # Aliases survive a restart and then can be dropped.
    url, stop = start_server(tmp_path / "db")
    try:
        with httpx.Client(base_url=url, auth=ROOT_AUTH) as client:
            assert client.get("/alias/current").json()["data"]["space_name"] == "other"
            assert client.delete("/alias/current").json() == {"code": 0}
            missing = client.get("/alias/current")
            assert (missing.status_code, missing.json()["code"]) == (404, 240)
            update_missing = client.put("/alias/current/dbs/d/spaces/items")
            assert (update_missing.status_code, update_missing.json()["code"]) == (404, 240)
    finally:
        stop()


def test_engine_resolve_space_alias(tmp_path: Path) -> None:
    with Engine(tmp_path / "db") as engine:
        engine.create_database("d")
        engine.create_database("e")
        engine.create_space("d", SCHEMA)
        engine.create_alias("latest", "d", "items")
        assert engine.resolve_space("d", "latest").name == "items"
        assert engine.resolve_space("d", "items").name == "items"
        with pytest.raises(Exception, match="latest"):
            engine.resolve_space("e", "latest")


def test_serve_command_stops_on_ctrl_c(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "PYTHONPATH": str(repo / "src"), "QIAO_LOG_LEVEL": "INFO"}
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from qiao.cli.app import main; main()",
            "vectordb",
            "serve",
            "--data",
            str(tmp_path / "db"),
            "--port",
            str(port),
            "--lang",
            "en",
            "--home",
            str(tmp_path / "home"),
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(url)
        auth = ROOT_AUTH
        httpx.post(url + "/dbs/d", auth=auth)
        httpx.post(url + "/dbs/d/spaces", json=SCHEMA, auth=auth)
        httpx.post(
            url + "/document/upsert",
            json={**TARGET, "db_name": "d", "documents": DOCUMENTS},
            auth=auth,
        )
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopped" in output
    # Closing the engine took a snapshot, so no write-ahead log is left to replay.
    space_dir = tmp_path / "db" / "dbs" / "d" / "spaces" / "items"
    assert (space_dir / "manifest.json").is_file()
    with Engine(tmp_path / "db") as engine:
        assert engine.get_space("d", "items").doc_num == 3


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", auth=ROOT_AUTH)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"the server at {url} did not start")


def test_openapi_document_describes_bodies(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    upsert = document["paths"]["/document/upsert"]["post"]
    schema = upsert["requestBody"]["content"]["application/json"]["schema"]
    assert "documents" in schema["properties"]
    assert "/dbs/{db}/spaces" in document["paths"]
    assert json.dumps(document)


def test_closed_engine_gives_code_1(tmp_path: Path) -> None:
    url, stop = start_server(tmp_path / "db")
    try:
        stop.engine.close()  # type: ignore[attr-defined]
        response = httpx.get(url + "/dbs", auth=ROOT_AUTH)
        assert response.status_code == 500
        assert response.json()["code"] == 1
        assert "closed" in response.json()["msg"]
    finally:
        stop()


def test_timeout_gives_504_and_write_lands(client: httpx.Client) -> None:
    client.post("/dbs/shop/spaces", json={**SCHEMA, "name": "slow"})
    # The timeout also bounds the space lookup before the write, so it leaves
    # that lookup room even on a loaded machine but ends long before the write.
    documents = [{"title": f"t{i}", "year": i, "vec": [i, 0, 0, 1]} for i in range(20000)]
    body = {"db_name": "shop", "space_name": "slow", "documents": documents}
    response = client.post("/document/upsert?timeout=20", json=body)
    assert response.status_code == 504
    assert response.json()["code"] == 5
    assert response.json()["msg"].startswith("timeout")

    # The engine call was not cancelled, so the documents arrive.
    deadline = time.monotonic() + 60
    doc_num = 0
    while doc_num < 20000 and time.monotonic() < deadline:
        time.sleep(0.1)
        # The upsert holds the space while it runs, so this read waits for it.
        info = client.get("/dbs/shop/spaces/slow?timeout=60000").json()
        doc_num = info.get("data", {}).get("doc_num", 0)
    assert doc_num == 20000


def _search_request(query: bytes = b"") -> Request:
    return Request({"type": "http", "method": "POST", "query_string": query, "headers": []})


@pytest.mark.parametrize(
    ("body", "query", "quick"),
    [
        ({"vectors": [{"field": "vec", "feature": [1, 0, 0, 0]}]}, b"", True),
        ({"vectors": [{"field": "vec", "feature": [1, 0, 0, 0]}]}, b"timeout=50", False),
        (
            {"vectors": [{"field": "vec", "feature": [1, 0, 0, 0]}], "is_brute_search": 1},
            b"",
            False,
        ),
        ({"vectors": [{"field": "vec", "feature": [1, 0, 0, 0, 0, 1, 0, 0]}]}, b"", False),
        ({"vectors": [{"field": "title", "feature": [1, 0, 0, 0]}]}, b"", False),
        ({"vectors": "vec"}, b"", False),
    ],
)
def test_quick_search_selection(engine, body, query, quick):
    space = engine.create_space("db", SCHEMA)
    assert _is_quick_search(_search_request(query), space, body) is quick


def test_lock_if_free_reports_held_lock(engine):
    space = engine.create_space("db", SCHEMA)
    space.upsert(DOCUMENTS)
    writer_has_lock, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with space.lock_if_free() as free:
            assert free
            writer_has_lock.set()
            release.wait(5)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    writer_has_lock.wait(5)
    with space.lock_if_free() as free:
        assert not free
    release.set()
    holder.join()
    with space.lock_if_free() as free:
        assert free
