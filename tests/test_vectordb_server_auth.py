"""HTTP Basic authentication, users and roles of the Vearch-compatible server."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from vectordb_server import ROOT_AUTH, start_server

SCHEMA = {
    "name": "items",
    "replica_num": 1,
    "fields": [
        {"name": "title", "type": "string"},
        {
            "name": "vec",
            "type": "vector",
            "dimension": 2,
            "index": {"name": "vec", "type": "FLAT", "params": {"metric_type": "L2"}},
        },
    ],
}
TARGET = {"db_name": "d", "space_name": "items"}
UPSERT = {**TARGET, "documents": [{"_id": "a", "title": "t", "vec": [1, 0]}]}
QUERY = {**TARGET, "document_ids": ["a"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, stop = start_server(tmp_path_factory.mktemp("auth"))
    with httpx.Client(base_url=url, auth=ROOT_AUTH) as root:
        root.post("/dbs/d")
        root.post("/dbs/d/spaces", json=SCHEMA)
        root.post("/document/upsert", json=UPSERT)
    yield url
    stop()


@pytest.fixture
def root(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, auth=ROOT_AUTH) as client:
        yield client


def _as(server: str, user: str, password: str) -> httpx.Client:
    return httpx.Client(base_url=server, auth=(user, password))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "auth header is empty"),
        ("Bearer abc", "auth header type is invalid"),
        ("Basic !!!", "base64"),
        ("Basic " + base64.b64encode(b"rootsecret").decode(), "credentials is invalid"),
        ("Basic " + base64.b64encode(b"root:wrong").decode(), "password is invalid"),
        ("Basic " + base64.b64encode(b"nobody:x").decode(), "user nobody is invalid"),
    ],
    ids=["missing", "bearer", "bad base64", "no colon", "wrong password", "unknown user"],
)
def test_bad_credentials(server: str, header: str | None, message: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(server + "/dbs", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == 3
    assert message in response.json()["msg"]


def test_router_root_needs_auth(server: str) -> None:
    assert httpx.get(server + "/").status_code == 401


def test_slow_search_isolation_is_open(server: str) -> None:
    assert httpx.get(server + "/config/slow_search_isolation").json()["code"] == 0


def test_document_admin_role(server: str, root: httpx.Client) -> None:
    created = root.post(
        "/users", json={"name": "writer", "password": "pw1", "role_name": "defaultDocumentAdmin"}
    )
    assert created.json()["code"] == 0
    assert created.json()["data"]["role"]["name"] == "defaultDocumentAdmin"
    assert "password" not in created.json()["data"]
    with _as(server, "writer", "pw1") as writer:
        assert writer.post("/document/upsert", json=UPSERT).json()["code"] == 0
        assert writer.post("/document/query", json=QUERY).json()["data"]["total"] == 1
        # The role has no ResourceDB, so database routes are rejected.
        rejected = writer.get("/dbs")
        assert (rejected.status_code, rejected.json()["code"]) == (401, 3)
        assert "ResourceDB" in rejected.json()["msg"]
    assert _as(server, "writer", "wrong").post("/document/query", json=QUERY).status_code == 401


def test_read_only_role_cannot_write(server: str, root: httpx.Client) -> None:
    role = {"name": "reader", "privileges": {"ResourceDocument": "ReadOnly"}}
    assert root.post("/roles", json=role).json()["code"] == 0
    root.post("/users", json={"name": "viewer", "password": "pw", "role_name": "reader"})
    with _as(server, "viewer", "pw") as viewer:
        assert viewer.post("/document/query", json=QUERY).json()["code"] == 0
        search = {**TARGET, "vectors": [{"field": "vec", "feature": [1, 0]}]}
        assert viewer.post("/document/search", json=search).json()["code"] == 0
        # Vearch v3.5 lets this write through; Qiao rejects it.
        rejected = viewer.post("/document/upsert", json=UPSERT)
        assert (rejected.status_code, rejected.json()["code"]) == (401, 3)
        assert "WriteOnly" in rejected.json()["msg"]


def test_role_grant_and_revoke(server: str, root: httpx.Client) -> None:
    root.post("/roles", json={"name": "ops", "privileges": {"ResourceDB": "ReadOnly"}})
    root.post("/users", json={"name": "operator", "password": "pw", "role_name": "ops"})
    with _as(server, "operator", "pw") as operator:
        assert operator.get("/dbs").json()["code"] == 0
        assert operator.get("/cluster/health").status_code == 401

        granted = root.put(
            "/roles",
            json={
                "name": "ops",
                "operator": "Grant",
                "privileges": {"ResourceCluster": "WriteRead"},
            },
        )
        assert granted.json()["data"]["privileges"] == {
            "ResourceDB": "ReadOnly",
            "ResourceCluster": "WriteRead",
        }
        assert operator.get("/cluster/health").json()["code"] == 0

        root.put(
            "/roles",
            json={"name": "ops", "operator": "Revoke", "privileges": {"ResourceDB": "ReadOnly"}},
        )
        assert operator.get("/dbs").status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/users", {"name": "root", "password": "x", "role_name": "reader"}, 400, 6),
        ("POST", "/users", {"name": "1user", "password": "x", "role_name": "reader"}, 400, 6),
        ("POST", "/users", {"name": "u-1", "password": "x", "role_name": "reader"}, 400, 6),
        ("POST", "/users", {"name": "nopw", "password": "", "role_name": "reader"}, 400, 6),
        ("POST", "/users", {"name": "x", "password": "x", "role_name": "root"}, 400, 6),
        ("POST", "/users", {"name": "x", "password": "x", "role_name": "nothing"}, 404, 190),
        ("POST", "/users", {"name": 5, "password": "x"}, 400, 1),
        ("PUT", "/users", {"name": "ghost", "role_name": "reader"}, 404, 180),
        ("DELETE", "/users/ghost", None, 404, 180),
        ("DELETE", "/users/root", None, 400, 6),
        ("POST", "/roles", {"name": "bad", "privileges": {"ResourceNope": "ReadOnly"}}, 400, 6),
        ("POST", "/roles", {"name": "bad", "privileges": {"ResourceDB": "Everything"}}, 400, 6),
        ("POST", "/roles", {"name": "defaultSpaceAdmin", "privileges": {}}, 422, 191),
        ("PUT", "/roles", {"name": "ghost", "operator": "Grant", "privileges": {}}, 404, 190),
        ("PUT", "/roles", {"name": "reader", "operator": "Swap", "privileges": {}}, 400, 6),
        ("DELETE", "/roles/defaultSpaceAdmin", None, 400, 6),
        ("DELETE", "/roles/ghost", None, 404, 190),
    ],
)
def test_account_errors(
    root: httpx.Client, method: str, path: str, body: object, status: int, code: int
) -> None:
    root.post("/roles", json={"name": "reader", "privileges": {"ResourceDocument": "ReadOnly"}})
    response = root.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


def test_duplicate_user(root: httpx.Client) -> None:
    body = {"name": "twice", "password": "x", "role_name": "defaultSpaceAdmin"}
    root.post("/users", json=body)
    response = root.post("/users", json=body)
    assert (response.status_code, response.json()["code"]) == (422, 181)


def test_password_change_needs_old_password(server: str, root: httpx.Client) -> None:
    root.post("/users", json={"name": "pat", "password": "old", "role_name": "defaultSpaceAdmin"})
    wrong = root.put("/users", json={"name": "pat", "password": "new", "old_password": "nope"})
    assert (wrong.status_code, wrong.json()["code"]) == (400, 6)
    changed = root.put("/users", json={"name": "pat", "password": "new", "old_password": "old"})
    assert changed.json()["code"] == 0
    assert _as(server, "pat", "new").get("/dbs/d/spaces").json()["code"] == 0
    assert _as(server, "pat", "old").get("/dbs/d/spaces").status_code == 401


def test_builtin_roles_listed(root: httpx.Client) -> None:
    names = [role["name"] for role in root.get("/roles").json()["data"]]
    for name in (
        "root",
        "defaultClusterAdmin",
        "defaultSpaceAdmin",
        "defaultDocumentAdmin",
        "defaultReadDBSpaceEditDocument",
        "defaultReadSpaceEditDocument",
    ):
        assert name in names
    assert root.get("/cache/roles/defaultDocumentAdmin").json()["data"]["privileges"] == {
        "ResourceDocument": "WriteRead",
        "ResourceIndex": "WriteRead",
    }
    missing = root.get("/cache/users/ghost")
    assert (missing.status_code, missing.json()["code"]) == (500, 180)


def test_users_persist_hashed(tmp_path: Path) -> None:
    url, stop = start_server(tmp_path / "db", root_password="s3cret")
    try:
        assert httpx.get(url + "/dbs", auth=ROOT_AUTH).status_code == 401
        with httpx.Client(base_url=url, auth=("root", "s3cret")) as root:
            user = {"name": "kept", "password": "hunter22", "role_name": "defaultClusterAdmin"}
            assert root.post("/users", json=user).json()["code"] == 0
    finally:
        stop()
    stored = (tmp_path / "db" / "accounts.json").read_text()
    assert "hunter22" not in stored

    url, stop = start_server(tmp_path / "db")
    try:
        assert httpx.get(url + "/dbs", auth=("kept", "hunter22")).json()["code"] == 0
        users = httpx.get(url + "/users", auth=ROOT_AUTH).json()["data"]
        assert [user["name"] for user in users] == ["root", "kept"]
    finally:
        stop()


def test_skip_auth(tmp_path: Path) -> None:
    url, stop = start_server(tmp_path / "db", skip_auth=True)
    try:
        assert httpx.get(url + "/dbs").json()["code"] == 0
    finally:
        stop()
