"""A vector database server, with the methods of the embedded :class:`~qiao.vectordb.Engine`."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from qiao.vectordb.client.space import RemoteSpace
from qiao.vectordb.client.transport import DEFAULT_TIMEOUT_S, Transport, path_segment
from qiao.vectordb.errors import ErrorCode, VectorDBError

__all__ = ["RemoteEngine"]

logger = logging.getLogger(__name__)


class RemoteEngine:
    """A Vearch-compatible server at ``base_url``, such as ``http://127.0.0.1:9001``.

    Methods take the arguments and return the values of the embedded Engine,
    and raise VectorDBError with the code the server returns. ``auth`` is a
    ``(user, password)`` pair for HTTP Basic auth; ``timeout`` is in seconds per
    request. One keep-alive connection pool serves every space of the engine.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._transport = Transport(base_url, auth=auth, timeout=timeout)
        self.base_url = self._transport.base_url
        logger.info("opened vector database client for %s", self.base_url)

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        return self._transport.request(method, path, body=body)

    @staticmethod
    def _space_path(db: str, name: str = "") -> str:
        path = f"/dbs/{path_segment(db)}/spaces"
        return f"{path}/{path_segment(name)}" if name else path

    # Databases.

    def create_database(self, name: str) -> dict[str, Any]:
        """Create a database and return ``{"id", "name"}``."""
        return self._request("POST", f"/dbs/{path_segment(name)}")

    def describe_database(self, name: str) -> dict[str, Any]:
        """Return ``{"id", "name"}`` of a database."""
        return self._request("GET", f"/dbs/{path_segment(name)}")

    def list_databases(self) -> list[str]:
        """Return the database names, sorted."""
        return sorted(entry["name"] for entry in self._request("GET", "/dbs") or [])

    def drop_database(self, name: str) -> None:
        """Delete an empty database; DB_NOT_EMPTY (202) if it still has spaces."""
        self._request("DELETE", f"/dbs/{path_segment(name)}")

    # Spaces.

    def create_space(self, db: str, schema: dict[str, Any]) -> RemoteSpace:
        """Create a space from a Vearch space schema and return it."""
        entity = self._request("POST", self._space_path(db), schema)
        return RemoteSpace(self._transport, db, entity["name"])

    def get_space(self, db: str, name: str) -> RemoteSpace:
        """Return the space ``name`` of database ``db``; SPACE_NOT_EXIST (221) if it is missing."""
        info = self._request("GET", self._space_path(db, name))
        return RemoteSpace(self._transport, db, info["space_name"])

    def list_spaces(self, db: str) -> list[str]:
        """Return the space names of database ``db``, sorted."""
        spaces = self._request("GET", self._space_path(db)) or []
        return sorted(entry["space_name"] for entry in spaces)

    def drop_space(self, db: str, name: str) -> None:
        """Delete a space with all its documents."""
        self._request("DELETE", self._space_path(db, name))

    def update_space(self, db: str, name: str, changes: dict[str, Any]) -> RemoteSpace:
        """Apply Vearch's space update (partitions, new fields, renames) and return the space."""
        entity = self._request("PUT", self._space_path(db, name), changes)
        return RemoteSpace(self._transport, db, entity["name"])

    def add_indexes(self, db: str, space: str, indexes: list[dict[str, Any]]) -> None:
        """Add indexes, in Vearch's index shape, to a space."""
        self._request("POST", f"{self._space_path(db, space)}/indexes", {"indexes": indexes})

    def remove_index(self, db: str, space: str, index_name: str) -> None:
        """Remove the index ``index_name`` from a space."""
        self._request("DELETE", f"{self._space_path(db, space)}/indexes/{path_segment(index_name)}")

    # Aliases.

    @staticmethod
    def _alias_path(alias: str, db: str | None = None, space: str | None = None) -> str:
        path = f"/alias/{path_segment(alias)}"
        if db is None or space is None:
            return path
        return f"{path}/dbs/{path_segment(db)}/spaces/{path_segment(space)}"

    def create_alias(self, alias: str, db: str, space: str) -> dict[str, str]:
        """Add a global alias for space ``db/space``, which must exist; return the alias."""
        return self._request("POST", self._alias_path(alias, db, space))

    def update_alias(self, alias: str, db: str, space: str) -> dict[str, str]:
        """Point an existing alias at space ``db/space``, which must exist."""
        return self._request("PUT", self._alias_path(alias, db, space))

    def get_alias(self, alias: str) -> dict[str, str]:
        """Return ``{"name", "db_name", "space_name"}``; ALIAS_NOT_EXIST (240) if unknown."""
        return self._request("GET", self._alias_path(alias))

    def list_aliases(self) -> list[dict[str, str]]:
        """Return every alias, sorted by name."""
        return self._request("GET", "/alias") or []

    def drop_alias(self, alias: str) -> None:
        """Delete an alias; the space stays."""
        self._request("DELETE", self._alias_path(alias))

    def resolve_space(self, db: str, name: str) -> RemoteSpace:
        """Return space ``name`` of ``db``, or the space that alias ``name`` points at.

        As in the embedded engine, an alias counts only when it points into
        ``db``, and otherwise the SPACE_NOT_EXIST error of ``name`` is raised.
        """
        try:
            return self.get_space(db, name)
        except VectorDBError as error:
            if error.code != ErrorCode.SPACE_NOT_EXIST:
                raise
            missing = error
        try:
            alias = self.get_alias(name)
        except VectorDBError as error:
            if error.code != ErrorCode.ALIAS_NOT_EXIST:
                raise
            raise missing from None
        if alias["db_name"] != db:
            raise missing
        return self.get_space(alias["db_name"], alias["space_name"])

    # Lifecycle.

    def close(self) -> None:
        """Close the connection pool; spaces of this engine stop working."""
        self._transport.close()
        logger.info("closed vector database client for %s", self.base_url)

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteEngine({self.base_url!r})"
