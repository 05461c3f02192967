"""Exception hierarchy of Qiao, documented in one place.

Every error raised on purpose by Qiao derives from :class:`QiaoError`, so a
caller can catch one type. The CLI prints ``str(error)`` and exits non-zero.

- ``QiaoError``: base class.
  - ``ConfigError``: an invalid setting or configuration file.
  - ``InvalidInputError``: a value given by the user is invalid (also a ``ValueError``).
  - ``NotFoundError``: a named knowledge base, space, document or file does not exist.
  - ``AlreadyExistsError``: the name is already taken.
  - ``StorageError``: stored data could not be read or written.
    - ``LockedError``: another process holds the write lock of a store.
  - ``MissingDependencyError``: an optional extra is not installed.
  - ``ModelError``: a model file or model backend failed (bad hash, load or call failure).
  - ``IngestError``: one file could not be read during ingestion; it is skipped.
- ``qiao.vectordb.VectorDBError`` (a ``QiaoError``) carries a Vearch error code.
"""

from __future__ import annotations

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
]


class QiaoError(Exception):
    """Base class of every error Qiao raises on purpose.

    ``key`` names a message in :mod:`qiao.i18n` so that the CLI can show the
    error in the user's language; ``params`` fill that message. The English
    ``message`` is always complete on its own.
    """

    def __init__(self, message: str, *, key: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


class ConfigError(QiaoError):
    """An invalid setting or configuration file."""


class InvalidInputError(QiaoError, ValueError):
    """A user-supplied value is invalid."""


class NotFoundError(QiaoError, KeyError):
    """A named object does not exist."""

    def __str__(self) -> str:
        # KeyError quotes its argument; show the message as written.
        return str(self.args[0]) if self.args else ""


class AlreadyExistsError(QiaoError):
    """The requested name is already taken."""


class StorageError(QiaoError):
    """Stored data could not be read or written."""


class LockedError(StorageError):
    """Another process holds the write lock of a store."""


class MissingDependencyError(QiaoError, ImportError):
    """An optional dependency is not installed."""


class ModelError(QiaoError):
    """A model file or model backend failed."""


class IngestError(QiaoError):
    """A file could not be read during ingestion."""
