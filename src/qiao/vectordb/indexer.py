"""Background indexing of a space: training IVF indexes and adding the rows written since.

Each space with an index that needs training (IVFFLAT, IVFPQ) gets one
daemon thread. It wakes every ``refresh_interval`` milliseconds (default
1000, as in Vearch) and after each write. An index stays UNINDEXED until
the space holds ``training_threshold`` live documents (``max_docid -
deleted`` in Vearch's words); then the thread trains it.

Writes never wait for a training: the thread takes the space lock only to
note which rows to train on, trains and adds those rows to a private faiss
index without the lock, and takes the lock again to swap the index in and
add the rows written meanwhile, at most ``CATCH_UP_ROWS`` per turn. The
rows are immutable and the vector buffer keeps old rows valid when it
grows, so reading them without the lock is safe. A snapshot follows each
swap, so a reopened space loads the trained index instead of training again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import faiss
import numpy as np

from qiao.errors import StorageError
from qiao.vectordb.index import VectorIndex
from qiao.vectordb.index.base import INDEXED
from qiao.vectordb.index.trained import TrainedIndex

if TYPE_CHECKING:
    from qiao.vectordb.space import Space

__all__ = [
    "CATCH_UP_ROWS",
    "DEFAULT_REFRESH_INTERVAL_MS",
    "SpaceIndexer",
    "index_progress",
    "start_indexer",
]

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_INTERVAL_MS = 1000
# Rows added to a trained index per turn while holding the space lock.
CATCH_UP_ROWS = 20_000
# How long closing a space waits for a training in progress before leaving it behind.
STOP_TIMEOUT_SECONDS = 10.0


def index_progress(indexes: dict[str, VectorIndex]) -> tuple[int, int]:
    """Return ``(index_status, rows)``: the lowest status and indexed prefix over the fields."""
    if not indexes:
        return INDEXED, 0
    status = min(index.index_status for index in indexes.values())
    rows = min(index.indexed_count for index in indexes.values())
    return status, rows


@dataclass
class _TrainingJob:
    """Input of one training: the rows ``[0, covered)`` and a mask of the live ones."""

    field: str
    index: TrainedIndex
    vectors: np.ndarray
    live: np.ndarray
    threads: int


class SpaceIndexer:
    """The background thread that trains and fills the trained indexes of one space."""

    def __init__(self, space: Space, interval_ms: int) -> None:
        self._space = space
        self._interval = interval_ms / 1000
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._failed_at: dict[int, int] = {}
        #: OpenMP threads of the next training, from ``rebuild_index(limit_cpu=...)``.
        #: 0 leaves faiss's default.
        self.limit_cpu = 0
        self._thread = threading.Thread(
            target=self._run, name=f"qiao-indexer-{space.db_name}/{space.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        logger.info(
            "indexer of %s/%s started, refresh every %.3f s",
            self._space.db_name,
            self._space.name,
            self._interval,
        )

    def wake(self) -> None:
        """Run a turn soon, after a write or a rebuild request."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread; wait up to STOP_TIMEOUT_SECONDS for a training in progress."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():
                logger.warning(
                    "indexer of %s/%s is still training; its result will be discarded",
                    self._space.db_name,
                    self._space.name,
                )
        logger.info("indexer of %s/%s stopped", self._space.db_name, self._space.name)

    def _run(self) -> None:
        more = True
        while not self._stopping.is_set():
            if not more:
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._stopping.is_set():
                    break
            try:
                more = self._turn()
            except Exception:  # noqa: BLE001 - the thread must survive to index later writes
                logger.exception(
                    "indexing %s/%s failed; retrying later", self._space.db_name, self._space.name
                )
                more = False

    def _turn(self) -> bool:
        """Catch up trained indexes and start at most one training; True when work remains."""
        space = self._space
        job = None
        more = False
        added = 0
        stale: list[TrainedIndex] = []
        with space._lock:
            if space._closed:
                return False
            live_count = space._store.live_count
            for name, index in space._indexes.items():
                if not isinstance(index, TrainedIndex):
                    continue
                if index.trained:
                    added += index.catch_up(CATCH_UP_ROWS)
                    more = more or index.indexed_count < index.ntotal
                    if index.relayout_due:
                        stale.append(index)
                if job is None and not index.training and self._wants_training(index, live_count):
                    job = self._prepare(name, index)
        if job is not None:
            self._train(job)
            return True
        if not more and not added:
            # No rows arrived since the last turn: a good moment to lay the lists out afresh.
            for index in stale:
                self._relayout(index)
        return more

    def _relayout(self, index: TrainedIndex) -> None:
        """Copy the lists of ``index`` without the lock and swap the copy in with it."""
        started = time.perf_counter()
        copied = index.compact_lists()
        if copied is None:
            return
        with self._space._lock:
            if self._space._closed or not index.install_lists(*copied):
                return
        logger.info(
            "laid out the %s lists of %s/%s afresh (%d rows) in %.2f s",
            index.type_name,
            self._space.db_name,
            self._space.name,
            index.indexed_count,
            time.perf_counter() - started,
        )

    def _wants_training(self, index: TrainedIndex, live_count: int) -> bool:
        if live_count < index.training_threshold:
            return False
        if not index.trained or index.rebuild_requested:
            # After a failure, wait for more documents before trying again.
            return live_count > self._failed_at.get(id(index), -1)
        return False

    def _prepare(self, name: str, index: TrainedIndex) -> _TrainingJob:
        covered = index.ntotal
        index.training = True
        live = self._space._store.live_mask()[:covered].copy()
        threads, self.limit_cpu = self.limit_cpu, 0
        return _TrainingJob(name, index, index.vectors_view()[:covered], live, threads)

    def _train(self, job: _TrainingJob) -> None:
        """Train and fill a faiss index without the space lock, then swap it in."""
        space = self._space
        started = time.perf_counter()
        index = job.index
        previous_threads = faiss.omp_get_max_threads()
        if job.threads > 0:
            faiss.omp_set_num_threads(job.threads)
        try:
            sample = job.vectors[_sample_rows(job.live, index.training_cap())]
            logger.info(
                "training the %s index of %s/%s field %r on %d vectors",
                index.type_name,
                space.db_name,
                space.name,
                job.field,
                len(sample),
            )
            trained = index.train_faiss_index(sample)
            for start in range(0, len(job.vectors), CATCH_UP_ROWS):
                trained.add(np.ascontiguousarray(job.vectors[start : start + CATCH_UP_ROWS]))
        except (RuntimeError, ValueError, MemoryError) as error:
            with space._lock:
                index.training = False
                self._failed_at[id(index)] = space._store.live_count
            logger.error(
                "training the %s index of field %r failed: %s", index.type_name, job.field, error
            )
            return
        finally:
            faiss.omp_set_num_threads(previous_threads)

        with space._lock:
            index.training = False
            if space._closed:
                return
            current = space._indexes.get(job.field)
            if current is index:
                index.install(trained)
            elif isinstance(current, type(index)) and not current.trained:
                # A compaction renumbered the rows; keep the training, add the rows again.
                trained.reset()
                current.install(trained)
            else:
                return
            logger.info(
                "trained the %s index of %s/%s field %r in %.2f s",
                index.type_name,
                space.db_name,
                space.name,
                job.field,
                time.perf_counter() - started,
            )
            try:
                space._snapshot()
            except (StorageError, OSError) as error:
                logger.error("could not save the trained index of %r: %s", job.field, error)


def _sample_rows(live: np.ndarray, cap: int) -> np.ndarray:
    """Return the live rows, or ``cap`` of them drawn at random (fixed seed) in row order."""
    rows = np.flatnonzero(live)
    if len(rows) <= cap:
        return rows
    return np.sort(np.random.default_rng(0).choice(rows, cap, replace=False))


def start_indexer(space: Space) -> SpaceIndexer | None:
    """Start the indexer of ``space`` if one of its indexes needs training; else return None."""
    if not any(isinstance(index, TrainedIndex) for index in space._indexes.values()):
        return None
    interval = space.schema.options.get("refresh_interval", DEFAULT_REFRESH_INTERVAL_MS)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        interval = DEFAULT_REFRESH_INTERVAL_MS
    indexer = SpaceIndexer(space, interval)
    indexer.start()
    return indexer
