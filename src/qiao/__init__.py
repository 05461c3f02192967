"""Qiao (桥): cited answers from a general LLM and an enterprise's own documents."""

from __future__ import annotations

import logging

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

# A library never configures logging for its host application.
logging.getLogger(__name__).addHandler(logging.NullHandler())
