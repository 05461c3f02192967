"""Background training: thresholds, brute-force rules, saved indexes and crashes mid-training."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from vectordb_progress import wait_for_progress

from qiao.vectordb import Engine, ErrorCode, VectorDBError, indexer

DIMENSION = 8


# The writer process below draws the same table.
TABLE = np.random.default_rng(7).standard_normal((40_000, DIMENSION)).astype(np.float32)


def vectors_for(numbers) -> np.ndarray:
    return TABLE[list(numbers)]


def schema(name: str = "docs", **options: object) -> dict:
    params = {"metric_type": "L2", "ncentroids": 8, "nprobe": 8, "training_threshold": 256}
    return {
        "name": name,
        "refresh_interval": 20,
        "fields": [
            {"name": "n", "type": "integer"},
            {
                "name": "emb",
                "type": "vector",
                "dimension": DIMENSION,
                "index": {"name": "emb_idx", "type": "IVFFLAT", "params": params},
            },
        ],
        **options,
    }


def documents(numbers) -> list[dict]:
    numbers = list(numbers)
    return [
        {"_id": f"doc{n}", "n": n, "emb": vector}
        for n, vector in zip(numbers, vectors_for(numbers), strict=True)
    ]


def search(space, number: int = 3, **options):
    return space.search([{"field": "emb", "feature": vectors_for([number])[0]}], limit=3, **options)


def test_untrained_index_allows_100_documents_and_rejects_200(engine):
    space = engine.create_space("db", schema(training_threshold=1000))
    space.upsert(documents(range(100)))
    assert space.index_progress() == (0, 0)
    assert search(space)[0][0]["_id"] == "doc3"
    space.upsert(documents(range(100, 200)))
    with pytest.raises(VectorDBError) as caught:
        search(space)
    assert caught.value.code == ErrorCode.SEARCH_ENGINE_ERR == 461
    assert caught.value.msg.startswith("search_engine_err: docs index not trained")
    assert "max_docid_ = 200, threshold = 100" in caught.value.msg
    # Brute force on request (1) or while the index is not built (2) still works.
    assert search(space, is_brute_search=1)[0][0]["_id"] == "doc3"
    assert search(space, is_brute_search=2)[0][0]["_id"] == "doc3"
    with pytest.raises(VectorDBError) as invalid:
        search(space, is_brute_search=3)
    assert invalid.value.code == ErrorCode.PARAM_ERROR


def test_enable_realtime_searches_an_untrained_index(engine):
    space = engine.create_space("db", schema(enable_realtime=True))
    space.upsert(documents(range(200)))
    assert space.index_progress()[0] == 0
    assert search(space)[0][0]["_id"] == "doc3"


def test_training_starts_at_threshold_of_live_documents(engine):
    space = engine.create_space("db", schema())
    space.upsert(documents(range(300)))
    space.delete(document_ids=[f"doc{n}" for n in range(50)])
    time.sleep(0.2)  # ten refresh intervals: 250 live documents are not enough
    assert space.index_progress() == (0, 0)
    space.upsert(documents(range(300, 306)))
    wait_for_progress(space, (2, 306))
    assert space.describe()["partitions"][0]["index_status"] == 2
    assert search(space, 120)[0][0]["_id"] == "doc120"


def test_reopen_loads_the_trained_index(tmp_path, caplog):
    with Engine(tmp_path / "db") as engine:
        engine.create_database("db")
        space = engine.create_space("db", schema("reopened"))
        space.upsert(documents(range(400)))
        wait_for_progress(space, (2, 400))
        space.upsert(documents(range(400, 420)))
    saved = list((tmp_path / "db/dbs/db/spaces/reopened/segments").glob("index-*.faiss"))
    assert len(saved) == 1
    caplog.set_level(logging.INFO, logger="qiao.vectordb")
    with Engine(tmp_path / "db") as engine:
        space = engine.get_space("db", "reopened")
        status, rows = space.index_progress()
        assert status == 2
        assert rows >= 400
        wait_for_progress(space, (2, 420))
        assert search(space)[0][0]["_id"] == "doc3"
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("loaded the trained IVFFLAT index") for message in messages)
    # NOTE: in full-suite runs on a loaded machine, a training of this space on 400
    # vectors has been logged after the reopen; the cause is not found yet. The space
    # reports status 2 as soon as it opens, so searches never wait for that training.


def test_writes_do_not_wait_for_training(engine):
    big = schema(name="big")
    big["fields"][1]["index"]["params"].update(ncentroids=256, nprobe=16, training_threshold=20000)
    space = engine.create_space("db", big)
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((20000, DIMENSION)).astype(np.float32)
    space.upsert([{"_id": str(i), "emb": row} for i, row in enumerate(rows)])
    deadline = time.monotonic() + 10
    while space.index_progress()[0] != 1 and space.index_progress()[0] != 2:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    started = time.perf_counter()
    space.upsert([{"_id": "late", "emb": rows[0]}])
    assert time.perf_counter() - started < 0.5
    wait_for_progress(space, (2, 20001))


def test_close_during_training_is_safe(tmp_path, monkeypatch):
    monkeypatch.setattr(indexer, "STOP_TIMEOUT_SECONDS", 0.0)
    big = schema()
    big["fields"][1]["index"]["params"].update(ncentroids=256, nprobe=16, training_threshold=20000)
    rng = np.random.default_rng(4)
    rows = rng.standard_normal((20000, DIMENSION)).astype(np.float32)
    engine = Engine(tmp_path / "db")
    engine.create_database("db")
    space = engine.create_space("db", big)
    space.upsert([{"_id": str(i), "emb": row} for i, row in enumerate(rows)])
    deadline = time.monotonic() + 10
    while space.index_progress()[0] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    engine.close()
    with Engine(tmp_path / "db", read_only=True) as reader:
        reopened = reader.get_space("db", "docs")
        assert reopened.doc_num == 20000
        hits = reopened.search([{"field": "emb", "feature": rows[9]}], limit=1, is_brute_search=1)
        assert hits[0][0]["_id"] == "9"


WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from qiao.vectordb import Engine

    engine = Engine(sys.argv[1], snapshot_wal_bytes=200_000)
    engine.create_database("db")
    params = {"metric_type": "L2", "ncentroids": 8, "nprobe": 8, "training_threshold": 256}
    if sys.argv[2] == "slow":
        params = {"metric_type": "L2", "ncentroids": 256, "nprobe": 16,
                  "training_threshold": 20000}
    space = engine.create_space("db", {
        "name": "docs", "refresh_interval": 5,
        "fields": [
            {"name": "n", "type": "integer"},
            {"name": "emb", "type": "vector", "dimension": 8,
             "index": {"name": "emb_idx", "type": "IVFFLAT", "params": params}},
        ],
    })
    table = np.random.default_rng(7).standard_normal((40_000, 8)).astype(np.float32)

    def docs(numbers):
        return [{"_id": f"doc{n}", "n": n, "emb": table[n].tolist()} for n in numbers]

    if sys.argv[2] == "slow":
        for start in range(0, 20000, 2000):
            space.upsert(docs(range(start, start + 2000)))
            print("U", " ".join(f"doc{n}" for n in range(start, start + 2000)), flush=True)
        while space.index_progress()[0] != 1:
            time.sleep(0.0005)
        print("training", flush=True)
        time.sleep(60)
    batch = 0
    while True:
        numbers = range(batch * 32, batch * 32 + 32)
        ids = space.upsert(docs(numbers))
        print("U", " ".join(ids), flush=True)
        if batch % 5 == 4:
            doomed = [f"doc{n}" for n in numbers][:4]
            print("T", " ".join(doomed), flush=True)
            space.delete(document_ids=doomed)
            print("D", " ".join(doomed), flush=True)
        if batch % 7 == 6:
            space.rebuild_index()
        if batch % 11 == 10:
            space.forcemerge()
        print("progress", *space.index_progress(), flush=True)
        batch += 1
    """
)


