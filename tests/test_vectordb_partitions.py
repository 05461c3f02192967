"""Partitions: murmur3 slot routing, RANGE rules, partition restrictions, describe, entity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import mmh3
import numpy as np
import pytest

from qiao.vectordb import Engine, ErrorCode, VectorDBError

DIMENSION = 4
MAX_UINT32 = 2**32 - 1
REPO = Path(__file__).resolve().parents[1]


def hash_schema(partition_num: int) -> dict:
    return {
        "name": "docs",
        "partition_num": partition_num,
        "fields": [
            {"name": "n", "type": "integer", "index": {"name": "n", "type": "SCALAR"}},
            {
                "name": "emb",
                "type": "vector",
                "dimension": DIMENSION,
                "index": {"name": "emb", "type": "FLAT", "params": {"metric_type": "L2"}},
            },
        ],
    }


RANGES = [
    {"name": "y2023", "value": "2024-01-01"},
    {"name": "y2024", "value": "2025-01-01"},
    {"name": "y2025", "value": "2026-01-01"},
]


def range_schema(partition_num: int = 2) -> dict:
    schema = hash_schema(partition_num)
    schema["fields"].append(
        {"name": "day", "type": "date", "index": {"name": "day", "type": "SCALAR"}}
    )
    schema["partition_rule"] = {"type": "RANGE", "field": "day", "ranges": RANGES}
    return schema


def documents(count: int, start: int = 0) -> list[dict]:
    rng = np.random.default_rng(start)
    return [
        {"_id": f"doc-{i}", "n": i, "emb": rng.standard_normal(DIMENSION).tolist()}
        for i in range(start, start + count)
    ]


def dated(count: int) -> list[dict]:
    """Documents spread over 2023, 2024 and 2025, in that order of thirds."""
    docs = documents(count)
    for i, doc in enumerate(docs):
        doc["day"] = f"{2023 + i * 3 // count}-06-{1 + i % 28:02d}T12:00:00Z"
    return docs


def expected_partition(entity: dict, doc_id: str) -> int:
    """Route like Vearch: the last partition whose slot is not above murmur3(_id, seed 0)."""
    slot = mmh3.hash(doc_id, 0, signed=False)
    chosen = entity["partitions"][0]["id"]
    for partition in entity["partitions"]:
        if partition["partition_slot"] <= slot:
            chosen = partition["id"]
    return chosen


def partition_counts(space) -> dict[int, int]:
    return {entry["pid"]: entry["doc_num"] for entry in space.describe()["partitions"]}


def test_partitions_get_vearch_ids_and_slots(engine):
    space = engine.create_space("db", hash_schema(3))
    entity = space.entity()
    width = MAX_UINT32 // 3
    assert [p["partition_slot"] for p in entity["partitions"]] == [0, width, 2 * width]
    assert len({p["id"] for p in entity["partitions"]}) == 3
    assert all(p["space_id"] == space.id for p in entity["partitions"])
    assert all(p["db_id"] == engine.describe_database("db")["id"] for p in entity["partitions"])
    assert entity["partition_num"] == 3
    second = engine.create_space("db", {**hash_schema(2), "name": "other"})
    assert min(p["id"] for p in second.entity()["partitions"]) > max(
        p["id"] for p in entity["partitions"]
    )


def test_upsert_routes_by_murmur3_slot(engine):
    space = engine.create_space("db", hash_schema(4))
    docs = documents(200)
    space.upsert(docs)
    entity = space.entity()
    expected: dict[int, int] = {}
    for doc in docs:
        pid = expected_partition(entity, doc["_id"])
        expected[pid] = expected.get(pid, 0) + 1
        found = space.query(document_ids=[doc["_id"]], partition_id=pid)
        assert found[0]["_id"] == doc["_id"]
        assert "code" not in found[0]
    counts = {p["id"]: expected.get(p["id"], 0) for p in entity["partitions"]}
    assert partition_counts(space) == counts
    assert len(expected) == 4


def test_partition_of_rows_survives_reopen(tmp_path):
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        space = engine.create_space("db", hash_schema(3))
        space.upsert(documents(60))
        space.flush()
        space.upsert(documents(30, start=60))
        before = partition_counts(space)
    with Engine(tmp_path / "db") as engine:
        assert partition_counts(engine.get_space("db", "docs")) == before


def test_upsert_partitions_routes_among_listed_ids(engine):
    space = engine.create_space("db", hash_schema(3))
    pids = [p["id"] for p in space.entity()["partitions"]]
    space.upsert(documents(30), partitions=[pids[1]])
    counts = partition_counts(space)
    assert counts[pids[1]] == 30
    assert counts[pids[0]] == counts[pids[2]] == 0
    with pytest.raises(VectorDBError) as error:
        space.upsert(documents(1), partitions=[max(pids) + 100])
    assert error.value.code == ErrorCode.PARTITION_NOT_EXIST


def test_range_rule_creates_named_partitions(engine):
    space = engine.create_space("db", range_schema(partition_num=2))
    partitions = space.describe()["partitions"]
    assert [p["name"] for p in partitions] == ["y2023", "y2023", "y2024", "y2024", "y2025", "y2025"]
    width = MAX_UINT32 // 6
    assert [p["partition_slot"] for p in space.entity()["partitions"]] == [
        i * width for i in range(6)
    ]
    assert space.describe()["partition_rule"]["ranges"] == RANGES


def test_range_rule_routes_by_date(engine):
    space = engine.create_space("db", range_schema(partition_num=2))
    docs = dated(90)
    space.upsert(docs)
    by_name: dict[str, int] = {}
    for entry in space.describe()["partitions"]:
        by_name[entry["name"]] = by_name.get(entry["name"], 0) + entry["doc_num"]
    assert by_name == {"y2023": 30, "y2024": 30, "y2025": 30}
    in_2024 = space.query(
        filters={"operator": "AND", "conditions": [{"field": "n", "operator": ">=", "value": 0}]},
        partition_names=["y2024"],
        limit=100,
    )
    assert sorted(doc["n"] for doc in in_2024) == list(range(30, 60))


def test_range_rule_rejects_document_outside_ranges(engine):
    space = engine.create_space("db", range_schema())
    late = {**documents(1)[0], "day": "2030-01-01"}
    with pytest.raises(VectorDBError) as error:
        space.upsert([late])
    assert error.value.code == ErrorCode.PARAM_ERROR
    assert "can't set partition" in error.value.msg
    with pytest.raises(VectorDBError) as error:
        space.upsert(documents(1))
    assert "partition rule field" in error.value.msg
    assert space.doc_num == 0


def test_search_restricted_to_partition_names(engine):
    space = engine.create_space("db", range_schema(partition_num=1))
    docs = dated(60)
    space.upsert(docs)
    query = np.asarray(docs[0]["emb"], dtype=np.float32)
    hits = space.search(
        [{"field": "emb", "feature": query.tolist()}], limit=60, partition_names=["y2025"]
    )[0]
    assert sorted(hit["n"] for hit in hits) == list(range(40, 60))
    with pytest.raises(VectorDBError) as error:
        space.search([{"field": "emb", "feature": query.tolist()}], partition_names=["nope"])
    assert error.value.code == ErrorCode.PARAM_ERROR


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ({"type": "HASH", "field": "day", "ranges": RANGES}, "RANGE"),
        ({"type": "RANGE", "field": "n", "ranges": RANGES}, "DATE"),
        ({"type": "RANGE", "field": "nope", "ranges": RANGES}, "not in space fields"),
        ({"type": "RANGE", "field": "day", "ranges": []}, "empty"),
        ({"type": "RANGE", "field": "day", "ranges": RANGES[::-1]}, "increasing"),
        ({"type": "RANGE", "field": "day", "ranges": RANGES[:1] * 2}, "same one"),
        ({"type": "RANGE", "field": "day", "ranges": [{"name": "a", "value": ""}]}, "empty"),
    ],
)
def test_range_rule_validation(engine, rule, fragment):
    schema = {**range_schema(), "partition_rule": rule}
    with pytest.raises(VectorDBError) as error:
        engine.create_space("db", schema)
    assert error.value.code == ErrorCode.PARAM_ERROR
    assert fragment in error.value.msg


def test_describe_lists_partitions_with_index_progress(engine):
    space = engine.create_space("db", hash_schema(2))
    space.upsert(documents(40))
    space.delete(document_ids=["doc-0", "doc-1"])
    info = space.describe()
    assert "errors" not in info
    assert info["doc_num"] == 38
    assert sum(p["doc_num"] for p in info["partitions"]) == 38
    assert sum(p["index_num"] for p in info["partitions"]) == 38
    for entry in info["partitions"]:
        assert entry["index_status"] == 2
        assert entry["color"] == "green"
        assert {"pid", "name", "max_docid", "ip", "node_id"} <= set(entry)
        assert "raft_status" not in entry
    assert max(p["max_docid"] for p in info["partitions"]) == 39
    assert all("raft_status" in p for p in space.describe(detail=True)["partitions"])


def test_drop_range_deletes_its_documents_durably(tmp_path):
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        space = engine.create_space("db", range_schema())
        space.upsert(dated(90))
        space = engine.update_space(
            "db", "docs", {"operator_type": "DROP", "partition_name": "y2024"}
        )
        assert space.doc_num == 60
        assert {p["name"] for p in space.describe()["partitions"]} == {"y2023", "y2025"}
        # The next range now takes 2024 dates, as in Vearch.
        space.upsert([{**documents(1, start=200)[0], "day": "2024-03-01"}])
        assert space.query(document_ids=["doc-200"], partition_names=["y2025"]) != []
        space.delete(document_ids=["doc-200"])
    with Engine(tmp_path / "db") as engine:
        space = engine.get_space("db", "docs")
        assert space.doc_num == 60
        assert space.query(document_ids=["doc-45"]) == []
        assert [r["name"] for r in space.describe()["partition_rule"]["ranges"]] == [
            "y2023",
            "y2025",
        ]


def test_add_range_accepts_later_dates(engine):
    space = engine.create_space("db", range_schema(partition_num=2))
    rule = {"type": "RANGE", "ranges": [{"name": "y2026", "value": "2027-01-01"}]}
    space = engine.update_space("db", "docs", {"operator_type": "ADD", "partition_rule": rule})
    names = [p["name"] for p in space.describe()["partitions"]]
    assert names.count("y2026") == 2
    width = MAX_UINT32 // 8
    assert [p["partition_slot"] for p in space.entity()["partitions"]] == [
        i * width for i in range(8)
    ]
    space.upsert([{**documents(1)[0], "day": "2026-05-01"}])
    assert space.query(document_ids=["doc-0"], partition_names=["y2026"])[0]["_id"] == "doc-0"
    with pytest.raises(VectorDBError) as error:
        engine.update_space("db", "docs", {"operator_type": "ADD", "partition_rule": rule})
    assert "same one" in error.value.msg


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"operator_type": "DROP", "partition_name": "nope"}, "not exist"),
        ({"operator_type": "DROP"}, "partition name is empty"),
        ({"operator_type": "ADD"}, "partition rule is empty"),
        ({"operator_type": "MOVE"}, "ADD or DROP"),
    ],
)
def test_range_update_errors(engine, changes, fragment):
    engine.create_space("db", range_schema())
    with pytest.raises(VectorDBError) as error:
        engine.update_space("db", "docs", changes)
    assert error.value.code == ErrorCode.PARAM_ERROR
    assert fragment in error.value.msg


def test_drop_last_range_is_rejected(engine):
    schema = {**range_schema(), "partition_rule": {**range_schema()["partition_rule"]}}
    schema["partition_rule"]["ranges"] = RANGES[:1]
    engine.create_space("db", schema)
    with pytest.raises(VectorDBError) as error:
        engine.update_space("db", "docs", {"operator_type": "DROP", "partition_name": "y2023"})
    assert "last range" in error.value.msg


def test_rows_of_dropped_partition_are_deleted_on_open(tmp_path):
    """A crash after space.json lost a partition but before the delete: open finishes it."""
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        space = engine.create_space("db", range_schema(partition_num=1))
        space.upsert(dated(30))
    space_file = tmp_path / "db" / "dbs" / "db" / "spaces" / "docs" / "space.json"
    meta = json.loads(space_file.read_text())
    meta["partitions"] = [p for p in meta["partitions"] if p["name"] != "y2023"]
    meta["schema"]["partition_rule"]["ranges"] = RANGES[1:]
    space_file.write_text(json.dumps(meta))
    with Engine(tmp_path / "db") as engine:
        assert engine.get_space("db", "docs").doc_num == 20
    with Engine(tmp_path / "db") as engine:
        assert engine.get_space("db", "docs").doc_num == 20


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    from qiao.vectordb import Engine

    sys.path.insert(0, sys.argv[2])
    from test_vectordb_partitions import dated, range_schema

    engine = Engine(sys.argv[1])
    engine.create_database("db")
    space = engine.create_space("db", range_schema(partition_num=2))
    space.upsert(dated(90))
    engine.update_space("db", "docs", {"operator_type": "DROP", "partition_name": "y2023"})
    print("dropped", flush=True)
    sys.stdin.readline()
    """
)


