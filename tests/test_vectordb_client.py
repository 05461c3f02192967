"""The HTTP client of the vector database and connect(): API shape, errors, a real server."""

from __future__ import annotations

import http.server
import inspect
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from vectordb_server import ROOT_AUTH, start_server

from qiao.errors import InvalidInputError
from qiao.vectordb import (
    Engine,
    ErrorCode,
    Space,
    VectorDatabase,
    VectorDBError,
    VectorSpace,
    connect,
)
from qiao.vectordb.client import RemoteEngine, RemoteSpace
from qiao.vectordb.client.transport import error_from_envelope

SCHEMA = {
    "name": "items",
    "replica_num": 1,
    "fields": [
        {"name": "n", "type": "integer", "index": {"name": "n", "type": "INVERTED"}},
        {
            "name": "emb",
            "type": "vector",
            "dimension": 4,
            "index": {"name": "emb", "type": "FLAT", "params": {"metric_type": "L2"}},
        },
    ],
}


def protocol_methods(protocol: type) -> list[str]:
    """Return the methods and properties of a protocol; attributes are checked on instances."""
    context = [name for name in ("__enter__", "__exit__") if name in vars(protocol)]
    return sorted([name for name in dir(protocol) if not name.startswith("_")] + context)


def public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[0] != "_"}


# The API shape, without a server.


@pytest.mark.parametrize(("embedded", "remote"), [(Engine, RemoteEngine), (Space, RemoteSpace)])
def test_remote_signatures_match_embedded(embedded: type, remote: type):
    for name in sorted(public_methods(embedded) & public_methods(remote)):
        expected = inspect.signature(getattr(embedded, name)).parameters.values()
        actual = inspect.signature(getattr(remote, name)).parameters.values()
        expected_shape = [(p.name, p.kind, p.default) for p in expected]
        actual_shape = [(p.name, p.kind, p.default) for p in actual]
        assert actual_shape == expected_shape, (
            f"{remote.__name__}.{name} differs from {embedded.__name__}.{name}"
        )

    # Space.apply_meta is the engine's hook for space updates and Space.lock_if_free the
    # server's lock test; neither is part of the document API.
    missing_remote = public_methods(embedded) - public_methods(remote)
    assert missing_remote <= {"close", "apply_meta", "lock_if_free"}, (
        f"{remote.__name__} lacks {missing_remote}"
    )


@pytest.mark.parametrize(
    ("protocol", "embedded", "remote"),
    [(VectorDatabase, Engine, RemoteEngine), (VectorSpace, Space, RemoteSpace)],
)
def test_protocol_covers_both(protocol: type, embedded: type, remote: type):
    for name in protocol_methods(protocol):
        assert hasattr(remote, name), f"{remote.__name__} lacks {name}"
        assert hasattr(embedded, name), f"{embedded.__name__} lacks {name}"
        declared = getattr(protocol, name)
        if not inspect.isfunction(declared):
            continue
        expected = [
            (p.name, p.kind, p.default) for p in inspect.signature(declared).parameters.values()
        ]
        actual = inspect.signature(getattr(embedded, name)).parameters.values()
        assert [(p.name, p.kind, p.default) for p in actual] == expected, (
            f"{embedded.__name__}.{name} differs from {protocol.__name__}.{name}"
        )


def test_embedded_objects_meet_protocols(tmp_path: Path):
    with Engine(tmp_path / "db") as engine:
        engine.create_database("demo")
        space = engine.create_space("demo", SCHEMA)
        assert isinstance(engine, VectorDatabase)
        assert isinstance(space, VectorSpace)
        assert isinstance(engine.get_space("demo", "items"), VectorSpace)


def test_connect_path_opens_engine(tmp_path: Path):
    with connect(tmp_path / "db", auth=ROOT_AUTH, timeout=1) as database:
        assert isinstance(database, Engine)
        database.create_database("demo")
        assert database.list_databases() == ["demo"]
    with connect(str(tmp_path / "db")) as database:
        assert database.list_databases() == ["demo"]


def test_connect_url_returns_remote_engine():
    database = connect("HTTP://127.0.0.1:9/", auth=ROOT_AUTH)
    try:
        assert isinstance(database, RemoteEngine)
        assert isinstance(database, VectorDatabase)
        assert database.base_url == "HTTP://127.0.0.1:9"
    finally:
        database.close()


def test_connect_rejects_other_scheme():
    with pytest.raises(InvalidInputError, match="grpc"):
        connect("grpc://127.0.0.1:9001")


@pytest.mark.parametrize("code", list(ErrorCode)[1:], ids=lambda code: code.name)
def test_error_envelope_round_trip(code: ErrorCode):
    original = VectorDBError(code, "field 'x' is invalid: use y")
    rebuilt = error_from_envelope(original.code, original.msg)

    assert rebuilt.code == original.code
    assert rebuilt.msg == original.msg
    assert rebuilt.detail == original.detail
    assert error_from_envelope(int(code), code.name.lower()).detail == ""


def test_unknown_error_code_keeps_number():
    error = error_from_envelope(9999, "strange failure")
    assert error.code == ErrorCode.UNKNOWN_ERROR
    assert "9999" in error.msg
    assert "strange failure" in error.msg