def run_writer(tmp_path, mode: str, stop_after) -> tuple[set[str], set[str], set[str]]:
    """Run the writer, SIGKILL it when ``stop_after(line)`` is true; return its acknowledgements."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "db"), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    upserted: set[str] = set()
    tried: set[str] = set()
    deleted: set[str] = set()
    watchdog = threading.Timer(120, child.kill)
    watchdog.start()

    def record(line: str) -> None:
        kind, *ids = line.split()
        {"U": upserted, "T": tried, "D": deleted}.get(kind, set()).update(ids)

    try:
        while True:
            line = child.stdout.readline()
            assert line, "the writer exited early"
            record(line)
            if stop_after(line):
                break
    finally:
        child.send_signal(signal.SIGKILL)
        for line in child.stdout.read().splitlines():
            record(line)  # written before the kill, so acknowledged too
        child.wait()
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL
    return upserted, tried, deleted


def check_documents(space, upserted: set[str], tried: set[str], deleted: set[str]) -> None:
    kept = sorted(upserted - tried)
    found = {doc["_id"]: doc for doc in space.get(kept, vector_value=True)}
    assert sorted(found) == kept
    for doc_id in kept[:: max(1, len(kept) // 200)]:
        number = int(doc_id[3:])
        np.testing.assert_allclose(found[doc_id]["emb"], vectors_for([number])[0], rtol=1e-6)
    assert space.get(sorted(deleted)) == []


def test_sigkill_during_training_keeps_acknowledged_writes(tmp_path):
    upserted, tried, deleted = run_writer(tmp_path, "slow", lambda line: line == "training\n")
    assert len(upserted) == 20000
    with Engine(tmp_path / "db", read_only=True) as reader:
        space = reader.get_space("db", "docs")
        assert space.index_progress()[0] == 0  # the training never finished
        check_documents(space, upserted, tried, deleted)


def test_sigkill_during_writes_rebuilds_and_merges(tmp_path):
    batches = []

    def enough(line: str) -> bool:
        if line.startswith("progress"):
            batches.append(line.split())
        return len(batches) >= 40

    upserted, tried, deleted = run_writer(tmp_path, "fast", enough)
    assert any(entry[1] == "2" for entry in batches), "the index was never trained"
    with Engine(tmp_path / "db") as engine:
        space = engine.get_space("db", "docs")
        check_documents(space, upserted, tried, deleted)
        wait_for_progress(space, (2, space.describe()["partitions"][0]["max_docid"] + 1))
        hits = space.search([{"field": "emb", "feature": vectors_for([40])[0]}], limit=1)
        assert hits[0][0]["_id"] == "doc40"
