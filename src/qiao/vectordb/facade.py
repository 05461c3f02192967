"""One API over the embedded engine and a served one: ``connect()`` and the protocols both meet.

``connect("/path/to/folder")`` opens an embedded :class:`~qiao.vectordb.Engine`;
``connect("http://127.0.0.1:9001", auth=("root", "secret"))`` returns a
:class:`~qiao.vectordb.client.RemoteEngine` for a Qiao or Vearch router. Both
have the methods of :class:`VectorDatabase`, and their spaces those of
:class:`VectorSpace`, with the same arguments, results and error codes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from qiao.errors import InvalidInputError
from qiao.vectordb.engine import Engine

__all__ = ["VectorDatabase", "VectorSpace", "connect"]


@runtime_checkable
class VectorSpace(Protocol):
    """The document API of a space, embedded (Space) or served (RemoteSpace)."""

    name: str
    db_name: str

    @property
    def doc_num(self) -> int: ...

    def upsert(
        self, documents: list[dict[str, Any]], partitions: list[int | str] | None = None
    ) -> list[str]: ...

    def delete(
        self,
        document_ids: list[str] | None = None,
        filters: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> list[str]: ...

    def get(
        self, ids: Sequence[str], fields: Sequence[str] | None = None, vector_value: bool = False
    ) -> list[dict[str, Any]]: ...

    def query(
        self,
        document_ids: Sequence[str] | None = None,
        filters: dict[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        limit: int = 50,
        vector_value: bool = False,
        *,
        partition_id: int | str | None = None,
        get_by_hash: bool = False,
        next: bool = False,  # noqa: A002 - the Vearch request field is named "next"
        partition_names: list[str] | None = None,
        sort: Any = None,
        page_size: int | None = None,
        page_num: int | None = None,
        offset: int | None = None,
    ) -> list[dict[str, Any]]: ...

    def search(
        self,
        vectors: list[dict[str, Any]],
        filters: dict[str, Any] | None = None,
        limit: int = 50,
        fields: Sequence[str] | None = None,
        index_params: dict[str, Any] | None = None,
        l2_sqrt: bool = False,
        vector_value: bool = False,
        *,
        is_brute_search: int = 0,
        ranker: dict[str, Any] | None = None,
        partition_names: list[str] | None = None,
        sort: Any = None,
        page_size: int | None = None,
        page_num: int | None = None,
        offset: int | None = None,
    ) -> list[list[dict[str, Any]]]: ...

    def flush(self) -> None: ...

    def describe(self, detail: bool = False) -> dict[str, Any]: ...

    def entity(self) -> dict[str, Any]: ...

    def indexes_info(self, detail: bool = False) -> dict[str, Any]: ...

    def index_progress(self) -> tuple[int, int]: ...

    def rebuild_index(
        self,
        drop_before_rebuild: bool = False,
        limit_cpu: int = 0,
        describe: int = 0,
        partition_id: int | None = None,
    ) -> None: ...

    def forcemerge(self, partition_id: int | None = None) -> None: ...


@runtime_checkable
class VectorDatabase(Protocol):
    """Databases, spaces, indexes and aliases, embedded (Engine) or served (RemoteEngine)."""

    def create_database(self, name: str) -> dict[str, Any]: ...

    def describe_database(self, name: str) -> dict[str, Any]: ...

    def list_databases(self) -> list[str]: ...

    def drop_database(self, name: str) -> None: ...

    def create_space(self, db: str, schema: dict[str, Any]) -> VectorSpace: ...

    def get_space(self, db: str, name: str) -> VectorSpace: ...

    def list_spaces(self, db: str) -> list[str]: ...

    def drop_space(self, db: str, name: str) -> None: ...

    def update_space(self, db: str, name: str, changes: dict[str, Any]) -> VectorSpace: ...

    def add_indexes(self, db: str, space: str, indexes: list[dict[str, Any]]) -> None: ...

    def remove_index(self, db: str, space: str, index_name: str) -> None: ...

    def create_alias(self, alias: str, db: str, space: str) -> Any: ...

    def update_alias(self, alias: str, db: str, space: str) -> Any: ...

    def get_alias(self, alias: str) -> dict[str, Any]: ...

    def list_aliases(self) -> list[dict[str, Any]]: ...

    def drop_alias(self, alias: str) -> Any: ...

    def resolve_space(self, db: str, name: str) -> VectorSpace: ...

    def close(self) -> None: ...

    def __enter__(self) -> VectorDatabase: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


def connect(
    target: str | os.PathLike[str],
    *,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
) -> VectorDatabase:
    """Open the vector database at ``target``: a server URL or a local folder.

    An ``http://`` or ``https://`` URL, such as ``http://127.0.0.1:9001``,
    returns a RemoteEngine that sends HTTP Basic ``auth`` ``(user, password)``
    and waits ``timeout`` seconds per request (30 s when None). Any other
    target is a folder, created if missing, opened as an embedded Engine,
    which ignores ``auth`` and ``timeout``. So moving code between embedded and
    served changes only ``target``.
    """
    if isinstance(target, str) and "://" in target:
        scheme = target.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise InvalidInputError(
                f"invalid vector database URL {target!r}: scheme {scheme!r} is not supported; "
                "use http:// or https://, or a folder path for an embedded database"
            )
        from qiao.vectordb.client import RemoteEngine
        from qiao.vectordb.client.transport import DEFAULT_TIMEOUT_S

        return RemoteEngine(
            target, auth=auth, timeout=DEFAULT_TIMEOUT_S if timeout is None else timeout
        )

    return Engine(Path(target))  # type: ignore[return-value]
