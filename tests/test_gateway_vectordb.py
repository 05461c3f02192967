"""Vearch's REST API on the port of ``qiao serve``, next to the OpenAI-compatible API.

Vearch routes keep Vearch's Basic auth and envelope. Gateway routes keep API
keys and OpenAI's error shape. The engine opens at start-up and closes at
shutdown.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_runner import run_qiao
from gateway_support import RunningGateway, load_clean_settings, running_gateway
from vearch.config import Config
from vearch.core.vearch import Vearch
from vearch.schema.field import Field
from vearch.schema.index import FlatIndex, ScalarIndex
from vearch.schema.space import SpaceSchema
from vearch.utils import DataType, MetricType, VectorInfo
from vectordb_server import ROOT_AUTH

from qiao import i18n
from qiao.cli.serve import print_addresses
from qiao.errors import LockedError
from qiao.gateway.keys import KeyStore
from qiao.vectordb import Engine
from qiao.vectordb.server import ServerSettings, VearchMount
from qiao.vectordb.server.config_store import CONFIG_FILE

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
DOCUMENTS = [
    {"_id": "a", "title": "alpha", "year": 2001, "vec": [1, 0, 0, 0]},
    {"_id": "b", "title": "beta", "year": 2002, "vec": [0, 1, 0, 0]},
    {"_id": "c", "title": "gamma", "year": 2003, "vec": [0, 0, 1, 0]},
]
TARGET = {"db_name": "shop", "space_name": "items"}
ENVELOPE_KEYS = {"code", "request_id", "msg", "data"}


class Served:
    """The module's gateway with API keys on, its Vearch folder and a gateway key."""

    def __init__(self, gateway: RunningGateway, folder: Path, key: str) -> None:
        self.gateway = gateway
        self.url = gateway.base_url
        self.folder = folder
        self.key = key


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("home")
    settings = load_clean_settings(home, **{"generator.kind": "extractive"})
    _, key = KeyStore(home).create("tests", [], [])
    mount = VearchMount(settings.vectordb_dir)
    with running_gateway(settings, auth=True, vectordb=mount) as gateway:
        yield Served(gateway, settings.vectordb_dir, key)


@pytest.fixture
def vearch(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, auth=ROOT_AUTH, timeout=30) as client:
        yield client


def test_vearch_documents_roundtrip(vearch: httpx.Client) -> None:
    assert vearch.post("/dbs/shop").json()["code"] == 0
    assert vearch.post("/dbs/shop/spaces", json=SCHEMA).json()["code"] == 0
    upserted = vearch.post("/document/upsert", json={**TARGET, "documents": DOCUMENTS}).json()
    assert upserted["code"] == 0
    assert upserted["data"]["total"] == 3

    search = {**TARGET, "vectors": [{"field": "vec", "feature": [0, 0.9, 0.1, 0]}], "limit": 2}
    hits = vearch.post("/document/search", json=search).json()["data"]["documents"][0]
    assert [hit["_id"] for hit in hits] == ["b", "c"]

    where = {"operator": "AND", "conditions": [{"field": "year", "operator": ">=", "value": 2002}]}
    rows = vearch.post("/document/query", json={**TARGET, "filters": where}).json()["data"]
    assert sorted(row["_id"] for row in rows["documents"]) == ["b", "c"]

    listed = vearch.get("/dbs").json()
    assert [db["name"] for db in listed["data"]] == ["shop"]


def test_vearch_route_without_auth(served: Served) -> None:
    response = httpx.get(served.url + "/dbs")
    body = response.json()
    assert response.status_code == 401
    assert body["code"] == 3
    assert body["msg"] == "auth header is empty"
    assert set(body) <= ENVELOPE_KEYS


def test_vearch_route_rejects_gateway_key(served: Served) -> None:
    response = httpx.get(served.url + "/dbs", headers={"Authorization": f"Bearer {served.key}"})
    assert response.status_code == 401
    assert response.json()["msg"] == "auth header type is invalid"


def test_gateway_route_keeps_api_keys(served: Served) -> None:
    anonymous = httpx.get(served.url + "/v1/models")
    as_root = httpx.get(served.url + "/v1/models", auth=ROOT_AUTH)
    signed = httpx.get(served.url + "/v1/models", headers={"Authorization": f"Bearer {served.key}"})

    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "authentication_error"
    assert as_root.status_code == 401
    assert signed.status_code == 200
    assert signed.json()["object"] == "list"


def test_vearch_errors_keep_envelope(vearch: httpx.Client) -> None:
    missing = vearch.get("/dbs/nothing", headers={"X-Request-Id": "req-9"})
    malformed = vearch.post("/document/upsert", content=b'{"db_name": ')
    wrong_method = vearch.patch("/dbs")

    assert missing.status_code == 404
    assert missing.json()["code"] == 200
    assert missing.json()["msg"].startswith("db_not_exist")
    assert missing.json()["request_id"] == "req-9"
    assert malformed.status_code == 400
    assert malformed.json()["code"] == 1
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"code": 1, "msg": "405 method not allowed"}


@pytest.mark.parametrize(
    ("method", "path", "status", "kind"),
    [
        ("GET", "/v1/models/nothing", 404, "invalid_request_error"),
        ("POST", "/v1/models", 405, "invalid_request_error"),
        ("GET", "/v1/nothing", 404, "not_found_error"),
        ("GET", "/nothing", 404, "not_found_error"),
    ],
)
def test_gateway_errors_keep_openai_shape(
    served: Served, method: str, path: str, status: int, kind: str
) -> None:
    headers = {"Authorization": f"Bearer {served.key}"}
    response = httpx.request(method, served.url + path, headers=headers)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["type"] == kind