def test_drop_survives_sigkill(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "db"), str(REPO / "tests")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert child.stdout.readline().strip() == "dropped"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    with Engine(tmp_path / "db") as engine:
        space = engine.get_space("db", "docs")
        assert space.doc_num == 60
        assert "y2023" not in {p["name"] for p in space.describe()["partitions"]}
        assert space.query(document_ids=["doc-0", "doc-89"]) == [space.get(["doc-89"])[0]]


def test_range_values_accept_integer_seconds(engine):
    schema = range_schema(partition_num=1)
    schema["partition_rule"]["ranges"] = [
        {"name": "early", "value": "1000000"},
        {"name": "late", "value": "2000000"},
    ]
    space = engine.create_space("db", schema)
    space.upsert([{**documents(1)[0], "day": 1_500_000}, {**documents(2)[1], "day": 10}])
    assert [
        doc["_id"] for doc in space.query(document_ids=["doc-0", "doc-1"], partition_names=["late"])
    ] == ["doc-0"]


def test_partition_ids_stay_unique_after_reopen(tmp_path):
    with Engine(tmp_path) as engine:
        engine.create_database("db")
        engine.create_space("db", {**hash_schema(3), "name": "first"})
        expanded = engine.update_space("db", "first", {"partition_num": 5})
        first_ids = [p["id"] for p in expanded.entity()["partitions"]]
    with Engine(tmp_path) as engine:
        second = engine.create_space("db", {**hash_schema(4), "name": "second"})
        second_ids = [p["id"] for p in second.entity()["partitions"]]
    assert len(set(first_ids)) == 5
    assert len(set(second_ids)) == 4
    assert not set(first_ids) & set(second_ids)
