"""Durability: reopen, snapshots, write-ahead log repair, crashes and the writer lock."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from qiao.errors import LockedError, NotFoundError, StorageError
from qiao.vectordb import Engine

SCHEMA = {
    "name": "docs",
    "fields": [
        {"name": "n", "type": "integer", "index": {"name": "n", "type": "SCALAR"}},
        {"name": "tag", "type": "keyword"},
        {
            "name": "emb",
            "type": "vector",
            "dimension": 4,
            "index": {"type": "FLAT", "params": {"metric_type": "L2"}},
        },
    ],
}


def document(n: int) -> dict:
    rng = np.random.default_rng(n)
    return {"_id": f"doc{n}", "n": n, "tag": f"t{n % 3}", "emb": rng.standard_normal(4).tolist()}


def create(path: Path, schema: dict = SCHEMA, **options) -> tuple[Engine, object]:
    engine = Engine(path, **options)
    engine.create_database("db")
    return engine, engine.create_space("db", schema)


def space_dir(path: Path) -> Path:
    return path / "dbs" / "db" / "spaces" / "docs"


def wal_files(path: Path) -> list[Path]:
    return sorted(space_dir(path).glob("wal-*.log"))


def crash_copy(source: Path, target: Path) -> Path:
    """Copy an engine folder while its writer is open, as a crash would leave it."""
    shutil.copytree(source, target)
    return target


def assert_documents(space, numbers) -> None:
    stored = {doc["_id"]: doc for doc in space.get([f"doc{n}" for n in numbers], vector_value=True)}
    assert len(stored) == len(numbers)
    for n in numbers:
        expected = document(n)
        assert stored[f"doc{n}"]["n"] == n
        np.testing.assert_allclose(stored[f"doc{n}"]["emb"], expected["emb"], rtol=1e-6)


def test_reopen_after_close_keeps_documents(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(n) for n in range(20)])
    space.delete(document_ids=["doc3"])
    space.upsert([{"_id": "doc4", "n": 400}])
    engine.close()
    with Engine(tmp_path / "db") as reopened:
        space = reopened.get_space("db", "docs")
        assert space.doc_num == 19
        assert space.get(["doc3"]) == []
        assert space.get(["doc4"])[0]["n"] == 400
        assert_documents(space, [n for n in range(20) if n not in (3, 4)])


def test_reopen_replays_log_without_snapshot(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(n) for n in range(10)])
    space.delete(document_ids=["doc1"])
    copy = crash_copy(tmp_path / "db", tmp_path / "copy")
    engine.close()
    assert not (space_dir(copy) / "manifest.json").exists()
    with Engine(copy) as reopened:
        space = reopened.get_space("db", "docs")
        assert space.doc_num == 9
        assert_documents(space, [n for n in range(10) if n != 1])


def test_snapshot_then_log_replay(tmp_path):
    engine, space = create(tmp_path / "db", snapshot_wal_bytes=2000)
    for start in range(0, 60, 6):
        space.upsert([document(n) for n in range(start, start + 6)])
    space.delete(document_ids=["doc0", "doc59"])
    manifest = json.loads((space_dir(tmp_path / "db") / "manifest.json").read_text())
    assert manifest["generation"] >= 2
    copy = crash_copy(tmp_path / "db", tmp_path / "copy")
    engine.close()
    assert len(wal_files(copy)) == 1
    with Engine(copy) as reopened:
        space = reopened.get_space("db", "docs")
        assert space.doc_num == 58
        assert_documents(space, range(1, 59))


def test_snapshot_compacts_deleted_rows(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(n) for n in range(100)])
    space.delete(
        filters={"operator": "AND", "conditions": [{"field": "n", "operator": "<", "value": 60}]}
    )
    space.flush()
    assert space.describe()["partitions"][0]["max_docid"] == 39
    assert not list((space_dir(tmp_path / "db") / "segments").glob("tombstones-*"))
    engine.close()
    with Engine(tmp_path / "db") as reopened:
        space = reopened.get_space("db", "docs")
        assert space.doc_num == 40
        assert_documents(space, range(60, 100))
        hits = space.search([{"field": "emb", "feature": document(70)["emb"]}], limit=1)
        assert hits[0][0]["_id"] == "doc70"


def test_hnsw_index_is_loaded_from_snapshot(tmp_path):
    schema = json.loads(json.dumps(SCHEMA))
    schema["fields"][2]["index"] = {"type": "HNSW", "params": {"metric_type": "L2"}}
    engine, space = create(tmp_path / "db", schema)
    space.upsert([document(n) for n in range(300)])
    engine.close()
    saved = list((space_dir(tmp_path / "db") / "segments").glob("index-*.faiss"))
    assert len(saved) == 1
    with Engine(tmp_path / "db") as reopened:
        space = reopened.get_space("db", "docs")
        space.upsert([document(n) for n in range(300, 310)])
        hits = space.search([{"field": "emb", "feature": document(305)["emb"]}], limit=1)
        assert hits[0][0]["_id"] == "doc305"
        assert_documents(space, range(310))


def test_corrupt_saved_index_is_rebuilt(tmp_path):
    schema = json.loads(json.dumps(SCHEMA))
    schema["fields"][2]["index"] = {"type": "HNSW", "params": {"metric_type": "L2"}}
    engine, space = create(tmp_path / "db", schema)
    space.upsert([document(n) for n in range(50)])
    engine.close()
    saved = next((space_dir(tmp_path / "db") / "segments").glob("index-*.faiss"))
    saved.write_bytes(b"garbage")
    with Engine(tmp_path / "db") as reopened:
        space = reopened.get_space("db", "docs")
        hits = space.search([{"field": "emb", "feature": document(7)["emb"]}], limit=1)
        assert hits[0][0]["_id"] == "doc7"


def test_corrupt_segment_raises_storage_error(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(n) for n in range(5)])
    engine.close()
    scalars = next((space_dir(tmp_path / "db") / "segments").glob("seg-*/scalars.json"))
    scalars.write_text(scalars.read_text().replace("doc1", "docX"))
    with Engine(tmp_path / "db") as reopened, pytest.raises(StorageError, match="checksum"):
        reopened.get_space("db", "docs")


def test_torn_log_tail_is_truncated(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(n) for n in range(5)])
    space.upsert([document(n) for n in range(5, 10)])
    copy = crash_copy(tmp_path / "db", tmp_path / "copy")
    engine.close()
    log = wal_files(copy)[-1]
    valid_size = log.stat().st_size
    content = log.read_bytes()
    with open(log, "ab") as handle:
        handle.write(content[: len(content) // 3])  # the start of a record cut short
    with Engine(copy, read_only=True) as reader:
        assert reader.get_space("db", "docs").doc_num == 10
    assert log.stat().st_size > valid_size
    with Engine(copy) as reopened:
        space = reopened.get_space("db", "docs")
        assert space.doc_num == 10
        assert log.stat().st_size == valid_size
        space.upsert([document(10)])
    with Engine(copy) as again:
        assert_documents(again.get_space("db", "docs"), range(11))


def test_zero_filled_log_tail_is_truncated(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(n) for n in range(3)])
    copy = crash_copy(tmp_path / "db", tmp_path / "copy")
    engine.close()
    with open(wal_files(copy)[-1], "ab") as handle:
        handle.write(bytes(4096))
    with Engine(copy) as reopened:
        assert reopened.get_space("db", "docs").doc_num == 3


def test_log_corruption_before_last_record_raises(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(n) for n in range(3)])
    space.upsert([document(n) for n in range(3, 6)])
    copy = crash_copy(tmp_path / "db", tmp_path / "copy")
    engine.close()
    log = wal_files(copy)[-1]
    content = bytearray(log.read_bytes())
    content[20] ^= 0xFF  # inside the first record's payload
    log.write_bytes(bytes(content))
    with Engine(copy) as reopened, pytest.raises(StorageError, match="corrupt at byte 0"):
        reopened.get_space("db", "docs")


def test_read_only_engine_rejects_writes(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(0)])
    engine.close()
    before = sorted(p.name for p in space_dir(tmp_path / "db").rglob("*"))
    with Engine(tmp_path / "db", read_only=True) as reader:
        space = reader.get_space("db", "docs")
        assert space.doc_num == 1
        with pytest.raises(StorageError, match="read-only"):
            space.upsert([document(1)])
        with pytest.raises(StorageError, match="read-only"):
            reader.create_database("other")
    assert sorted(p.name for p in space_dir(tmp_path / "db").rglob("*")) == before
    with pytest.raises(NotFoundError):
        Engine(tmp_path / "missing", read_only=True)


def test_read_only_engine_opens_while_writer_holds_lock(tmp_path):
    engine, space = create(tmp_path / "db")
    space.upsert([document(0), document(1)])
    with Engine(tmp_path / "db", read_only=True) as reader:
        assert reader.get_space("db", "docs").doc_num == 2
    engine.close()


def test_second_writer_in_same_process_is_locked(tmp_path):
    engine, _ = create(tmp_path / "db")
    with pytest.raises(LockedError, match=f"process {os.getpid()}"):
        Engine(tmp_path / "db")
    engine.close()
    Engine(tmp_path / "db").close()


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from qiao.vectordb import Engine

    engine = Engine(sys.argv[1], snapshot_wal_bytes=20_000)
    if "db" not in engine.list_databases():
        engine.create_database("db")
        engine.create_space("db", {
            "name": "docs",
            "fields": [
                {"name": "n", "type": "integer"},
                {"name": "emb", "type": "vector", "dimension": 4,
                 "index": {"type": "FLAT", "params": {}}},
            ],
        })
    space = engine.get_space("db", "docs")
    print("ready", flush=True)
    batch = 0
    while True:
        numbers = range(batch * 16, batch * 16 + 16)
        documents = [
            {"_id": f"doc{n}", "n": n, "emb": np.random.default_rng(n).standard_normal(4).tolist()}
            for n in numbers
        ]
        ids = space.upsert(documents)
        print(" ".join(ids), flush=True)
        batch += 1
    """
)