def test_openapi_documents_are_separate(served: Served) -> None:
    gateway_paths = httpx.get(served.url + "/openapi.json").json()["paths"]
    vearch_paths = httpx.get(served.url + "/vectordb/openapi.json").json()["paths"]
    swagger = httpx.get(served.url + "/vectordb/docs")

    assert "/v1/chat/completions" in gateway_paths
    assert "/document/search" in vearch_paths
    # The gateway's routes match first, so a path in both would hide the Vearch route.
    assert set(gateway_paths) & set(vearch_paths) == set()
    assert swagger.status_code == 200
    assert "/vectordb/openapi.json" in swagger.text
    assert httpx.get(served.url + "/health").json()["status"] == "ok"


def test_pyvearch_sdk(served: Served) -> None:
    client = Vearch(Config(host=served.url, token="secret"))
    assert client.create_database("sdk").is_success()
    fields = [
        Field("title", DataType.STRING, index=ScalarIndex("title_idx")),
        Field("vec", DataType.VECTOR, FlatIndex("vec_idx", MetricType.L2), dimension=4),
    ]
    created = client.create_space("sdk", SpaceSchema("docs", fields, replica_num=1))
    assert created.is_success(), created.msg

    rows = [{"title": f"doc{i}", "vec": [float(i == j) for j in range(4)]} for i in range(4)]
    ids = client.upsert("sdk", "docs", rows).get_document_ids()
    found = client.search("sdk", "docs", [VectorInfo("vec", rows[2]["vec"])], limit=1)

    assert found.is_success(), found.msg
    assert found.documents[0][0]["_id"] == ids[2]


def test_second_writer_gets_lock_error(served: Served) -> None:
    with pytest.raises(LockedError, match=f"locked by process {os.getpid()}"):
        VearchMount(served.folder).open()


def test_lifespan_opens_and_closes_engine(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="qiao")
    folder = tmp_path / "vdb"
    # A folder where the configuration file should be makes /config writes fail with an OSError.
    (folder / CONFIG_FILE).mkdir(parents=True)
    settings = load_clean_settings(tmp_path / "home", **{"generator.kind": "extractive"})
    mount = VearchMount(folder)

    with running_gateway(settings, vectordb=mount) as gateway:
        assert mount.engine is not None
        created = httpx.post(gateway.base_url + "/dbs/kept", auth=ROOT_AUTH)
        failed = httpx.post(
            gateway.base_url + "/config/request_limit",
            json={"request_limit_enabled": True},
            auth=ROOT_AUTH,
        )
    assert mount.engine is None

    assert created.json()["code"] == 0
    assert failed.status_code == 500
    assert failed.json()["code"] == 1
    assert "IsADirectoryError" in failed.json()["msg"]
    unexpected = [record.name for record in caplog.records if "unexpectedly" in record.message]
    assert unexpected == ["qiao.vectordb.server.app"]
    messages = [record.getMessage() for record in caplog.records]
    assert f"serving vector database {folder} with Vearch's REST API" in messages
    assert f"closed vector database {folder}" in messages
    # Closing released the lock and kept the database.
    with Engine(folder) as engine:
        assert engine.list_databases() == ["kept"]


@pytest.mark.parametrize(
    ("host", "password", "warned"),
    [
        ("0.0.0.0", "secret", True),
        ("127.0.0.1", "secret", False),
        ("0.0.0.0", "long-random-password", False),
    ],
)
def test_default_password_warning(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    password: str,
    warned: bool,
) -> None:
    settings = load_clean_settings(tmp_path, **{"gateway.host": host})
    mount = VearchMount(tmp_path / "vdb", ServerSettings(root_password=password))
    # The language is process-wide state, so monkeypatch restores it after the test.
    monkeypatch.setattr(i18n, "_current", "en")

    print_addresses(settings, [], True, mount)

    output = capsys.readouterr()
    assert f"Vearch REST API of vector database {tmp_path / 'vdb'}" in " ".join(output.out.split())
    assert ("default password 'secret'" in " ".join(output.err.split())) == warned


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_reports_locked_folder(tmp_path: Path) -> None:
    folder = tmp_path / "vdb"
    port = _free_port()
    with Engine(folder):
        result = run_qiao(
            "serve", "--port", port, "--vectordb-data", folder, "--home", tmp_path, "--lang", "en"
        )

    message = " ".join(result.stderr.split())
    assert result.exit_code == 1
    assert f"The vector database {folder} is locked by another process ({os.getpid()})" in message
    assert "another qiao serve" in message
    assert "--no-vectordb" in message
    # The port was released.
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_serve_without_vectordb(tmp_path: Path) -> None:
    """``qiao serve --no-vectordb`` leaves a locked folder alone and returns 404 on Vearch paths."""
    port = _free_port()
    folder = tmp_path / "vdb"
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("QIAO_")},
        "QIAO_HOME": str(tmp_path),
        "QIAO_GENERATOR": "extractive",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
    }
    command = "import sys; from qiao.cli.app import main; sys.argv[0] = 'qiao'; main()"
    arguments = ["serve", "--port", str(port), "--no-vectordb", "--vectordb-data", str(folder)]
    url = f"http://127.0.0.1:{port}"
    with Engine(folder):
        server = subprocess.Popen(
            [sys.executable, "-c", command, *arguments, "--no-preload", "--lang", "en"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, server.communicate()[1]
                try:
                    httpx.get(url + "/health", timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "qiao serve did not start"
                    time.sleep(0.2)
            vearch = httpx.get(url + "/dbs", auth=ROOT_AUTH)
        finally:
            server.send_signal(signal.SIGINT)
            stdout, stderr = server.communicate(timeout=30)

    assert vearch.status_code == 404
    assert vearch.json()["error"]["type"] == "not_found_error"
    assert server.returncode == 0, stderr
    assert "Vearch REST API" not in stdout