# Transport failures, against real sockets on 127.0.0.1.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_names_url_and_fix():
    url = f"http://127.0.0.1:{free_port()}"
    with connect(url, timeout=2) as database, pytest.raises(VectorDBError) as caught:
        database.list_databases()
    assert caught.value.code == ErrorCode.SERVICE_UNAVAILABLE
    assert url in caught.value.msg
    assert "qiao vectordb serve" in caught.value.msg


def test_silent_server_times_out():
    # The kernel completes connections to a listening socket that never accepts or responds.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with connect(url, timeout=0.3) as database, pytest.raises(VectorDBError) as caught:
            database.list_databases()
    assert caught.value.code == ErrorCode.TIMEOUT
    assert url in caught.value.msg
    assert "timeout" in caught.value.msg


class _PlainTextHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        body = b"<html>not a vector database</html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def plain_http_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _PlainTextHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_response_without_envelope_is_reported(plain_http_server: str):
    with connect(plain_http_server) as database, pytest.raises(VectorDBError) as caught:
        database.list_databases()
    assert caught.value.code == ErrorCode.UNKNOWN_ERROR
    assert f"{plain_http_server}/dbs" in caught.value.msg
    assert "HTTP 404" in caught.value.msg
    assert "not a vector database" in caught.value.msg


# Against the real server.


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base_url, stop = start_server(tmp_path_factory.mktemp("server") / "db")
    try:
        yield base_url
    finally:
        stop()


@pytest.fixture
def served(server_url: str) -> Iterator[RemoteEngine]:
    with connect(server_url, auth=ROOT_AUTH) as database:
        yield database  # type: ignore[misc]
        for name in database.list_databases():
            for space in database.list_spaces(name):
                database.drop_space(name, space)
            database.drop_database(name)


def test_wrong_password_is_rejected(server_url: str):
    with connect(server_url, auth=("root", "wrong")) as database:
        with pytest.raises(VectorDBError) as caught:
            database.list_databases()
    assert caught.value.code == ErrorCode.AUTHENTICATION_FAILED


def test_served_workflow(served: RemoteEngine):
    assert served.create_database("demo")["name"] == "demo"
    space = served.create_space("demo", SCHEMA)
    assert isinstance(space, VectorSpace)
    assert space.name == "items"
    assert space.db_name == "demo"

    ids = space.upsert([{"_id": f"d{i}", "n": i, "emb": [float(i), 0, 0, 0]} for i in range(5)])
    assert ids == [f"d{i}" for i in range(5)]
    assert space.doc_num == 5

    hits = space.search([{"field": "emb", "feature": [2.2, 0, 0, 0]}], limit=2)
    assert [hit["_id"] for hit in hits[0]] == ["d2", "d3"]
    assert hits[0][0]["_score"] == pytest.approx(0.04, abs=1e-5)

    where = {"operator": "AND", "conditions": [{"field": "n", "operator": ">=", "value": 3}]}
    assert [doc["n"] for doc in space.query(filters=where)] == [3, 4]
    assert space.delete(filters=where, limit=1) == ["d3"]
    assert served.get_space("demo", "items").doc_num == 4
    space.flush()
    assert served.list_spaces("demo") == ["items"]


def test_served_space_information(served: RemoteEngine):
    served.create_database("demo")
    space = served.create_space("demo", SCHEMA)
    space.upsert([{"_id": "a", "n": 1, "emb": [1.0, 0, 0, 0]}])

    described = space.describe(detail=True)
    assert described["space_name"] == "items"
    assert described["doc_num"] == 1
    assert "errors" not in described
    entity = space.entity()
    assert entity["name"] == "items"
    assert entity["db_id"] == served.describe_database("demo")["id"]
    assert space.indexes_info()["space_name"] == "items"
    assert space.index_progress() == (2, 1)


def test_get_splits_many_ids(served: RemoteEngine):
    served.create_database("demo")
    space = served.create_space("demo", SCHEMA)
    space.upsert([{"_id": f"d{i}", "n": i, "emb": [float(i), 0, 0, 0]} for i in range(1200)])

    wanted = [f"d{i}" for i in range(1199, -1, -1)] + ["missing", "d7"]
    documents = space.get(wanted, fields=["n"])

    assert [doc["_id"] for doc in documents] == [i for i in wanted if i != "missing"]
    assert documents[0] == {"_id": "d1199", "n": 1199}
    assert space.get([]) == []


def test_threads_share_one_client(served: RemoteEngine):
    served.create_database("demo")
    space = served.create_space("demo", SCHEMA)
    space.upsert([{"_id": f"d{i}", "n": i, "emb": [float(i), 0, 0, 0]} for i in range(20)])
    failures: list[BaseException] = []

    def search_repeatedly(offset: int) -> None:
        try:
            for i in range(15):
                target = float((offset + i) % 20)
                hits = space.search([{"field": "emb", "feature": [target, 0, 0, 0]}], limit=1)
                assert hits[0][0]["_id"] == f"d{int(target)}"
        except BaseException as error:  # collected for the main thread
            failures.append(error)

    threads = [threading.Thread(target=search_repeatedly, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []


def test_server_error_keeps_code_and_message(served: RemoteEngine):
    with pytest.raises(VectorDBError) as caught:
        served.describe_database("absent")
    assert caught.value.code == ErrorCode.DB_NOT_EXIST
    assert caught.value.msg == "db_not_exist: database 'absent' does not exist"
