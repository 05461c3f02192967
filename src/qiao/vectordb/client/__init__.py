"""Client of a Vearch-compatible vector database server, with the embedded engine's API.

``RemoteEngine`` and ``RemoteSpace`` have the methods, arguments and results
of :class:`qiao.vectordb.Engine` and :class:`qiao.vectordb.Space`, so code
written for one runs on the other. :func:`qiao.vectordb.connect` picks one by
its target: a folder path or an http(s) URL.
"""

from __future__ import annotations

from qiao.vectordb.client.engine import RemoteEngine
from qiao.vectordb.client.space import RemoteSpace

__all__ = ["RemoteEngine", "RemoteSpace"]