LOCKED_PROBE = textwrap.dedent(
    """
    import sys
    from qiao.errors import LockedError
    from qiao.vectordb import Engine

    try:
        Engine(sys.argv[1])
    except LockedError as error:
        print("LockedError", error)
    else:
        print("opened")
    """
)


def test_crash_keeps_every_acknowledged_write(tmp_path):
    path = tmp_path / "db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    probe = tmp_path / "probe.py"
    probe.write_text(LOCKED_PROBE)

    child = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
    )
    acknowledged: list[str] = []
    watchdog = threading.Timer(120, child.kill)  # a hung writer fails the test, not the run
    watchdog.start()
    try:
        assert child.stdout.readline().strip() == "ready"

        # A second writer process is rejected while the first holds the lock.
        locked = subprocess.run(
            [sys.executable, str(probe), str(path)], capture_output=True, text=True, timeout=60
        )
        assert locked.stdout.startswith("LockedError"), locked.stdout + locked.stderr
        assert f"process {child.pid}" in locked.stdout

        # Forty batches of 16, several snapshots among them, then a kill mid-stream.
        while len(acknowledged) < 40 * 16:
            line = child.stdout.readline()
            assert line, "the writer exited early"
            acknowledged.extend(line.split())
    finally:
        child.send_signal(signal.SIGKILL)
        # Lines written before the kill were acknowledged too.
        acknowledged.extend(child.stdout.read().split())
        child.wait()
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL

    with Engine(path) as reopened:
        space = reopened.get_space("db", "docs")
        numbers = [int(doc_id[3:]) for doc_id in acknowledged]
        assert_documents(space, numbers)
        assert space.doc_num >= len(numbers)
