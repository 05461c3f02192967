"""A space on a server, with the document API of the embedded :class:`~qiao.vectordb.Space`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiao.vectordb.client.transport import Transport, error_from_envelope, path_segment

__all__ = ["RemoteSpace"]

DEFAULT_LIMIT = 50
# The server rejects a query with this many document ids or more, so get() sends fewer.
MAX_REQUEST_IDS = 500


def _set_options(body: dict[str, Any], **options: Any) -> dict[str, Any]:
    """Add the options that are set, neither None nor False, to ``body``."""
    for key, value in options.items():
        if value is not None and value is not False:
            body[key] = value
    return body


class RemoteSpace:
    """Documents of one space on a server; same methods and results as the embedded Space.

    Get one from :meth:`RemoteEngine.create_space` or :meth:`RemoteEngine.get_space`.
    The server validates every request, so errors carry the codes of the embedded engine.
    """

    def __init__(self, transport: Transport, db_name: str, name: str) -> None:
        self._transport = transport
        self.db_name = db_name
        self.name = name

    @property
    def doc_num(self) -> int:
        """Number of documents in the space, read from the server."""
        return int(self.describe()["doc_num"])

    def _path(self, suffix: str = "") -> str:
        return f"/dbs/{path_segment(self.db_name)}/spaces/{path_segment(self.name)}{suffix}"

    def _document_request(self, action: str, body: dict[str, Any]) -> Any:
        request = {"db_name": self.db_name, "space_name": self.name, **body}
        return self._transport.request("POST", f"/document/{action}", body=request)

    # Writes.

    def upsert(
        self, documents: list[dict[str, Any]], partitions: list[int | str] | None = None
    ) -> list[str]:
        """Insert or update documents and return their ids, in order."""
        body = _set_options({"documents": documents}, partitions=partitions)
        data = self._document_request("upsert", body)
        ids = []
        for entry in data["document_ids"]:
            code = entry.get("code", 0)
            if code:
                raise error_from_envelope(code, str(entry.get("msg") or ""))
            ids.append(entry["_id"])
        return ids

    def delete(
        self,
        document_ids: list[str] | None = None,
        filters: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        """Delete documents by id or by filter and return the ids deleted."""
        body = _set_options({}, document_ids=document_ids, filters=filters, limit=limit)
        data = self._document_request("delete", body)
        return list(data.get("document_ids") or [])

    def flush(self) -> None:
        """Ask the server to write a snapshot of the space now."""
        self._transport.request(
            "POST", "/index/flush", body={"db_name": self.db_name, "space_name": self.name}
        )

    # Reads.

    def get(
        self,
        ids: Sequence[str],
        fields: Sequence[str] | None = None,
        vector_value: bool = False,
    ) -> list[dict[str, Any]]:
        """Return the documents with ``ids`` in the given order; missing ids are left out.

        Any number of ids works: they go to the server in queries of fewer than 500.
        """
        if isinstance(ids, list | tuple):
            if not ids:
                return []
            batches = [
                list(ids[start : start + MAX_REQUEST_IDS - 1])
                for start in range(0, len(ids), MAX_REQUEST_IDS - 1)
            ]
        else:
            batches = [ids]  # the server rejects it with the engine's message
        documents: list[dict[str, Any]] = []
        for batch in batches:
            # The limit covers every id, should the server apply it to queries by id.
            body = {"document_ids": batch, "vector_value": vector_value}
            if isinstance(batch, list):
                body["limit"] = len(batch)
            if fields is not None:
                body["fields"] = list(fields)
            documents.extend(self._document_request("query", body)["documents"])
        return documents

    def query(
        self,
        document_ids: Sequence[str] | None = None,
        filters: dict[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        limit: int = DEFAULT_LIMIT,
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
    ) -> list[dict[str, Any]]:
        """Return documents by id or the first ``limit`` that match ``filters``."""
        body: dict[str, Any] = {"limit": limit, "vector_value": vector_value}
        _set_options(
            body,
            document_ids=list(document_ids) if isinstance(document_ids, tuple) else document_ids,
            filters=filters,
            fields=list(fields) if isinstance(fields, tuple) else fields,
            partition_id=partition_id,
            get_by_hash=get_by_hash,
            next=next,
            partition_names=partition_names,
            sort=sort,
            page_size=page_size,
            page_num=page_num,
            offset=offset,
        )
        return self._document_request("query", body)["documents"]

    def search(
        self,
        vectors: list[dict[str, Any]],
        filters: dict[str, Any] | None = None,
        limit: int = DEFAULT_LIMIT,
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
    ) -> list[list[dict[str, Any]]]:
        """Return the top ``limit`` documents per query vector, each with ``_id`` and ``_score``."""
        body: dict[str, Any] = {"vectors": vectors, "limit": limit, "vector_value": vector_value}
        _set_options(
            body,
            filters=filters,
            fields=list(fields) if isinstance(fields, tuple) else fields,
            index_params=index_params,
            l2_sqrt=l2_sqrt,
            is_brute_search=is_brute_search or None,
            ranker=ranker,
            partition_names=partition_names,
            sort=sort,
            page_size=page_size,
            page_num=page_num,
            offset=offset,
        )
        return self._document_request("search", body)["documents"]

    # Space information and index maintenance.

    def describe(self, detail: bool = False) -> dict[str, Any]:
        """Return the space as Vearch's space GET response (SpaceInfo) shows it."""
        params = {"detail": "true"} if detail else None
        return self._transport.request("GET", self._path(), params=params)

    def entity(self) -> dict[str, Any]:
        """Return the full Vearch Space entity from the server's space cache."""
        return self._transport.request("GET", f"/cache{self._path()}")

    def indexes_info(self, detail: bool = False) -> dict[str, Any]:
        """Return ``{db_name, space_name, indexes, build_state}``."""
        params = {"detail": "true"} if detail else None
        return self._transport.request("GET", self._path("/indexes"), params=params)

    def index_progress(self) -> tuple[int, int]:
        """Return ``(index_status, n)`` as the embedded Space does: 0/1/2, rows ``[0, n)`` indexed.

        A Qiao server reports both in ``build_state`` of the indexes GET. A
        Vearch server does not, so its space GET gives them instead: the lowest
        partition ``index_status`` and the sum of ``index_num``, which counts
        live documents only and so is below ``n`` once documents were deleted.
        """
        build_state = self.indexes_info().get("build_state")
        if isinstance(build_state, dict) and "index_num" in build_state:
            return int(build_state["index_status"]), int(build_state["index_num"])
        partitions = self.describe().get("partitions") or []
        if not partitions:
            return 2, 0  # INDEXED: a space without partitions has nothing to index
        status = min(int(entry.get("index_status", 0)) for entry in partitions)
        return status, sum(int(entry.get("index_num", 0)) for entry in partitions)

    def rebuild_index(
        self,
        drop_before_rebuild: bool = False,
        limit_cpu: int = 0,
        describe: int = 0,
        partition_id: int | None = None,
    ) -> None:
        """Ask the server to rebuild the vector indexes of the space."""
        body: dict[str, Any] = {
            "db_name": self.db_name,
            "space_name": self.name,
            "drop_before_rebuild": drop_before_rebuild,
            "limit_cpu": limit_cpu,
            "describe": describe,
        }
        if partition_id is not None:
            body["partition_id"] = partition_id
        self._transport.request("POST", "/index/rebuild", body=body)

    def forcemerge(self, partition_id: int | None = None) -> None:
        """Ask the server to merge the segments of the space."""
        body: dict[str, Any] = {"db_name": self.db_name, "space_name": self.name}
        if partition_id is not None:
            body["partition_id"] = partition_id
        self._transport.request("POST", "/index/forcemerge", body=body)

    def __repr__(self) -> str:
        return f"RemoteSpace({self._transport.base_url!r}, {self.db_name!r}/{self.name!r})"
